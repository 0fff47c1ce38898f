"""Every command README.md, docs/*.md, the configs' comments and each `--help` show a user runs
through the installed `wavecoder` executable, in order per page, in a workspace where `make
demo`'s run (`runs/tiny`) and the files the examples name exist.

What it asserts: each command exits 0, or 2 with one line that names what is missing (a hub
download offline, a toolchain): never an argparse usage error, never a traceback. The commands
are found, not listed (tests/helpers/doc_commands.py), so an example added tomorrow runs here
too. Only speed is adjusted: the model is the tiny test model, generation and scoring run on one
or two problems with the local OpenAI-compatible test server, training stops at
`--prepare-only`; every option the example shows is still parsed and used.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers.doc_commands import Documented, help_commands, page_commands
from tests.helpers.openai_server import OpenAIServer, Reply
from tests.helpers.tiny_model import tiny_llama_dir

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO.parent / "shared" / "data" / "benchmarks"
EXECUTABLE = str(Path(sys.executable).with_name("wavecoder"))
TREE = REPO / "tests" / "fixtures" / "corpus" / "tree"
TIMEOUT_S = 240


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", NO_COLOR="1")
    env.update(TRANSFORMERS_OFFLINE="1", OPENAI_API_KEY="sk-test-not-a-real-key")
    env["WAVECODER_CACHE_DIR"] = str(home / "cache")  # never the user's request cache
    env.pop("OPENAI_BASE_URL", None)
    return env


ALPACA = [
    {"instruction": "Add two numbers.", "input": "", "output": "def add(a, b):\n    return a + b"},
    {
        "instruction": "Reverse a list.",
        "input": "xs",
        "output": "def rev(xs):\n    return xs[::-1]",
    },
]


def _csn_file(path: Path) -> None:
    rows = [
        {
            "repo": "octo/demo",
            "path": f"demo/m{i}.py",
            "func_name": f"f{i}",
            "language": "python",
            "partition": "train",
            "code": f'def f{i}(x):\n    """Return x plus {i}, a documented helper."""\n'
            f"    total = x + {i}\n    return total * 1\n",
            "docstring": f"Return x plus {i}.",
        }
        for i in range(40)
    ]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace every page starts from: the demo's run and the files examples name."""
    ws = tmp_path_factory.mktemp("docs") / "ws"
    ws.mkdir()
    shutil.copytree(REPO / "configs", ws / "configs")
    for name in ("data.jsonl", "codeocean.jsonl"):
        (ws / name).write_text("".join(json.dumps(r) + "\n" for r in ALPACA))
    samples = [{"task_id": f"HumanEval/{i}", "completion": "    return None\n"} for i in range(164)]
    (ws / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    # the bigcode harness's generations.json for MBPP's 500 test problems, in order
    (ws / "generations.json").write_text(json.dumps([["def f():\n    return None\n"]] * 500))
    _csn_file(ws / "python_train_0.jsonl.gz")
    shutil.copytree(TREE, ws / "path" / "to" / "repo")
    shutil.copytree(TREE, ws / "home" / "src" / "some-checkout")
    # the demo's config on a small corpus (the stdlib examples still read the whole stdlib)
    tiny = ws / "configs" / "tiny.yaml"
    config = yaml.safe_load(tiny.read_text())
    config["ingest"]["sources"] = ["path/to/repo", "python_train_0.jsonl.gz"]
    # offline: a teacher address that refuses at once (the pages' runs get the local test
    # server: endpoints are outside fingerprints), decontaminate's references from the shared
    # files and hashed vectors
    for role in ("generate", "judge"):
        config[role]["llm"]["base_url"] = "http://127.0.0.1:9/v1"
    config["decontaminate"].update(data=str(BENCHMARKS), embedder={"backend": "hashing"})
    tiny.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = _run(["run", "configs/tiny.yaml", "-q"], ws)
    assert proc.returncode == 0, proc.stderr
    # the benchmark solutions' MiniLM vectors into the workspace's cache once (minutes on 2
    # cores), as a user's second decontaminate finds them: every page copies the cache
    proc = _run(["decontaminate", "-i", "data.jsonl", "-o", "warm", "--data", str(BENCHMARKS)], ws)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(ws / "warm")
    # CONFIG in a page: a user's experiment, with instruction data to train on
    experiment = tiny.read_text().replace("run_dir: runs/tiny", "run_dir: runs/experiment")
    experiment += "\ntrain:\n  data: [data.jsonl]\n  base_model: tiny_model\n  recipe: tiny-cpu\n"
    (ws / "configs" / "experiment.yaml").write_text(experiment)
    shutil.copytree(ws / "runs" / "tiny" / "dedup", ws / "runs" / "x" / "dedup")  # docs/selection
    (ws / "tiny_model").symlink_to(tiny_llama_dir(tmp_path_factory))
    return ws


def _run(argv: list[str], ws: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXECUTABLE, *argv],
        cwd=ws,
        env=_env(ws / "home"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


PLACEHOLDERS = {"CONFIG": "configs/experiment.yaml", "RUN": "runs/tiny"}


def fast(argv: tuple[str, ...], ws: Path, url: str) -> list[str]:
    """The same command on tiny inputs: placeholders filled, the test model, few problems."""
    out = [PLACEHOLDERS.get(t, t) for t in argv]
    out = [str(ws / "home") + t[1:] if t.startswith("~/") else t for t in out]
    for flag, value in (("--model", "tiny"), ("--base-url", url), ("--base-model", "tiny_model")):
        out = [value if i and out[i - 1] == flag else t for i, t in enumerate(out)]
    command = out[:2] if out[:1] == ["eval"] else out[:1]
    data = str(BENCHMARKS)
    if command == ["train"] and "--prepare-only" not in out:
        out.append("--prepare-only")
    for flag, most in (("-n", 2), ("--n-samples", 2), ("--sample", 1)):  # fewer samples
        out = [_at_most(t, most) if i and out[i - 1] == flag else t for i, t in enumerate(out)]
    if command == ["eval", "generate"]:
        out += ["--limit", "1", "--max-tokens", "16"]
    if command == ["eval", "selftest"]:
        out += ["--sample", "1", *([] if "--benchmark" in out else ["--benchmark", "humaneval"])]
    if command[0] == "eval" and "--data" not in out:
        out += ["--data", data]
    if command == ["run"]:  # only the stages the command runs use these
        out += [
            "train.base_model=tiny_model",
            "train.recipe=tiny-cpu",
            "eval.benchmarks=[humaneval]",
            "eval.limit=1",
            "eval.max_tokens=16",
            f"eval.data={data}",
            # the teacher is the local test server, never api.openai.com (endpoints are not
            # part of a stage's fingerprint, so the template's finished run stays current)
            f"generate.llm.base_url={url}",
            f"judge.llm.base_url={url}",
            f"verify.llm.base_url={url}",
        ]
    if command == ["decontaminate"] and "--data" not in out:
        out += ["--data", data]
    return out


def _at_most(value: str, most: int) -> str:
    return str(min(int(value), most)) if value.isdigit() else value


def _pages(
    documented: list[Documented], seen: set[tuple[str, ...]] | None = None
) -> dict[str, list[Documented]]:
    """Commands grouped by the page (file or --help) that shows them, in the page's order; a
    command shown on several pages runs on the first (a help epilog repeats the README)."""
    pages: dict[str, list[Documented]] = defaultdict(list)
    seen = set() if seen is None else seen
    for d in documented:
        if d.argv not in seen:
            seen.add(d.argv)
            pages[d.source.split(":")[0]].append(d)
    return dict(pages)


FILE_COMMANDS = page_commands(REPO)
PAGES = _pages(FILE_COMMANDS)


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        srv.responder = lambda body: Reply.text("    return None\n")
        yield srv


def _verdict(proc: subprocess.CompletedProcess[str]) -> str | None:
    """None when the run is acceptable, else why not."""
    err = proc.stderr
    if "Traceback (most recent call last)" in err:
        return "traceback"
    if proc.returncode == 0:
        return None
    if "usage: wavecoder" in err or "unrecognized arguments" in err:
        return "the command does not parse"
    lines = [x for x in err.strip().splitlines() if ": error: " in x]
    if proc.returncode == 2 and lines and lines[-1].startswith("wavecoder"):
        return None
    return f"exit {proc.returncode} without a one-line error"


def _run_page(docs: list[Documented], template: Path, url: str, tmp_path: Path) -> list[str]:
    """Run one page's commands in order in a fresh copy of the workspace; the failures."""
    ws = tmp_path / "ws"
    shutil.copytree(template, ws, symlinks=True)
    if BENCHMARKS.is_dir() and not (tmp_path / "shared").exists():  # ../shared/data/benchmarks
        (tmp_path / "shared" / "data").mkdir(parents=True)
        (tmp_path / "shared" / "data" / "benchmarks").symlink_to(BENCHMARKS)
    failures = []
    for doc in docs:
        argv = fast(doc.argv, ws, url)
        start = time.monotonic()
        proc = _run(argv, ws)
        why = _verdict(proc)
        if not why and proc.returncode == 0 and argv[0] == "run" and "eval" in argv:
            why = None if "eval results" in proc.stdout else "no eval results table printed"
        last = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
        seconds = time.monotonic() - start
        print(f"{seconds:5.1f}s exit {proc.returncode} {doc.source}: {doc.text} {last}")
        if why:
            tail = "\n    ".join(proc.stderr.strip().splitlines()[-6:])
            failures.append(f"{doc.source}: {doc.text}\n  ran: {argv}\n  {why}:\n    {tail}")
    shutil.rmtree(ws)
    return failures


@pytest.mark.parametrize("page", sorted(PAGES))
def test_documented_commands_run(
    page: str, template: Path, server: OpenAIServer, tmp_path: Path
) -> None:
    failures = _run_page(PAGES[page], template, server.url, tmp_path)
    assert not failures, "\n".join(failures)


def test_help_examples_run(template: Path, server: OpenAIServer, tmp_path: Path) -> None:
    """Every --help reachable from `wavecoder --help` (new commands included) and its examples;
    those a page above already ran are not run again."""
    paths, found = help_commands(EXECUTABLE, _env(Path.home()))
    sources = {d.source for d in found}
    for command in ("eval score", "eval generate", "eval selftest", "run", "train", "select"):
        assert command in paths
        assert f"wavecoder {command} --help" in sources, f"`{command} --help` shows no example"
    for command in paths:
        assert f"wavecoder {command} --help".replace("  ", " ") in sources or command in (
            "",
            "eval",
        ), f"`wavecoder {command} --help` shows no example"
    pages = _pages(found, seen={d.argv for d in FILE_COMMANDS})
    failures = []
    for i, (_, docs) in enumerate(sorted(pages.items())):
        failures += _run_page(docs, template, server.url, tmp_path / str(i))
    assert not failures, "\n".join(failures)
