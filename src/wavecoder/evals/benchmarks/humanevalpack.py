"""HumanEvalPack (bigcode/octopack) in six languages: Synthesize, Fix (tests variant) and Explain.

Program assembly follows the bigcode-evaluation-harness so numbers are comparable:
- the completion continues `prompt` (Synthesize) or `declaration` (Fix, Explain stage 2);
- Python gets the harness's import header, C++ its missing standard includes;
- Go: `test_setup`, then an import block for the helper packages the code uses (outside `//`
  comment lines) that `test_setup` lacks, then the prefix without its own `import` block;
- everything else: prefix + completion + "\n" + test (`test` already calls itself).
"""

from __future__ import annotations

from pathlib import Path

from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.types import Problem

DIRS = {
    "python": "python",
    "javascript": "js",
    "java": "java",
    "go": "go",
    "cpp": "cpp",
    "rust": "rust",
}

PYTHON_HEADER = (
    "import math\nimport re\nimport sys\nimport copy\nimport datetime\nimport itertools\n"
    "import collections\nimport heapq\nimport statistics\nimport functools\nimport hashlib\n"
    "import numpy\nimport numpy as np\nimport string\n"
    "from typing import *\nfrom collections import *\n"
)
CPP_INCLUDES = (
    "#include<stdlib.h>",
    "#include<algorithm>",
    "#include<math.h>",
    "#include<stdio.h>",
    "#include<vector>",
    "#include<string>",
    "#include<climits>",
    "#include<cstring>",
    "#include<iostream>",
)
GO_HELPERS = (
    "math",
    "strings",
    "fmt",
    "strconv",
    "time",
    "bytes",
    "regexp",
    "sort",
    "math/rand",
    "crypto/md5",
)
_EXTRA_FIELDS = (
    "declaration",
    "import",
    "test_setup",
    "instruction",
    "docstring",
    "signature",
    "example_test",
)


def load(path: Path, benchmark: str, language: str) -> list[Problem]:
    problems = []
    for row in read_rows(path):
        extra = {k: str(row[k]) for k in _EXTRA_FIELDS if k in row and row[k] is not None}
        problems.append(
            Problem(
                task_id=row["task_id"],
                benchmark=benchmark,
                language=language,
                prompt=row["prompt"],
                test=row["test"],
                entry_point=row["entry_point"],
                canonical_solution=row["canonical_solution"],
                buggy_solution=row.get("buggy_solution", ""),
                extra=extra,
            )
        )
    return problems


def prefix(problem: Problem, task: str) -> str:
    """What the completion continues: the prompt (with docstring) or the bare declaration."""
    return problem.prompt if task == "synthesize" else problem.extra["declaration"]


def program(problem: Problem, completion: str, task: str) -> str:
    head = prefix(problem, task)
    lang = problem.language
    if lang == "python":
        return PYTHON_HEADER + head + completion + "\n" + problem.test + "\n"
    if lang == "cpp":
        includes = "".join(s + "\n" for s in CPP_INCLUDES if s not in head)
        return includes + "\n" + head + completion + "\n" + problem.test
    if lang == "go":
        return _go_program(problem, head, completion)
    return head + completion + "\n" + problem.test


def _go_program(problem: Problem, head: str, completion: str) -> str:
    setup = problem.extra.get("test_setup", "")
    head = head.replace(problem.extra.get("import", ""), "")
    code_lines = [line for line in completion.split("\n") if not line.lstrip().startswith("//")]
    code = "\n".join(code_lines)
    used = [pkg for pkg in GO_HELPERS if pkg not in setup and pkg.split("/")[-1] + "." in code]
    imports = "import (\n" + "".join(f'    "{pkg}"\n' for pkg in used) + ")\n" if used else ""
    return setup + "\n" + imports + head + completion + "\n" + problem.test
