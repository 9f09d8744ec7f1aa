"""`POST /v1/tts/stream`: chunked SSE against a live server and the real Piper voice."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from speaker.errors import EngineError
from speaker.runtime import Runtime
from speaker.service import EncodedChunk, PreparedSpeech
from tests.conftest import LiveServer
from tests.helpers import decode, wait_idle

PARAGRAPH = (
    "Speaker streams audio as soon as the first sentence is ready. "
    "Every later sentence follows without a gap, so a listener never waits. "
    "The last sentence closes the file cleanly."
)

pytestmark = pytest.mark.slow


def _events(server: LiveServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every SSE event of one request, as (name, data)."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = "message"
    with httpx.stream("POST", f"{server.url}/v1/tts/stream", json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: ") :])))
    return events


@pytest.mark.parametrize("fmt", ["pcm", "mp3"])
def test_chunks_make_one_file_and_add_up(server: LiveServer, fmt: str) -> None:
    events = _events(server, {"input": PARAGRAPH, "voice": "alloy", "response_format": fmt})
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert set(names[:-1]) == {"chunk"}
    chunks = [data for _, data in events[:-1]]
    done = events[-1][1]
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert len(chunks) >= 2
    assert all(c["format"] == fmt and c["text"].strip() for c in chunks)
    audio = b"".join(base64.b64decode(c["audio"]) for c in chunks)
    decoded = decode(audio, fmt)
    assert decoded.sample_rate == 24000
    assert 6.0 < decoded.duration < 20.0
    durations = sum(c["duration"] for c in chunks)
    assert abs(durations - decoded.duration) < 0.3
    assert done["chunks"] == len(chunks)
    assert done["characters"] == len(PARAGRAPH)
    assert done["audio_seconds"] == pytest.approx(durations)
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert abs(usage["output_tokens"] / 50 - decoded.duration) < 1.0


def test_chunk_budgets_apply(server: LiveServer) -> None:
    base = {"input": PARAGRAPH, "voice": "alloy", "response_format": "pcm"}
    default = [d for n, d in _events(server, base) if n == "chunk"]
    small = [
        d
        for n, d in _events(server, {**base, "first_chunk_chars": 20, "max_chunk_chars": 60})
        if n == "chunk"
    ]
    assert len(small) > len(default)
    assert len(small[0]["text"]) <= 20
    assert all(len(c["text"]) <= 60 for c in small)
    only_max = [d for n, d in _events(server, {**base, "max_chunk_chars": 30}) if n == "chunk"]
    assert all(len(c["text"]) <= 30 for c in only_max)


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"voice": "nobody"}, 400, "voice_not_found", "voice"),
        ({"voice": {"id": "voice_missing"}}, 404, "voice_not_found", "voice"),
        ({"input": "   "}, 400, "empty_input", "input"),
        ({"input": "x" * 5000}, 400, "input_too_long", "input"),
        ({"response_format": "ogg"}, 400, "invalid_value", "response_format"),
        ({"first_chunk_chars": 300, "max_chunk_chars": 100}, 400, "invalid_value", None),
        ({"max_chunk_chars": 5}, 400, "invalid_value", "max_chunk_chars"),
    ],
)
def test_bad_requests_are_json_errors_before_the_stream(
    server: LiveServer, body: dict[str, Any], status: int, code: str, param: str | None
) -> None:
    request = {"input": "Hello.", "voice": "alloy", **body}
    response = httpx.post(f"{server.url}/v1/tts/stream", json=request, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]


def test_failure_mid_stream_is_an_error_event(
    server: LiveServer, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runtime.service.stream

    async def failing(speech: PreparedSpeech) -> AsyncGenerator[EncodedChunk, None]:
        chunks = real(speech)
        try:
            yield await anext(chunks)
        finally:
            await chunks.aclose()
        raise EngineError("the engine crashed", code="engine_failed")

    monkeypatch.setattr(runtime.service, "stream", failing)
    events = _events(server, {"input": PARAGRAPH, "voice": "alloy"})
    assert [name for name, _ in events] == ["chunk", "error"]
    assert events[1][1]["error"]["code"] == "engine_failed"
    assert events[1][1]["error"]["message"] == "the engine crashed"
    wait_idle(runtime)


def test_route_is_documented(server: LiveServer) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert paths["/v1/tts/stream"]["post"]["summary"]
    assert paths["/v1/tts/long"]["post"]["summary"]
