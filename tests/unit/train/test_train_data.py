"""Every input format parses; bad records fail with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.train.conftest import alpaca_rows, write_jsonl
from wavecoder.train.data import DataError, read_file, read_inputs


def test_alpaca_jsonl_keeps_fields_and_metadata(tmp_path: Path) -> None:
    records, sources = read_inputs([write_jsonl(tmp_path / "a.jsonl", alpaca_rows(3))])
    assert [r.format for r in records] == ["alpaca"] * 3
    assert records[0].fields["input"] == "x = 0" and records[1].fields["input"] == ""
    assert records[0].meta == {"id": "ex0", "task": "code_generation", "language": "python"}
    assert records[2].where.endswith("a.jsonl:3")
    assert sources[0].records == 3 and len(sources[0].sha256) == 64


def test_alpaca_json_array_reports_the_line_of_each_element(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(alpaca_rows(2), indent=2), encoding="utf-8")
    records, _ = read_file(path)
    assert records[0].where == f"{path}:2"
    bad = alpaca_rows(2)
    bad[1]["output"] = 7
    path.write_text(json.dumps(bad, indent=2), encoding="utf-8")
    second = json.dumps(bad, indent=2).splitlines().index("  {", 2) + 1
    with pytest.raises(DataError, match=rf"a.json:{second}: field 'output' must be a string"):
        read_file(path)


def test_messages_and_prompt_completion_formats(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        {"prompt": "1 + 1 =", "completion": " 2"},
    ]
    records, _ = read_inputs([write_jsonl(tmp_path / "m.jsonl", rows)])
    assert [r.format for r in records] == ["messages", "prompt_completion"]
    assert records[0].fields["messages"][-1] == {"role": "assistant", "content": "yo"}


def test_parquet_input(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(alpaca_rows(4)), path)
    records, _ = read_inputs([tmp_path])
    assert len(records) == 4 and records[3].where == f"{path}[3]"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"instruction": "x"}, "unknown record shape"),
        ({"instruction": "x", "output": "  "}, "the response is empty"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "last message must be the assistant"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, r"messages\[0\] needs a role"),
        ({"prompt": "a", "completion": None}, "'completion' must be a string"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path: Path, row: object, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(alpaca_rows(1)[0]) + "\n\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=rf"bad.jsonl:3: .*{message}"):
        read_inputs([path])


def test_invalid_json_and_missing_inputs(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": \n')
    with pytest.raises(DataError, match="broken.jsonl:2: invalid JSON"):
        read_inputs([path])
    with pytest.raises(DataError, match="no such file or folder"):
        read_inputs([str(tmp_path / "nope.jsonl")])
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported file type"):
        read_file(tmp_path / "x.csv")


def test_hub_dataset_ids_load_through_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub path calls datasets.load_dataset(name, split=...); the network is replaced here."""
    import datasets

    calls: list[tuple[str, str]] = []

    def fake_load(name: str, split: str) -> datasets.Dataset:
        calls.append((name, split))
        return datasets.Dataset.from_list(alpaca_rows(2))

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    records, sources = read_inputs(["someone/code-data:validation"])
    assert calls == [("someone/code-data", "validation")]
    assert records[1].where == "someone/code-data[validation]#1"
    assert sources[0].name == "someone/code-data:validation" and sources[0].records == 2


def test_a_missing_local_path_is_not_taken_for_a_hub_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`datadir/train.jsonl` looks like owner/name, but it names a file: say it is missing
    (it used to wait on the hub)."""
    import datasets

    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datadir").mkdir()
    for missing in ("datadir/train.jsonl", "datadir/train", "./data/x", "data/train.parquet"):
        with pytest.raises(DataError, match=f"{missing}: no such file or folder"):
            read_inputs([missing])


def test_a_save_to_disk_folder_is_read(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(alpaca_rows(3)).save_to_disk(str(tmp_path / "ds"))
    records, sources = read_inputs([tmp_path / "ds"])
    assert [r.fields["output"] for r in records] == [r["output"] for r in alpaca_rows(3)]
    assert sources[0].records == 3
    split = datasets.DatasetDict(
        train=datasets.Dataset.from_list(alpaca_rows(2)),
        test=datasets.Dataset.from_list(alpaca_rows(1)),
    )
    split.save_to_disk(str(tmp_path / "dd"))
    assert len(read_inputs([tmp_path / "dd"])[0]) == 2
    assert len(read_inputs([f"{tmp_path / 'dd'}:test"])[0]) == 1
    with pytest.raises(DataError, match="no split 'valid'"):
        read_inputs([f"{tmp_path / 'dd'}:valid"])
