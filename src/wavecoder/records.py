"""Records: the values that cross stage boundaries.

Every record is a frozen dataclass with a lossless JSON round trip (`to_dict` / `from_dict`).
Ids are content hashes: the same input always gives the same key, so a rerun resumes where it
stopped and two copies of one function in two repositories stay two records. A stage never
mutates a record of an earlier stage; what it adds is a small record of its own pointing at ids
(`Selected`, `Rejected`, ...). Large arrays (embeddings) are not records: they sit beside them as
.npy files with an ids file.

Not here: reading and writing files (`wavecoder.store`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

Language = Literal[
    "python",
    "go",
    "java",
    "javascript",
    "typescript",
    "php",
    "ruby",
    "cpp",
    "c",
    "csharp",
    "rust",
    "shell",
]
LANGUAGES: tuple[Language, ...] = get_args(Language)

# Names the sources use for our languages. CodeSearchNet writes `javascript`, HumanEvalPack
# writes `js` in paths and `JavaScript`/`CPP` in task ids, people write `c++` and `golang`.
_ALIASES: dict[str, Language] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "golang": "go",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "c#": "csharp",
    "cs": "csharp",
    "rs": "rust",
    "rb": "ruby",
    "sh": "shell",
    "bash": "shell",
}


def normalize_language(name: str) -> Language:
    """Map any spelling of a language (`JavaScript`, `js`, `CPP`, `c++`, `golang`) to `Language`."""
    key = name.strip().lower()
    if key in LANGUAGES:
        return typing.cast(Language, key)
    if key in _ALIASES:
        return _ALIASES[key]
    known = ", ".join(LANGUAGES)
    raise ValueError(f"unknown language {name!r}; known: {known} (and common aliases)")


def stable_hash(*parts: object, length: int = 16) -> str:
    """Hex sha256 of the JSON encoding of `parts`: stable across runs, machines and Pythons."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


# Line-comment and block-comment syntax by language family, for `normalize_code`.
_HASH_COMMENT = ("python", "ruby", "shell")
_SLASH_COMMENT = ("go", "java", "javascript", "typescript", "cpp", "c", "csharp", "rust", "php")
_STRING = r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'"
_SLASH_RE = re.compile(rf"({_STRING})|//[^\n]*|/\*.*?\*/", re.S)
_TRIPLE = r'''"""(?:\\.|[^\\])*?"""|\'\'\'(?:\\.|[^\\])*?\'\'\''''
_HASH_RE = re.compile(rf"({_TRIPLE}|{_STRING})|#[^\n]*", re.S)
_PHP_RE = re.compile(rf"({_STRING})|//[^\n]*|#[^\n]*|/\*.*?\*/", re.S)
_WS_RE = re.compile(r"\s+")


def normalize_code(code: str, language: Language) -> str:
    """Code with comments removed and whitespace collapsed: two snippets that differ only there
    compare equal. String literals are kept intact (a `#` inside a string is not a comment).

    This is the light, dependency-free normaliser behind `code_hash` (exact dedup). It does not
    remove Python docstrings: they are part of the function as CodeSearchNet stores it.
    """
    if language == "php":
        pattern = _PHP_RE
    elif language in _HASH_COMMENT:
        pattern = _HASH_RE
    elif language in _SLASH_COMMENT:
        pattern = _SLASH_RE
    else:
        pattern = None
    if pattern is not None:
        code = pattern.sub(lambda m: m.group(1) or " ", code)
    return _WS_RE.sub(" ", code).strip()


# --- JSON round trip -------------------------------------------------------------------------

R = TypeVar("R", bound="Record")


