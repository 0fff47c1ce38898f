from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.core.toy_stages import TOY_STAGES
from wavecoder import cli
from wavecoder import pipeline as pl


def _commands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return list(sub.choices)  # type: ignore[union-attr]


def test_top_help_lists_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for spec in pl.STAGES:
        assert spec.name in out
    for name in ("run", "status", "show", "train", "eval"):
        assert name in out


@pytest.mark.parametrize(
    "command", ["run", "status", "show", "train", "eval", *[s.name for s in pl.STAGES]]
)
def test_every_command_help_has_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_commands_cover_stages() -> None:
    assert {s.name for s in pl.STAGES} <= set(_commands())


@pytest.fixture
def toy_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(pl, "STAGES", TOY_STAGES)
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"run_dir: {tmp_path / 'run'}\ncount:\n  n: 6\n  drop_multiples_of: 3\n")
    assert cli.main(["run", str(cfg), "-q"]) == 0
    return tmp_path


def test_status_explains_a_run(toy_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", str(toy_run / "run")]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert lines["count"][1:5] == ["done", "4", "2", "match"]
    assert lines["square"][1:5] == ["done", "4", "0", "match"]


def test_status_flags_a_stale_stage(toy_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = toy_run / "run" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("drop_multiples_of: 3", "drop_multiples_of: 2"))
    cli.main(["status", str(toy_run / "run")])
    assert "stale (count.drop_multiples_of)" in capsys.readouterr().out


def test_rerun_with_changed_override_exits_3(
    toy_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", str(toy_run / "toy.yaml"), "count.n=7", "-q"])
    assert code == 3
    assert "count.n" in capsys.readouterr().err
    assert cli.main(["run", str(toy_run / "toy.yaml"), "count.n=7", "--force", "count", "-q"]) == 0


def test_show_records_and_rejected(toy_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", str(toy_run / "run"), "count", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("── count records") == 2 and '"n1"' in out
    cli.main(["show", str(toy_run / "run"), "count", "--rejected"])
    assert "reasons: multiple=2" in capsys.readouterr().out


def test_bad_config_key_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pl, "STAGES", TOY_STAGES)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("count:\n  nn: 3\n")
    assert cli.main(["run", str(cfg)]) == 2
    assert "bad.yaml: unknown config key(s): count.nn" in capsys.readouterr().err


def test_standalone_stage_writes_a_stage_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pl, "STAGES", TOY_STAGES)
    monkeypatch.setattr(cli.pl, "STAGES", TOY_STAGES)
    assert cli.main(["count", "-o", str(tmp_path / "c"), "n=4", "-q"]) == 0
    assert cli.main(["square", "-i", str(tmp_path / "c"), "-o", str(tmp_path / "s"), "-q"]) == 0
    for name in ("fingerprint.json", "records.jsonl", "stats.json", "done.json"):
        assert (tmp_path / "s" / name).exists()
    assert cli.main(["square", "-o", str(tmp_path / "t")]) == 2
    assert "give one -i per input" in capsys.readouterr().err


def test_status_marks_stages_past_stop_after(tmp_path: Path) -> None:
    from wavecoder.show import status_rows

    (tmp_path / "config.yaml").write_text("run_dir: x\nstop_after: filter\n")
    states = {row[0]: row[1] for row in status_rows(tmp_path)}
    assert states["filter"] == "pending"
    assert states["train"] == states["eval"] == "pending (after stop_after: filter)"


def test_overrides_may_follow_options(tmp_path: Path) -> None:
    """`wavecoder run CONFIG --force S key=value` (the run --help example): argparse alone
    stops reading overrides at the first option and refused the rest."""
    parser = cli.build_parser()
    args = cli.parse(parser, ["run", "c.yaml", "a.b=1", "--force", "select", "select.budget=50"])
    assert args.overrides == ["a.b=1", "select.budget=50"] and args.force == ["select"]
    args = cli.parse(parser, ["filter", "-i", "x", "-o", "y", "--seed", "3", "max_chars=10"])
    assert args.overrides == ["max_chars=10"] and args.seed == 3
    with pytest.raises(SystemExit):
        cli.parse(parser, ["status", "runs/x", "a=1"])  # status takes no overrides
    with pytest.raises(SystemExit):
        cli.parse(parser, ["run", "c.yaml", "--force", "select", "--bogus"])


def test_a_stage_command_with_other_sources_into_a_finished_folder_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest -i A -o OUT`, then `ingest -i B -o OUT`: B's code must not pass for A's output."""
    tree = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "tree"
    out = tmp_path / "ingest"
    assert cli.main(["ingest", "-i", str(tree / "lib"), "-o", str(out)]) == 0
    first = (out / "records.jsonl").read_text()
    assert cli.main(["ingest", "-i", str(tree / "lib"), "-o", str(out)]) == 0  # same: skipped
    assert cli.main(["ingest", "-i", str(tree / "web"), "-o", str(out)]) == 3
    assert "paths" in capsys.readouterr().err
    assert (out / "records.jsonl").read_text() == first
