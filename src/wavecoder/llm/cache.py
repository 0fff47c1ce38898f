"""The request cache: sqlite (WAL), one row per (namespace, request hash).

The key hashes the backend, the model's identity and the whole request (messages or prompt,
sampling parameters, seed, response format) but not the caller's `key`, so a rerun, a crash
or a changed parser replays finished calls for free. Only genuine model output is stored
(`CACHEABLE` statuses); errors and malformed bodies are retried on the next run. Several
processes may write one file at once (WAL plus a busy timeout; the one-time setup runs under an
advisory lock on a `.lock` file beside it, because sqlite answers "database is locked" at once,
without waiting, when several connections switch a fresh file to WAL together). What it never
stores: API keys, headers, base URLs. Not here: deciding what to send (that is `client.py`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

from wavecoder.llm.base import CACHEABLE, Request, Response

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    identity TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""


def default_cache_path() -> Path:
    """`llm.sqlite` in wavecoder's cache folder (`$WAVECODER_CACHE_DIR`, see `wavecoder.paths`)."""
    from wavecoder.paths import cache_dir

    return cache_dir() / "llm.sqlite"


#: Filesystem types where sqlite's WAL (shared memory) and locks are unsafe across machines.
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "ceph", "glusterfs",
              "beegfs", "9p", "fuse")  # fmt: skip


def network_filesystem(path: Path, mounts: str | None = None) -> str | None:
    """The type of the network filesystem `path` lies on (from /proc/mounts), else None."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8")
        except OSError:
            return None  # not Linux: nothing to tell
    target = str(Path(path).resolve())
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    base = kind.split(".", 1)[0]
    return kind if base in NETWORK_FS else None


def request_hash(backend: str, identity: str, request: Request) -> str:
    """A stable hex digest of everything that determines the reply."""
    blob = json.dumps(
        {"backend": backend, "identity": identity, "request": request.payload()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A sqlite-backed map from request hash to response, scoped by namespace.

    Safe to share between threads of one process (a lock) and between processes (WAL).
    Each `put` commits at once (or in the same event-loop turn), so a crash loses at most the
    replies in flight.
    """

    def __init__(self, path: Path, *, namespace: str) -> None:
        self.path = Path(path)
        self.namespace = namespace
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = str(self.path.resolve())
        self._db, self._lock = _open_shared(self._key, self.path)
        self._closed = False

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        """Cached responses by hash (marked `cached=True`, caller's key left empty)."""
        found: dict[str, Response] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, response FROM responses WHERE namespace=? AND key IN ({marks})",
                    [self.namespace, *chunk],
                ).fetchall()
                for key, blob in rows:
                    found[key] = replace(Response.from_dict(json.loads(blob)), cached=True)
        return found

    def put(
        self, key: str, identity: str, request: Request, response: Response, *, commit: bool = True
    ) -> bool:
        """Store a reply if it is genuine model output; returns whether it was stored.

        With `commit=False` the caller commits soon after (`commit()`), so replies finished in
        the same event-loop turn share one transaction.
        """
        if response.status not in CACHEABLE:
            return False
        blob = replace(response, key="", cached=False).to_json()
        req = json.dumps(request.payload(), ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (self.namespace, key, identity, req, blob, time.time()),
            )
            if commit:
                self._db.commit()
        return True

    def commit(self) -> None:
        with self._lock:
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM responses WHERE namespace=?", (self.namespace,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._db.commit()
        _release_shared(self._key)


# One connection per cache file and process, shared by every client of it (the generator and
# the judge of one run): a client defers its commit to the next event-loop turn, and a second
# connection writing in the same thread meanwhile would wait on that open transaction forever
# ("database is locked" after the timeout).
_SHARED: dict[str, tuple[sqlite3.Connection, threading.Lock, list[int]]] = {}
_SHARED_LOCK = threading.Lock()


def _open_shared(key: str, path: Path) -> tuple[sqlite3.Connection, threading.Lock]:
    with _SHARED_LOCK:
        if key in _SHARED:
            db, lock, refs = _SHARED[key]
            refs[0] += 1
            return db, lock
        db = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
        with open(path.with_name(path.name + ".lock"), "a") as flock:
            fcntl.flock(flock, fcntl.LOCK_EX)
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.commit()
        db.execute("PRAGMA synchronous=NORMAL")
        _SHARED[key] = (db, threading.Lock(), [1])
        return db, _SHARED[key][1]


def _release_shared(key: str) -> None:
    with _SHARED_LOCK:
        db, _, refs = _SHARED[key]
        refs[0] -= 1
        if refs[0] == 0:
            del _SHARED[key]
            db.close()
