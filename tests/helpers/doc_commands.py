"""Find every `wavecoder` command a user is shown: README.md, docs/*.md, config comments, and the
examples in each `--help` (found by walking `wavecoder --help` and its subcommands' help).

Pure text handling plus `--help` subprocesses; tests/integration/test_documented_commands.py
runs what this finds. Nothing here knows which commands exist: a new stage, a new eval option or
a new doc page is picked up the day it lands.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SEPARATORS = {"&&", "||", ";", "|"}


@dataclass(frozen=True)
class Documented:
    source: str  # "README.md:42", "wavecoder eval score --help"
    argv: tuple[str, ...]  # after "wavecoder"

    @property
    def text(self) -> str:
        return "wavecoder " + shlex.join(self.argv)


def commands_in_line(line: str) -> list[tuple[str, ...]]:
    """The `wavecoder ...` invocations in one shell line (comments, `&&` chains, and the
    `accelerate launch ... -m wavecoder ...` form); optional `[--flag value]` parts included."""
    line = re.sub(r"\[(-[^\]]*)\]", r"\1", line)  # `[--sample 20]` in an example: take it
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return []
    found: list[tuple[str, ...]] = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        argv = _after_wavecoder(segment)
        if argv:
            found.append(tuple(argv))
        segment = []
    return found


def _after_wavecoder(tokens: list[str]) -> list[str] | None:
    tokens = tokens[1:] if tokens[:1] == ["$"] else tokens
    if tokens[:1] == ["wavecoder"]:
        return tokens[1:]
    for i in range(len(tokens) - 1):  # python -m wavecoder / accelerate launch ... -m wavecoder
        if tokens[i] == "-m" and tokens[i + 1] == "wavecoder":
            return tokens[i + 2 :]
    return None


def is_synopsis(argv: Sequence[str]) -> bool:
    """A usage line (`-i DATA [DATA ...]`, `--benchmark humanevalpack-explain-<lang>`), not an
    example: it cannot be run as written."""
    return not argv or any(
        "..." in t or t.startswith(("[", "{")) or re.search(r"<\w+>", t) for t in argv
    )


def markdown_commands(path: Path, root: Path) -> Iterator[Documented]:
    """Commands in fenced code blocks (with `\\` continuations) and in inline code spans."""
    name = str(path.relative_to(root))
    in_fence = False
    pending = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if raw.lstrip().startswith("```"):
            in_fence, pending = not in_fence, ""
            continue
        if in_fence:
            line = pending + raw.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            spans = [line]
        else:
            spans = re.findall(r"`([^`]+)`", raw)
        for span in spans:
            for argv in commands_in_line(span):
                if not is_synopsis(argv) and (in_fence or len(argv) >= 2):
                    yield Documented(f"{name}:{number}", argv)


def config_commands(path: Path, root: Path) -> Iterator[Documented]:
    """Commands shown in a config file's comments (`#   wavecoder run ... \\` continued)."""
    name = str(path.relative_to(root))
    pending = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text.startswith("#"):
            pending = ""
            continue
        line = pending + text.lstrip("#").strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        for argv in commands_in_line(line):
            if not is_synopsis(argv):
                yield Documented(f"{name}:{number}", argv)


def help_text(executable: str, argv: Sequence[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        [executable, *argv, "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"wavecoder {' '.join(argv)} --help exited {proc.returncode}:\n{proc.stderr}"
        )
    return proc.stdout


def subcommands(help_out: str) -> list[str]:
    """The subcommand names a --help lists under "positional arguments" (argparse's COMMAND
    metavar or its `{a,b,c}` choices line, then one 4-space-indented line per subcommand)."""
    block = re.search(
        r"positional arguments:\n  (?:COMMAND|\{[\w,-]+\})\n(.*?)(?:\n\S|\n\n|\Z)", help_out, re.S
    )
    names: list[str] = []
    for line in (block.group(1) if block else "").splitlines():
        match = re.match(r"^ {4}(\w[\w-]*)", line)
        if match:
            names.append(match.group(1))
    return names


def epilog_commands(help_out: str, source: str) -> Iterator[Documented]:
    """Commands under an `example:` / `examples:` heading of a --help."""
    in_examples = False
    for line in help_out.splitlines():
        if re.match(r"^examples?:\s*$", line):
            in_examples = True
            continue
        if in_examples and not line.strip():
            in_examples = False
        if in_examples:
            for argv in commands_in_line(line):
                yield Documented(source, argv)


def help_commands(executable: str, env: dict[str, str]) -> tuple[list[str], list[Documented]]:
    """(every command path with a --help, the examples they show), walking from the top."""
    paths: list[str] = []
    found: list[Documented] = []
    queue: list[tuple[str, ...]] = [()]
    while queue:
        argv = queue.pop(0)
        out = help_text(executable, argv, env)
        source = " ".join(["wavecoder", *argv, "--help"])
        paths.append(" ".join(argv))
        found += epilog_commands(out, source)
        queue += [(*argv, name) for name in subcommands(out)]
    return paths, found


def page_commands(root: Path) -> list[Documented]:
    """The commands of README.md, CONTRIBUTING.md, docs/*.md and configs/*.yaml (no process)."""
    docs = [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").glob("*.md"))]
    found: list[Documented] = []
    for path in docs:
        if path.is_file():
            found += markdown_commands(path, root)
    for path in sorted((root / "configs").glob("*.yaml")):
        found += config_commands(path, root)
    return found
