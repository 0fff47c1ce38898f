"""wavecoder: the WaveCoder pipeline (arXiv 2312.14187) end to end, and beyond.

Importing the package is light: it pulls in neither torch, transformers nor tree-sitter; the
stages import their heavy dependencies when they run.
"""

__version__ = "0.1.0"
