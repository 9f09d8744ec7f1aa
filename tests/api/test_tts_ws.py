"""`WS /v1/tts/ws`: live sessions with the `websockets` client and the real Piper voice."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from speaker.api.app import create_app
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode, wait_idle

pytestmark = pytest.mark.slow

FIRST = "Hello there, this is the first sentence. "
REST = "The second one arrives a few characters at a time, while audio already plays. Bye."


def _tokens(text: str) -> list[str]:
    """Pieces of 3 to 5 characters, as an LLM would write them."""
    pieces, start = [], 0
    while start < len(text):
        size = 3 + start % 3
        pieces.append(text[start : start + size])
        start += size
    return pieces


def _open(server: LiveServer, path: str = "/v1/tts/ws") -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}{path}", open_timeout=10)


def _send(ws: ClientConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


def _json(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    frame = ws.recv(timeout=timeout)
    assert isinstance(frame, str), "expected a JSON message, got audio"
    message: dict[str, Any] = json.loads(frame)
    return message


def _rest(ws: ClientConnection) -> tuple[list[bytes | str], dict[str, Any]]:
    """Frames up to `done`, and `done` itself; the server then closes normally."""
    frames: list[bytes | str] = []
    while True:
        frame = ws.recv(timeout=20)
        if isinstance(frame, str) and json.loads(frame)["type"] == "done":
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
            assert ws.close_code == 1000
            return frames, json.loads(frame)
        frames.append(frame)


def _closed_with(ws: ClientConnection, code: int) -> None:
    """Read until the server closes, which it must do with `code`."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            ws.recv(timeout=5)
    assert ws.close_code == code


def test_audio_starts_while_text_still_arrives(server: LiveServer) -> None:
    with _open(server) as ws:
        _send(ws, type="start", voice="alloy")
        ready = _json(ws)
        assert ready == {
            "type": "ready",
            "voice": "en_US-joe-medium",
            "sample_rate": 24000,
            "format": "pcm",
        }
        # The sentence after the first one's full stop is what proves the first has ended.
        for token in _tokens(FIRST + "The "):
            _send(ws, type="text", text=token)
        first = ws.recv(timeout=10)
        assert isinstance(first, bytes), "the first sentence should be spoken before the rest"
        for token in _tokens(REST[len("The ") :]):
            _send(ws, type="text", text=token)
        _send(ws, type="close")
        frames, done = _rest(ws)
    assert all(isinstance(f, bytes) for f in frames)
    audio = first + b"".join(f for f in frames if isinstance(f, bytes))
    decoded = decode(audio, "pcm")
    characters = len(FIRST + REST)
    assert 0.6 * characters / 14 < decoded.duration < 1.4 * characters / 14
    assert done["characters"] == characters
    assert done["chunks"] >= 2
    assert done["cancelled"] is False
    assert abs(done["audio_seconds"] - decoded.duration) < 0.3


def test_flush_speaks_an_unfinished_sentence(server: LiveServer) -> None:
    with _open(server) as ws:
        _send(ws, type="start", response_format="mp3", binary=False)
        assert _json(ws)["format"] == "mp3"
        _send(ws, type="text", text="A sentence that has not ended")
        # Without an ending the server waits for more text...
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
        _send(ws, type="flush")
        audio = _json(ws)
        assert audio["type"] == "audio"
        assert audio["index"] == 0
        assert audio["text"] == "A sentence that has not ended"
        assert audio["duration"] > 0.5
        _send(ws, type="close")
        frames, done = _rest(ws)
    messages = [audio] + [json.loads(f) for f in frames if isinstance(f, str)]
    assert all(m["type"] == "audio" for m in messages)
    data = b"".join(base64.b64decode(m["audio"]) for m in messages)
    decoded = decode(data, "mp3")
    assert 1.0 < decoded.duration < 5.0
    assert done["chunks"] == 1


