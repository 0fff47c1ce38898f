from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from wavecoder.records import Rejected, Selected
from wavecoder.store import AppendLog, RunStore, Shard, StageDir, StoreError, atomic_path


def test_write_and_read_records(tmp_path: Path) -> None:
    sd = StageDir(tmp_path / "s")
    recs = [Selected(code_id=f"c{i}", rank=i, radius=1.0 / (i + 1)) for i in range(3)]
    assert sd.write_records("records", recs) == 3
    assert list(sd.read_records("records", Selected)) == recs
    assert sd.count_records("records") == 3


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    sd = StageDir(tmp_path)
    (tmp_path / "records.jsonl").write_text('{"code_id": "a", "rank": 0, "radius": 0}\n{oops\n')
    with pytest.raises(StoreError, match=r"records.jsonl:2: invalid JSON"):
        list(sd.read_records("records", Selected))
    (tmp_path / "records.jsonl").write_text('{"code_id": "a", "rank": 0}\n')
    with pytest.raises(StoreError, match=r"records.jsonl:1: not a Selected"):
        list(sd.read_records("records", Selected))


def test_append_log_resumes_and_drops_torn_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "log.jsonl"
    with AppendLog(path) as log:
        log.append({"id": "a", "v": 1})
        log.append(Rejected(id="b", stage="x", reason="r"))
    with open(path, "a") as fh:
        fh.write('{"id": "c", "v"')  # a crash mid-line
    with caplog.at_level(logging.WARNING), AppendLog(path) as log:
        assert log.done_keys() == {"a", "b"}
        log.append({"id": "c", "v": 3})
    assert "torn last line" in caplog.text
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c"]


def test_shards_partition_ids_and_readers_see_all_parts(tmp_path: Path) -> None:
    ids = [f"id{i}" for i in range(200)]
    shards = [Shard(i, 3) for i in range(3)]
    owned = [[k for k in ids if s.owns(k)] for s in shards]
    assert sorted(k for o in owned for k in o) == sorted(ids)
    assert all(len(o) > 30 for o in owned)
    for s, keys in zip(shards, owned):
        StageDir(tmp_path, shard=s).write_records(
            "records", [Selected(code_id=k, rank=0, radius=0.0) for k in keys]
        )
    assert sorted(
        r.code_id for r in StageDir(tmp_path).read_records("records", Selected)
    ) == sorted(ids)
    own = StageDir(tmp_path, shard=shards[1]).read_records("records", Selected)
    assert [r.code_id for r in own] == owned[1]


@pytest.mark.parametrize("bad", ["3/3", "1", "a/b", "-1/2"])
def test_bad_shard_spec(bad: str) -> None:
    with pytest.raises(ValueError, match="bad shard"):
        Shard.parse(bad)


def test_rounds(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for r in (2, 0, 1):
        store.stage("generate", round=r).write_json("stats", {"r": r})
    assert store.rounds("generate") == [0, 1, 2]
    assert store.stage("generate", round=1).read_json("stats") == {"r": 1}


def test_forced_clear_of_a_shard_keeps_other_shards(tmp_path: Path) -> None:
    a, b = StageDir(tmp_path, shard=Shard(0, 2)), StageDir(tmp_path, shard=Shard(1, 2))
    a.write_json("stats", {"x": 0})
    b.write_json("stats", {"x": 1})
    a.clear()
    assert a.read_json("stats") is None and b.read_json("stats") == {"x": 1}


def _numbers(sd: StageDir) -> list[str]:
    return sorted(r.id for r in sd.read_records("records", Rejected))


def _write_parts(folder: Path, groups: list[list[str]]) -> None:
    """Parts partitioned by something other than the id hash (as ingest does, by file)."""
    for i, keys in enumerate(groups):
        StageDir(folder, shard=Shard(i, len(groups))).write_records(
            "records", [Rejected(id=k, stage="s", reason="r") for k in keys]
        )


def test_every_record_reaches_exactly_one_shard_whatever_the_upstream_layout(
    tmp_path: Path,
) -> None:
    ids = [f"id{i}" for i in range(60)]
    layouts = {
        "plain": [ids],  # written unsharded below
        "same": [ids[:7], ids[7:40], ids[40:]],  # 3 parts, not by hash
        "other": [ids[:30], ids[30:]],  # 2 parts
    }
    StageDir(tmp_path / "plain").write_records(
        "records", [Rejected(id=k, stage="s", reason="r") for k in ids]
    )
    _write_parts(tmp_path / "same", layouts["same"])
    _write_parts(tmp_path / "other", layouts["other"])
    for name in layouts:
        seen = [k for i in range(3) for k in _numbers(StageDir(tmp_path / name, shard=Shard(i, 3)))]
        assert sorted(seen) == sorted(ids), name  # none lost, none doubled
        assert _numbers(StageDir(tmp_path / name)) == sorted(ids)
    # a reader sharded like its upstream reads its own part whole, not the ids it would own
    assert _numbers(StageDir(tmp_path / "same", shard=Shard(0, 3))) == sorted(ids[:7])
    tagged = list(StageDir(tmp_path / "same", shard=Shard(0, 3)).read_tagged("records", Rejected))
    assert len(tagged) == 60 and sum(mine for _, mine in tagged) == 7
    assert StageDir(tmp_path / "same", shard=Shard(1, 3)).count_records("records") == 33


def test_a_folder_mixing_plain_and_shard_files_is_refused(tmp_path: Path) -> None:
    _write_parts(tmp_path, [["a"], ["b"]])
    StageDir(tmp_path).write_records("records", [Rejected(id="a", stage="s", reason="r")])
    with pytest.raises(StoreError, match="mixed.*--force"):
        list(StageDir(tmp_path).read_records("records", Rejected))
    with pytest.raises(StoreError, match="mixes 2-shard parts and unsharded files"):
        StageDir(tmp_path).layout()


def test_done_only_when_every_shard_is(tmp_path: Path) -> None:
    a, b = StageDir(tmp_path, shard=Shard(0, 2)), StageDir(tmp_path, shard=Shard(1, 2))
    a.mark_done({})
    assert StageDir(tmp_path).completion() == ("partial", [1])
    assert a.is_done() and not b.is_done() and not StageDir(tmp_path).is_done()
    b.mark_done({})
    assert StageDir(tmp_path).completion() == ("done", [])
    assert StageDir(tmp_path, shard=Shard(3, 4)).is_done()  # done as a whole, for any reader
