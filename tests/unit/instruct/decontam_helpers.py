"""Data the decontamination tests build: planted benchmark copies and clean instructions."""

from __future__ import annotations

import ast
import gzip
import json
import re
import sysconfig
from pathlib import Path

from wavecoder.instruct.decontaminate_core import Item

# realistic clean instructions: everyday functions, none a benchmark solution
CLEAN = [
    (
        "Parse a query string into a dict.",
        "def parse_qs(query):\n    out = {}\n    for part in query.split('&'):\n"
        "        if not part:\n            continue\n"
        "        key, _, value = part.partition('=')\n"
        "        out.setdefault(key, []).append(value)\n    return out\n",
    ),
    (
        "Read a CSV file and return its rows as dicts.",
        "import csv\n\ndef read_rows(path):\n    with open(path, newline='') as fh:\n"
        "        return list(csv.DictReader(fh))\n",
    ),
    (
        "Retry a function with exponential backoff.",
        "import time\n\ndef retry(fn, attempts=5, base=0.1):\n"
        "    for i in range(attempts):\n        try:\n            return fn()\n"
        "        except OSError:\n            time.sleep(base * 2 ** i)\n"
        "    raise RuntimeError('gave up')\n",
    ),
    (
        "Summarise the code.",
        "function debounce(fn, ms) {\n  let timer = null;\n  return (...args) => {\n"
        "    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), ms);\n  };\n}\n",
    ),
]


# HumanEval/26 solved anew (another algorithm, reworded docstring): only embeddings see it
PARAPHRASED = (
    "from typing import List\n\n\ndef remove_duplicates(numbers: List[int]) -> List[int]:\n"
    '    """Remove all elements that occur more than once, keeping the order."""\n'
    "    counts = {}\n    for n in numbers:\n        counts[n] = counts.get(n, 0) + 1\n"
    "    return [n for n in numbers if counts[n] == 1]\n"
)


def humaneval_rows(benchmarks: Path) -> list[dict[str, str]]:
    with gzip.open(benchmarks / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def renamed(code: str) -> str:
    """Every function, assigned name, loop variable and parameter renamed (v0, v1, ...)."""
    tree = ast.parse(code)
    names = sorted(
        {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        | {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
        | {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    )
    for i, name in enumerate(names):
        code = re.sub(rf"\b{name}\b", f"v{i}", code)
    return code


def reformatted(code: str) -> str:
    """Re-indented (2 spaces), spaced around operators, re-quoted, with comments added."""
    lines = []
    for line in code.splitlines():
        stripped = line.lstrip(" ")
        indent = (len(line) - len(stripped)) // 4 * 2
        stripped = stripped.replace(" - ", "-").replace(" + ", "+").replace("'", '"')
        lines.append(" " * indent + stripped + ("  # step" if stripped.startswith("if ") else ""))
    return "# my solution\n" + "\n".join(lines) + "\n"


def planted(benchmarks: Path) -> dict[str, Item]:
    """A verbatim, a renamed and a reformatted copy of HumanEval solutions, inside instructions."""
    rows = {r["task_id"]: r for r in humaneval_rows(benchmarks)}
    verbatim = rows["HumanEval/0"]["prompt"] + rows["HumanEval/0"]["canonical_solution"]
    body = rows["HumanEval/12"]["canonical_solution"]
    sig = "from typing import List, Optional\n\ndef longest(strings: List[str]) -> Optional[str]:\n"
    re_src = rows["HumanEval/26"]["prompt"] + rows["HumanEval/26"]["canonical_solution"]
    return {
        "verbatim": Item(
            "verbatim", f"Check if two numbers are closer than a threshold.\n{verbatim}", verbatim
        ),
        "renamed": Item("renamed", f"Remove duplicates.\n{renamed(re_src)}", renamed(re_src)),
        "reformatted": Item(
            "reformatted", f"Longest string.\n{reformatted(sig + body)}", reformatted(sig + body)
        ),
    }


def clean_items() -> list[Item]:
    return [Item(f"clean-{i}", f"{ins}\n{code}", code) for i, (ins, code) in enumerate(CLEAN)]


def stdlib_items(limit: int, *, modules: int = 60) -> list[Item]:
    """Documented functions of the running Python's standard library as clean instructions."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[Item] = []
    small = [p for p in sorted(root.glob("*.py")) if p.stat().st_size < 40_000]
    for path in small[:modules]:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and ast.get_docstring(node):
                code = ast.get_source_segment(source, node) or ""
                if 50 <= len(code) <= 2000:
                    doc = ast.get_docstring(node) or ""
                    out.append(
                        Item(
                            f"{path.stem}.{node.name}.{node.lineno}",
                            f"{doc.splitlines()[0]}\n{code}",
                            code,
                        )
                    )
        if len(out) >= limit:
            break
    return out[:limit]