def test_voice_path_and_text_without_start(server: LiveServer) -> None:
    with _open(server, "/v1/tts/ws/en_US-joe-medium") as ws:
        _send(ws, type="text", text="Hello from the voice path.")
        ready = _json(ws)
        assert ready["voice"] == "en_US-joe-medium"
        assert ready["format"] == "pcm"
        _send(ws, type="close")
        frames, done = _rest(ws)
    assert decode(b"".join(f for f in frames if isinstance(f, bytes)), "pcm").duration > 1.0
    assert done["chunks"] == 1


def test_unknown_voice_path_is_fatal(server: LiveServer) -> None:
    with _open(server, "/v1/tts/ws/nobody") as ws:
        _send(ws, type="start")
        error = _json(ws)
        assert error["type"] == "error"
        assert error["error"]["code"] == "voice_not_found"
        _closed_with(ws, 1008)


def test_bad_start_is_fatal(server: LiveServer) -> None:
    with _open(server) as ws:
        _send(ws, type="start", speed=9)
        error = _json(ws)["error"]
        assert error["code"] == "invalid_value"
        assert error["param"] == "speed"
        _closed_with(ws, 1008)


def test_bad_messages_are_errors_that_keep_the_session(server: LiveServer) -> None:
    with _open(server) as ws:
        ws.send("{not json")
        assert _json(ws)["error"]["code"] == "invalid_json"
        _send(ws, type="shout")
        error = _json(ws)["error"]
        assert error["code"] == "unknown_message_type"
        assert error["param"] == "type"
        _send(ws, type="start")
        assert _json(ws)["type"] == "ready"
        _send(ws, type="start")
        assert _json(ws)["error"]["code"] == "already_started"
        ws.send(b"\x00\x01")
        assert _json(ws)["error"]["code"] == "invalid_message"
        _send(ws, type="text", text="x" * 5000)
        oversized = _json(ws)["error"]
        assert oversized["param"] == "text"
        _send(ws, type="text", text="Still here.")
        _send(ws, type="close")
        _, done = _rest(ws)
    assert done["chunks"] == 1


def test_cancel_drops_pending_audio(server: LiveServer, runtime: Runtime) -> None:
    text = " ".join(f"Sentence {i} is one of many that will never be spoken." for i in range(30))
    with _open(server) as ws:
        _send(ws, type="start")
        _json(ws)
        _send(ws, type="text", text=text)
        assert isinstance(ws.recv(timeout=10), bytes)
        _send(ws, type="cancel")
        _, done = _rest(ws)
    assert done["cancelled"] is True
    assert done["chunks"] < 10
    wait_idle(runtime)


def test_disconnect_stops_remaining_work(server: LiveServer, runtime: Runtime) -> None:
    text = " ".join(
        f"Sentence number {i} keeps the engine busy for quite a while longer." for i in range(40)
    )
    chunk_count = len(
        runtime.service.chunk(
            text, "en_US", True, runtime.service.first_chunk_chars, runtime.service.max_chunk_chars
        )
    )
    assert chunk_count > 8
    wait_idle(runtime)
    before = runtime.scheduler.stats().completed
    with _open(server) as ws:
        _send(ws, type="start")
        _json(ws)
        _send(ws, type="text", text=text)
        _send(ws, type="flush")
        assert isinstance(ws.recv(timeout=10), bytes)
    wait_idle(runtime, timeout=5)
    done = runtime.scheduler.stats().completed - before
    assert done < chunk_count // 2, f"{done} of {chunk_count} chunks synthesized after disconnect"


def test_not_ready_is_try_again_later(settings: Settings) -> None:
    # Without entering the client, the app's lifespan never loads the engines.
    client = TestClient(create_app(settings, Runtime(settings)))
    with client.websocket_connect("/v1/tts/ws") as ws:
        assert ws.receive_json()["error"]["code"] == "not_ready"
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_json()
    assert caught.value.code == 1013
