"""`POST /v1/tts/long`: long-form text streamed as one file, with its own input limit."""

from __future__ import annotations

import httpx
import pytest

from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode, wait_idle

pytestmark = pytest.mark.slow

SENTENCES = (
    "The committee reviewed every proposal carefully before the final vote.",
    "Several members asked for more time to read the budget.",
    "A short break was called, and the discussion went on after lunch.",
    "In the end the plan passed with a comfortable majority.",
)


def _text(chars: int) -> str:
    """Plain prose of about `chars` characters, ending on a full stop."""
    parts: list[str] = []
    length = 0
    while length < chars:
        sentence = SENTENCES[len(parts) % len(SENTENCES)]
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)


def test_long_text_streams_one_file(server: LiveServer) -> None:
    text = _text(3000)
    pieces = 0
    data = b""
    # PCM keeps this test quick on small machines: MP3 encoding competes with the engines.
    body = {"input": text, "voice": "alloy", "response_format": "pcm"}
    with httpx.stream("POST", f"{server.url}/v1/tts/long", json=body, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers["x-speaker-voice"] == "en_US-joe-medium"
        for piece in response.iter_bytes():
            pieces += 1
            data += piece
    assert pieces > 1
    decoded = decode(data, "pcm")
    assert decoded.sample_rate == 24000
    expected = len(text) / 14
    assert 0.6 * expected < decoded.duration < 1.4 * expected


def test_accepts_more_than_the_speech_limit(server: LiveServer, runtime: Runtime) -> None:
    text = _text(runtime.settings.max_input_chars + 1000)
    speech = httpx.post(
        f"{server.url}/v1/audio/speech", json={"input": text, "voice": "alloy"}, timeout=30
    )
    assert speech.status_code == 400
    # Only the start matters here; leaving early also stops the rest of the synthesis.
    with httpx.stream(
        "POST", f"{server.url}/v1/tts/long", json={"input": text, "voice": "alloy"}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/mpeg"
        assert next(response.iter_bytes())
    wait_idle(runtime)


def test_over_the_long_limit_is_refused(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/v1/tts/long", json={"input": "a" * 100_001, "voice": "alloy"}, timeout=30
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "input_too_long"
    assert error["param"] == "input"
    assert "100000" in error["message"]
    assert "SPEAKER_MAX_LONG_INPUT_CHARS" in error["suggestion"]


def test_bad_voice_is_a_json_error(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/v1/tts/long", json={"input": "Hello.", "voice": "nobody"}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "voice_not_found"
