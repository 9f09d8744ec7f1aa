"""A stand-in for the Hugging Face hub on 127.0.0.1, serving one directory as a model repo.

It answers the calls `huggingface_hub.snapshot_download` makes: the revision's info, the
repo's file tree, and `resolve` (HEAD and GET) for each file, with the headers the client reads.
It can also refuse as the hub does for gated and unknown repos.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves `directory` as the model `repo_id`; `mode` is `ok`, `gated` or `missing`."""

    def __init__(self, repo_id: str, directory: Path, mode: str = "ok") -> None:
        self.repo_id = repo_id
        self.mode = mode
        self.files = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint to give the client (`HF_ENDPOINT`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _tree(self) -> list[dict[str, object]]:
        return [
            {
                "type": "file",
                "oid": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                "size": len(data),
                "path": name,
            }
            for name, data in self.files.items()
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                hub.requests.append(f"{self.command} {self.path}")

            def _refuse(self) -> bool:
                if hub.mode == "gated":
                    self._send(403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"})
                    return True
                if hub.mode == "missing":
                    self._send(404, b'{"error": "not found"}', {"X-Error-Code": "RepoNotFound"})
                    return True
                return False

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], head: bool = False
            ) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, payload: object) -> None:
                self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

            def _route(self, head: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                api = f"/api/models/{hub.repo_id}"
                if self._refuse():
                    return
                if path.startswith(f"{api}/revision/"):
                    siblings = [{"rfilename": name} for name in hub.files]
                    self._json({"id": hub.repo_id, "sha": COMMIT, "siblings": siblings})
                elif path.startswith(f"{api}/tree/"):
                    self._json(hub._tree())
                elif path.startswith(f"/{hub.repo_id}/resolve/"):
                    name = path.split("/resolve/", 1)[1].split("/", 1)[1]
                    data = hub.files.get(name)
                    if data is None:
                        self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
                        return
                    etag = hashlib.sha1(data, usedforsecurity=False).hexdigest()
                    headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"'}
                    self._send(200, data, headers, head)
                else:
                    self._send(404, b"", {}, head)

            def do_GET(self) -> None:
                self._route(head=False)

            def do_HEAD(self) -> None:
                self._route(head=True)

        return Handler


@contextmanager
def fake_hub(repo_id: str, directory: Path, mode: str = "ok") -> Iterator[FakeHub]:
    """A running `FakeHub`, stopped on exit."""
    hub = FakeHub(repo_id, directory, mode)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