class Record:
    """Mixin for frozen dataclasses: `to_dict`, `from_dict`, `to_json`, `from_json`."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        hints = _field_types(cls)  # type: ignore[arg-type]  # classes hash by identity
        unknown = sorted(set(data) - hints.keys())
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        kwargs = {k: _decode(hints[k], v) for k, v in data.items()}
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls: type[R], line: str) -> R:
        return cls.from_dict(json.loads(line))


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field of a record class, computed once per class:
    `get_type_hints` evaluates every annotation string and cost ~1 ms a record when called per
    record (reading 80k records spent two minutes in it)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in get_type_hints(cls).items() if k in names}


def _encode(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(tp: Any, value: Any) -> Any:
    """Rebuild the typed value from its JSON form (tuples, nested records, optionals)."""
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is not type(None):
                return _decode(arg, value)
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        _, vt = get_args(tp)
        return {k: _decode(vt, v) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict(value)
    return value


# --- Corpus records --------------------------------------------------------------------------


def code_id(*, source: str, repo: str, path: str, span: tuple[int, int] | None, code: str) -> str:
    """A `Code` record's id: its content and provenance (the same function in two repos stays
    two records). Apart from `Code.new` so a reader can tell which shard owns a row cheaply."""
    return stable_hash("code", source, repo, path, list(span) if span else None, code)


@dataclass(frozen=True)
class Code(Record):
    """One function or method of raw code.

    `code` follows CodeSearchNet: the function's source as written; its doc comment is kept
    separately in `docstring`. `span` is the 1-based inclusive line range in `path`.
    """

    id: str
    code_hash: str
    language: Language
    code: str
    docstring: str = ""
    func_name: str = ""
    repo: str = ""
    path: str = ""
    span: tuple[int, int] | None = None
    license: str = ""
    source: str = ""

    @classmethod
    def new(
        cls,
        *,
        language: str,
        code: str,
        source: str,
        path: str = "",
        span: tuple[int, int] | None = None,
        docstring: str = "",
        func_name: str = "",
        repo: str = "",
        license: str = "",
    ) -> Code:
        lang = normalize_language(language)
        return cls(
            id=code_id(source=source, repo=repo, path=path, span=span, code=code),
            code_hash=stable_hash("norm", lang, normalize_code(code, lang)),
            language=lang,
            code=code,
            docstring=docstring,
            func_name=func_name,
            repo=repo,
            path=path,
            span=span,
            license=license,
            source=source,
        )


@dataclass(frozen=True)
class Rejected(Record):
    """A record a stage dropped, and why. `detail` says more (e.g. the id it duplicates)."""

    id: str
    stage: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Selected(Record):
    """A pick of the coreset: `rank` 0 is the first centre; `radius` is the covering radius once
    this pick is made (the largest distance from any point to its nearest pick of rank <= this)."""

    code_id: str
    rank: int
    radius: float


# --- Instruction data (the generator / discriminator stages) ---------------------------------

Task = Literal["summarize", "generate", "translate", "repair"]
TASKS: tuple[Task, ...] = get_args(Task)


@dataclass(frozen=True)
class Example(Record):
    """An instruction instance written by the generator from one raw `Code`.

    The four fields are the paper's (`task_name` is kept for analysis, dropped at export).
    `information` is `<noinput>` when the instance has no input. `language` is the raw code's
    language; `target_language` is set for translation only. `raw` is the generator's reply as
    received, kept even when parsing failed. `model` is the generator's identity (the LLM
    client's `identity`), `prompt_version` the task prompt's version. `meta` holds task-specific
    facts as strings, e.g. for repair with an injected bug: `bug_kind`, `bug_line`, `bug_detail`,
    `buggy_code` (the input shown to the generator); the original code is the reference fix.
    `meta["tests"]`, when present, holds unit tests the `verify` stage runs instead of asking
    its test writer (code in the solution's language, docs/verify.md).
    """

    id: str
    code_id: str
    task: Task
    language: Language
    instruction: str
    information: str
    solution: str
    task_name: str = ""
    target_language: Language | None = None
    raw: str = ""
    round: int = 0
    model: str = ""
    prompt_version: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleVerdict(Record):
    rule: str
    answer: Literal["yes", "no"]
    reason: str = ""


@dataclass(frozen=True)
class Verdict(Record):
    """The discriminator's judgement of one `Example`, rule by rule, with its raw reply.

    `accepted` is true only when the overall answer and every rule say yes. `overall` is the
    overall answer as parsed (`""` when the reply could not be parsed: then `accepted` is false).
    `model` is the judge's identity; `round` the generation round the example belongs to.
    """

    example_id: str
    accepted: bool
    rules: tuple[RuleVerdict, ...] = ()
    reasons: str = ""
    raw: str = ""
    overall: Literal["yes", "no", ""] = ""
    model: str = ""
    round: int = 0


# --- Evaluation records ----------------------------------------------------------------------

OutcomeStatus = Literal["pass", "fail", "timeout", "error"]
"""pass: tests passed; fail: tests ran and failed (or did not compile); timeout: past the deadline
twice (retried once, serially); error: the harness could not run it (missing toolchain, ...)."""


@dataclass(frozen=True)
class Problem(Record):
    task_id: str
    benchmark: str
    language: str
    prompt: str
    test: str
    entry_point: str = ""
    canonical_solution: str = ""
    buggy_solution: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion(Record):
    task_id: str
    sample_index: int
    completion: str
    raw: str = ""  # the model's full reply, before post-processing
    # The whole program (evalplus's `solution`), scored as it is instead of prompt + completion.
    solution: str = ""


@dataclass(frozen=True)
class Outcome(Record):
    task_id: str
    sample_index: int
    status: OutcomeStatus
    duration_s: float = 0.0
    stage: str = ""  # the step that decided: "compile", "run", or "" when it passed
    returncode: int | None = None
    stderr_tail: str = ""
    retried: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "pass"


# --- Execution-verified instruction data (the `verify` stage) --------------------------------

VerifyStatus = Literal["pass", "fail", "timeout", "compile_error", "error", "skipped"]
"""pass: the tests ran to their end (and, for repair, the buggy input failed them); fail: a test
failed; timeout: past the deadline twice; compile_error: the program did not build (a Python or
JavaScript SyntaxError included); error: the sandbox could not run it (infrastructure, never the
instance's fault); skipped: not run, `Execution.reason` says why (prose, a language without a
runner, no usable tests)."""


@dataclass(frozen=True)
class ProgramRun(Record):
    """One program (code + tests) in the sandbox: its status, the step that decided (compile /
    run, "" when it passed), the exit status and the ends of both output streams."""

    status: VerifyStatus
    step: str = ""
    returncode: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Execution(Record):
    """The execution check of one `Example`: its tests, the solution's run and, for repair, the
    buggy input's run against the same tests. `status` is the instance's verdict; `reason` says
    why it is not a pass (the status, `repair_buggy_passes`, `repair_fix_<status>`, or why it was
    skipped). `accepted` is the judge's verdict the check ran with (the policy applies to accepted
    instances only; rejected ones are run for the judge-vs-execution agreement). `tests_raw` is
    the test writer's reply as received."""

    example_id: str
    task: Task
    language: str
    status: VerifyStatus
    reason: str = ""
    accepted: bool = True
    tests: str = ""
    tests_source: Literal["instance", "llm", ""] = ""
    tests_raw: str = ""
    tests_model: str = ""
    solution: ProgramRun | None = None
    buggy: ProgramRun | None = None
