"""Benchmark files: each default is pinned to the verified bytes; downloads are checked (sha256)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.requirements import require_benchmarks
from wavecoder.evals.benchmarks import BENCHMARKS, sha256
from wavecoder.evals.benchmarks.sources import Source, resolve

_PINNED = re.compile(r"/(?:[0-9a-f]{40}|releases/download/v\d+\.\d+\.\d+)/")


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_default_source_is_pinned_to_the_verified_file(name: str) -> None:
    """The sha256 each download must have is the sha256 of the file the self-test verified."""
    source = BENCHMARKS[name].source
    assert _PINNED.search(source.url), f"{name}: {source.url} is not a pinned commit or release"
    local = require_benchmarks() / source.local
    if local.suffix == ".gz" and not source.url.endswith(".gz"):  # a local copy gzipped here
        import gzip
        import hashlib

        assert source.sha256 == hashlib.sha256(gzip.decompress(local.read_bytes())).hexdigest()
    else:
        assert source.sha256 == sha256(local)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_download_is_verified_cached_and_reused_offline(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    url, root = server
    original = require_benchmarks() / "mbpp" / "mbpp.jsonl"
    (root / "mbpp.jsonl").write_bytes(original.read_bytes())
    source = Source("mbpp/mbpp.jsonl", url=f"{url}/mbpp.jsonl", sha256=sha256(original))
    got = resolve(source, None)
    assert got.is_relative_to(tmp_path / "cache") and got.read_bytes() == original.read_bytes()
    (root / "mbpp.jsonl").unlink()  # the server no longer has it: the cache answers
    assert resolve(source, None) == got


def test_a_changed_upstream_file_is_refused_and_not_kept(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    url, root = server
    (root / "data.jsonl").write_text('{"task_id": 1}\n')
    source = Source("data.jsonl", url=f"{url}/data.jsonl", sha256="0" * 64)
    with pytest.raises(ValueError, match="is not the pinned 0000"):
        resolve(source, None)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_unreachable_source_says_how_to_work_offline(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    url, _ = server
    source = Source("x.jsonl", url=f"{url}/missing.jsonl", sha256="0" * 64)
    with pytest.raises(FileNotFoundError, match="pass --data"):
        resolve(source, None)


def test_local_data_wins_and_hub_specs_need_a_revision(tmp_path: Path) -> None:
    source = BENCHMARKS["mbpp"].source
    assert resolve(source, require_benchmarks()) == require_benchmarks() / "mbpp" / "mbpp.jsonl"
    with pytest.raises(FileNotFoundError, match="benchmark file not found"):
        resolve(source, tmp_path)
    with pytest.raises(ValueError, match="hf://OWNER/NAME@REVISION/PATH"):
        resolve(source, Path("hf://bigcode/humanevalpack/data/python/data/humanevalpack.jsonl"))
