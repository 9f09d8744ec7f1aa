"""The real `openai` client against a live server and the real Piper voice."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.conftest import LiveServer
from tests.helpers import decode, voiced_seconds

SENTENCE = "The quick brown fox jumps over the lazy dog."
PARAGRAPH = (
    "Speaker streams audio as soon as the first sentence is ready. "
    "Every later sentence follows without a gap, so a listener never waits. "
    "Dr. Rivera measured it at 3:45 p.m. on 10/15/2025 and paid $47.50 for coffee. "
    "The last sentence closes the file cleanly."
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0)


@pytest.mark.parametrize(
    ("fmt", "container", "rate"),
    [
        ("mp3", "mp3", 24000),
        ("opus", "ogg", 48000),
        ("aac", "aac", 24000),
        ("flac", "flac", 24000),
        ("wav", "wav", 24000),
        ("pcm", "raw", 24000),
    ],
)
def test_every_format_is_one_valid_file(
    client: openai.OpenAI, fmt: str, container: str, rate: int
) -> None:
    response = client.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input=PARAGRAPH,
        response_format=fmt,  # type: ignore[arg-type]
    )
    data = response.read()
    decoded = decode(data, fmt)
    assert decoded.container == container
    assert decoded.sample_rate == rate
    # Four sentences of speech: many seconds, all of it decodable in one pass.
    assert 8.0 < decoded.duration < 30.0
    assert voiced_seconds(decoded.samples, decoded.sample_rate) > 5.0
    if fmt == "mp3":
        assert data.count(b"Xing") + data.count(b"Info") <= 1
    if fmt == "wav":
        assert data.count(b"RIFF") == 1
    if fmt == "opus":
        assert data.count(b"OpusHead") == 1
    if fmt == "flac":
        assert data.count(b"fLaC") == 1


def test_content_types(client: openai.OpenAI) -> None:
    expected = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm", "flac": "audio/flac"}
    for fmt, content_type in expected.items():
        with client.audio.speech.with_streaming_response.create(
            model="tts-1",
            voice="nova",
            input="Hi.",
            response_format=fmt,  # type: ignore[arg-type]
        ) as response:
            assert response.headers["content-type"] == content_type
            assert response.headers["x-request-id"]
            response.read()


def test_streaming_starts_before_the_end(client: openai.OpenAI) -> None:
    started = time.perf_counter()
    arrivals: list[float] = []
    data = b""
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=PARAGRAPH * 2, response_format="pcm"
    ) as response:
        for piece in response.iter_bytes():
            arrivals.append(time.perf_counter() - started)
            data += piece
    decoded = decode(data, "pcm")
    assert len(arrivals) > 3
    # The first audio comes long before the stream ends, and long before real-time playback
    # of the whole text would have finished.
    assert arrivals[0] < arrivals[-1] / 3
    assert arrivals[-1] < decoded.duration


def test_sse_stream_format(client: openai.OpenAI) -> None:
    import base64

    audio = b""
    done = None
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="coral",
        input=PARAGRAPH,
        response_format="pcm",
        stream_format="sse",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event["type"] == "speech.audio.delta":
                assert done is None
                audio += base64.b64decode(event["audio"])
            else:
                assert event["type"] == "speech.audio.done"
                done = event
    assert done is not None
    usage = done["usage"]
    assert usage["input_tokens"] > 20
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    decoded = decode(audio, "pcm")
    # 50 audio tokens a second of speech.
    assert abs(usage["output_tokens"] / 50 - decoded.duration) < 1.5


def test_speed_is_honoured_by_the_engine(client: openai.OpenAI) -> None:
    lengths = {}
    for speed in (1.0, 2.0, 0.5):
        data = client.audio.speech.create(
            model="tts-1", voice="alloy", input=SENTENCE, response_format="pcm", speed=speed
        ).read()
        lengths[speed] = voiced_seconds(decode(data, "pcm").samples, 24000)
    assert 0.35 < lengths[2.0] / lengths[1.0] < 0.7
    assert 1.5 < lengths[0.5] / lengths[1.0] < 2.6


def test_instructions_are_accepted_and_reported_ignored(client: openai.OpenAI) -> None:
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="sage",
        input="Hello.",
        instructions="Speak like a pirate.",
    ) as response:
        assert response.headers["x-speaker-instructions"] == "ignored"
        assert len(response.read()) > 1000


def test_library_voice_reference_by_id(client: openai.OpenAI) -> None:
    data = client.audio.speech.create(
        model="tts-1", voice={"id": "en_US-joe-medium"}, input="Hello.", response_format="wav"
    ).read()
    assert decode(data, "wav").duration > 0.3
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.speech.create(model="tts-1", voice={"id": "voice_missing"}, input="Hello.")
    assert caught.value.body["code"] == "voice_not_found"  # type: ignore[index]


def test_models_list(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "piper"} <= ids
    assert client.models.retrieve("gpt-4o-mini-tts-2025-12-15").id == "gpt-4o-mini-tts-2025-12-15"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("whisper-1")


@pytest.mark.parametrize(
    ("kwargs", "code", "param"),
    [
        ({"voice": "nobody"}, "voice_not_found", "voice"),
        ({"model": "eleven-v3"}, "model_not_found", "model"),
        ({"input": "x" * 5000}, "input_too_long", "input"),
        ({"input": "   "}, "empty_input", "input"),
        ({"input": "👍🎉"}, "empty_input", "input"),
        ({"response_format": "ogg"}, "invalid_value", "response_format"),
        ({"speed": 5.0}, "invalid_value", "speed"),
        ({"speed": 0.1}, "invalid_value", "speed"),
    ],
)
def test_bad_input_is_a_clear_400(
    client: openai.OpenAI, kwargs: dict[str, object], code: str, param: str
) -> None:
    request = {"model": "tts-1", "voice": "alloy", "input": "Hello.", **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(**request)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]
    assert caught.value.response.headers["x-request-id"]


def test_unknown_voice_lists_what_exists(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.")
    body = caught.value.body
    assert isinstance(body, dict)
    assert "en_US-joe-medium" in body["suggestion"]
    assert "alloy" in body["available"]


def test_raw_http_errors_have_openai_shape(server: LiveServer) -> None:
    cases = [
        (b"{not json", 400, "invalid_json"),
        (json.dumps({"model": "tts-1"}).encode(), 400, "missing_required_parameter"),
        (b'{"input": "' + b"a" * 2_000_000 + b'"}', 413, "request_too_large"),
    ]
    for body, status, code in cases:
        response = httpx.post(
            f"{server.url}/v1/audio/speech",
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert response.headers["x-request-id"]
    missing = httpx.get(f"{server.url}/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_request_id_is_echoed_when_sane(server: LiveServer) -> None:
    kept = httpx.get(f"{server.url}/health", headers={"x-request-id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = httpx.get(f"{server.url}/health", headers={"x-request-id": "bad id; drop table"})
    assert replaced.headers["x-request-id"].startswith("req_")


def test_voice_listing_for_open_webui(server: LiveServer) -> None:
    body = httpx.get(f"{server.url}/v1/audio/voices").json()
    ids = [v["id"] for v in body["voices"]]
    assert "en_US-joe-medium" in ids
    joe = next(v for v in body["voices"] if v["id"] == "en_US-joe-medium")
    assert "alloy" in joe["aliases"]
    assert joe["name"]
    assert body["default"] == "en_US-joe-medium"
