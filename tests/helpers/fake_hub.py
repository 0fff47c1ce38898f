"""A local stand-in for the Hugging Face Hub's HTTP API: just what a dataset push uses.

Serves, on 127.0.0.1, the endpoints `huggingface_hub.HfApi` calls to create a repository and
commit small files without xet or LFS (`HF_HUB_DISABLE_XET`): `POST /api/repos/create`,
`POST /api/validate-yaml` (the card's metadata, checked a little),
`POST /api/datasets/{repo}/preupload/{rev}` (every file "regular", sent inline) and
`POST /api/datasets/{repo}/commit/{rev}` (NDJSON: a header, then one base64 file a line). It
keeps the repositories, their files and every request's Authorization header, so a test can
check what arrived and with which token. Test double only: never used by the package.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeHub:
    url: str = ""
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {visibility, type}
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # id -> path -> bytes
    commits: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)


_PRE = re.compile(r"^/api/datasets/([^/]+/[^/]+)/preupload/([^/]+)$")
_COMMIT = re.compile(r"^/api/datasets/([^/]+/[^/]+)/commit/([^/]+)$")


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hub.auth.append(self.headers.get("Authorization", ""))
            path = self.path.split("?")[0]
            if path == "/api/repos/create":
                req = json.loads(body)
                repo = f"{req.get('organization')}/{req['name']}"
                info = {"visibility": req.get("visibility", "public"), "type": req["type"]}
                hub.repos.setdefault(repo, info)
                hub.files.setdefault(repo, {})
                return self._reply(200, {"url": f"{hub.url}/datasets/{repo}"})
            if path == "/api/validate-yaml":
                errors = _card_errors(json.loads(body)["content"])
                return self._reply(400 if errors else 200, {"errors": errors, "warnings": []})
            if m := _PRE.match(path):
                files = json.loads(body)["files"]
                modes = [
                    {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                    for f in files
                ]
                return self._reply(200, {"files": modes, "commitOid": "0" * 40})
            if m := _COMMIT.match(path):
                repo = m.group(1)
                if repo not in hub.repos:
                    return self._reply(404, {"error": f"Repository {repo} not found"})
                lines = [json.loads(line) for line in body.decode().splitlines() if line]
                header = next(x["value"] for x in lines if x["key"] == "header")
                for x in lines:
                    if x["key"] == "file":
                        content = base64.b64decode(x["value"]["content"])
                        hub.files[repo][x["value"]["path"]] = content
                hub.commits.append({"repo": repo, "revision": m.group(2), **header})
                oid = f"{len(hub.commits):040x}"
                return self._reply(
                    200, {"commitUrl": f"{hub.url}/datasets/{repo}/commit/{oid}", "commitOid": oid}
                )
            return self._reply(404, {"error": f"no route {path}"})

    return Handler


def _card_errors(card: str) -> list[dict[str, str]]:
    """A little of the hub's card check: YAML front matter, a licence, well-formed configs."""
    import yaml

    m = re.match(r"---\n(.*?)\n---\n", card, re.S)
    meta = yaml.safe_load(m.group(1)) if m else None
    if not isinstance(meta, dict):
        return [{"message": "README.md has no YAML metadata"}]
    errors = [] if isinstance(meta.get("license"), str) else [{"message": "license missing"}]
    for cfg in meta.get("configs", []):
        files = cfg.get("data_files")
        if not cfg.get("config_name") or not files or not all("path" in f for f in files):
            errors.append({"message": f"bad config {cfg}"})
    return errors


@contextmanager
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
