"""The installed `wavecoder` executable: options and overrides in any order, exit codes of
ordinary mistakes, one-line errors (issue 14, items 1 and 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.executable import one_line_error, wavecoder

TREE = Path(__file__).parents[2] / "fixtures" / "corpus" / "tree"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of ingest -> filter on the fixture tree, through `wavecoder run`."""
    root = tmp_path_factory.mktemp("cli")
    cfg = root / "cfg.yaml"
    cfg.write_text(f"run_dir: {root / 'run'}\nstop_after: filter\ningest:\n  sources: [{TREE}]\n")
    proc = wavecoder("run", cfg, "-q", "filter.min_chars=10")
    assert proc.returncode == 0, proc.stderr
    return root


def _config(stage_dir: Path) -> dict[str, object]:
    fp = json.loads((stage_dir / "fingerprint.json").read_text())
    return fp["config"][fp["stage"]]  # type: ignore[no-any-return]


def test_stage_command_takes_overrides_before_between_and_after_options(
    run_dir: Path, tmp_path: Path
) -> None:
    ingest = run_dir / "run" / "ingest"
    proc = wavecoder(
        "filter",
        "max_chars=900",
        "-i",
        ingest,
        "min_chars=10",
        "-o",
        tmp_path / "f",
        "-q",
        "drop_tests=true",
    )
    assert proc.returncode == 0, proc.stderr
    cfg = _config(tmp_path / "f")
    assert (cfg["max_chars"], cfg["min_chars"], cfg["drop_tests"]) == (900, 10, True)


def test_select_reads_two_inputs_after_one_i(run_dir: Path, tmp_path: Path) -> None:
    """`wavecoder select -i A B -o OUT budget=2 per_language=true` (docs/selection.md's shape)."""
    filt = run_dir / "run" / "filter"
    assert wavecoder("embed", "-i", filt, "-o", tmp_path / "e", "-q").returncode == 0
    proc = wavecoder(
        "select",
        "-i",
        filt,
        tmp_path / "e",
        "-o",
        tmp_path / "s",
        "budget=2",
        "per_language=true",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert _config(tmp_path / "s")["per_language"] is True


def test_run_takes_overrides_after_force(run_dir: Path) -> None:
    cfg = run_dir / "cfg.yaml"
    proc = wavecoder("run", cfg, "--force", "filter", "filter.min_chars=20", "-q", "--to", "filter")
    assert proc.returncode == 0, proc.stderr
    assert _config(run_dir / "run" / "filter")["min_chars"] == 20


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "{cfg}", "--from", "filtr"], "--from filtr: not a stage"),
        (["run", "{cfg}", "--force", "nosuch"], "--force nosuch: not a stage"),
        (["run", "{cfg}", "--from", "select", "--to", "filter"], "--from select comes after"),
        (["show", "{run}", "nosuchstage"], "nosuchstage: not a stage"),
        (["show", "{root}/nosuch", "filter"], "no such run directory"),
        (["dedup", "-i", "{run}/filter", "-o", "{root}/d", "--shard", "0/2"], "cannot be sharded"),
        (["status", "{root}/nosuch"], "no such run directory"),
    ],
)
def test_usage_mistakes_exit_2_with_one_line(run_dir: Path, argv: list[str], says: str) -> None:
    names = {"cfg": str(run_dir / "cfg.yaml"), "run": str(run_dir / "run"), "root": str(run_dir)}
    proc = wavecoder(*[a.format(**names) for a in argv])
    assert proc.returncode == 2, proc.stderr
    assert says in one_line_error(proc)


def test_show_n_must_be_positive(run_dir: Path) -> None:
    proc = wavecoder("show", run_dir / "run", "filter", "-n", "-1")
    assert proc.returncode == 2 and "must be at least 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stale_single_stage_names_a_flag_it_accepts(run_dir: Path, tmp_path: Path) -> None:
    ingest = run_dir / "run" / "ingest"
    assert wavecoder("filter", "-i", ingest, "-o", tmp_path / "f", "-q").returncode == 0
    proc = wavecoder("filter", "-i", ingest, "-o", tmp_path / "f", "max_chars=700")
    assert proc.returncode == 3
    line = one_line_error(proc)
    assert "filter.max_chars" in line and "rerun with --force" in line
    assert "--force filter" not in line
    again = wavecoder("filter", "-i", ingest, "-o", tmp_path / "f", "max_chars=700", "--force")
    assert again.returncode == 0, again.stderr


def test_ingest_input_mistakes_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"code": "def f():\\n    return 1", "language": "python"}\n{oops\n')
    proc = wavecoder("ingest", "-i", bad, "-o", tmp_path / "a", "strict=true")
    assert proc.returncode == 2
    assert "bad.jsonl:2: invalid JSON" in one_line_error(proc)
    proc = wavecoder("ingest", "-i", "stdlib", "-o", tmp_path / "b", "packages=[nosuchpkg]")
    assert proc.returncode == 2
    assert "ingest.packages: package 'nosuchpkg'" in one_line_error(proc)
    proc = wavecoder("ingest", "-i", tmp_path / "missing", "-o", tmp_path / "c")
    assert proc.returncode == 2 and "does not exist" in one_line_error(proc)
