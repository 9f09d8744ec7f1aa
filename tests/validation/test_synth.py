"""The HTTP synthesizer's side of the conversation, against a scripted transport."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from speaker.validation.synth import RemoteSynthesizer, SynthesisError
from speaker.voices.intake import encode_wav

TONE = encode_wav(np.sin(np.arange(24000) / 10).astype(np.float32) * 0.3, 24000)


def test_requests_wav_with_the_bearer_key_and_retries_when_busy() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"retry-after": "0"}, json={"error": {}})
        return httpx.Response(200, content=TONE)

    remote = RemoteSynthesizer(
        "http://speaker.test/", api_key="sk-abc", transport=httpx.MockTransport(answer)
    )
    synthesis = remote.synthesize("Hello.", voice="nova", model="tts-1")
    remote.close()
    assert len(seen) == 2
    assert seen[1].url == "http://speaker.test/v1/audio/speech"
    assert seen[1].headers["authorization"] == "Bearer sk-abc"
    body = json.loads(seen[1].content)
    assert body == {"model": "tts-1", "input": "Hello.", "voice": "nova", "response_format": "wav"}
    assert synthesis.audio.sample_rate == 24000
    assert synthesis.audio.seconds == pytest.approx(1.0)
    assert synthesis.rtf == pytest.approx(synthesis.seconds)


def test_errors_carry_the_servers_message() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "missing API key"}})

    remote = RemoteSynthesizer("http://speaker.test", transport=httpx.MockTransport(answer))
    with pytest.raises(SynthesisError, match="401 missing API key"):
        remote.synthesize("Hello.", voice=None, model="tts-1")
    remote.close()


def test_audio_that_does_not_decode_is_an_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not audio at all")

    remote = RemoteSynthesizer("http://speaker.test", transport=httpx.MockTransport(answer))
    with pytest.raises(SynthesisError, match="unreadable audio"):
        remote.synthesize("Hello.", voice=None, model="tts-1")
    remote.close()
