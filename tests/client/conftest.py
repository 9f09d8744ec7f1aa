"""Fixtures of the SDK tests: a client of the session's live server, and a scripted stand-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from speaker.client import SpeakerClient
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[SpeakerClient]:
    with SpeakerClient(server.url, timeout=60) as sdk:
        yield sdk


@dataclass
class Reply:
    """One scripted answer; `cut` sends that many body bytes, then drops the connection."""

    status: int = 200
    body: bytes = b'{"status": "ok"}'
    headers: dict[str, str] = field(default_factory=dict)
    cut: int | None = None


class StandIn:
    """An HTTP server on loopback that answers with scripted replies, counting the requests."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.paths: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                stand_in.paths.append(self.path)
                reply = stand_in.replies.pop(0) if stand_in.replies else Reply()
                self.send_response(reply.status)
                for name, value in {"content-type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                if reply.cut is None:
                    self.wfile.write(reply.body)
                    return
                self.wfile.write(reply.body[: reply.cut])
                self.wfile.flush()
                self.close_connection = True

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval makes `shutdown()` quick.
        serve = lambda: self._server.serve_forever(poll_interval=0.05)  # noqa: E731
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    @property
    def attempts(self) -> int:
        """Requests received so far."""
        return len(self.paths)

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.stop()
