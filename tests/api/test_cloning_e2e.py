"""The whole cloning path on CPU with a tiny random-weight CSM checkpoint of the real
architecture: consent → voice upload → conditioning cached → streamed speech through the
`openai` client → decodable audio of the generated length → delete. No network."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from safetensors import safe_open

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS
from speaker.config import Settings
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.conftest import LiveServer
from tests.helpers import decode

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None, reason="the csm extra is not installed"
    ),
]

# One Mimi frame: 80 ms at 24 kHz.
FRAME_SECONDS = 1920 / 24_000
TEXT = "This is my cloned voice speaking."


@pytest.fixture(scope="module")
def sample(runtime: Runtime) -> bytes:
    order = SpeechOrder(
        text="I read a few sentences aloud so that my voice can be cloned by the server.",
        model="piper",
        fmt=AudioFormat.WAV,
    )
    return asyncio.run(runtime.service.synthesize(order))


@pytest.fixture(scope="module")
def csm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.csm_checkpoint import build_tiny_csm

    models = tmp_path_factory.mktemp("models")
    build_tiny_csm(models / "csm-1b")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("cloning-data"),
        models_dir=models,
        models_offline=True,
        engines="csm",
        csm_device="cpu",
        workers=1,
    )
    runtime = Runtime(settings)
    runtime.load()
    live = LiveServer(settings, runtime)
    live.start()
    yield live
    live.stop()
    runtime.close()


@pytest.fixture(scope="module")
def client(csm_server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{csm_server.url}/v1", api_key="unused", max_retries=0)


def _conditioning(runtime: Runtime, voice_id: str) -> Path:
    folder = runtime.library.reference_path(voice_id, viewer=ANONYMOUS).parent
    return folder / "conditioning-csm.safetensors"


def test_clone_speak_and_delete_with_the_openai_client(
    csm_server: LiveServer, client: openai.OpenAI, sample: bytes
) -> None:
    runtime = csm_server.runtime
    consent = client.audio.voice_consents.create(
        recording=("consent.wav", sample, "audio/wav"), name="me", language="en-US"
    )
    voice = client.audio.voices.create(
        audio_sample=("me.wav", sample, "audio/wav"), consent=consent.id, name="Me"
    )
    cached = _conditioning(runtime, voice.id)
    with safe_open(str(cached), framework="np") as handle:
        assert handle.metadata()["version"] == runtime.engines["csm"].conditioning_version
        codes = handle.get_tensor("audio_codes")
    assert codes.ndim == 2
    assert codes.shape[0] > 30  # ~3 s and more of reference at 12.5 frames a second

    # A request pays nothing for the conditioning: speaking must not compute it again.
    engine = runtime.engines["csm"]

    def refuse(*args: object) -> None:
        raise AssertionError("conditioning was recomputed for a request")

    engine.condition = refuse  # type: ignore[method-assign]
    try:
        made_before = runtime.scheduler.stats().audio_seconds
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice={"id": voice.id}, input=TEXT, response_format="wav"
        ) as response:
            assert response.headers["x-speaker-engine"] == "csm"
            parts = list(response.iter_bytes())
        made = runtime.scheduler.stats().audio_seconds - made_before
    finally:
        del engine.condition
    audio = decode(b"".join(parts), "wav")
    assert audio.sample_rate == 24_000
    # Whole frames were generated, and what arrived is what was generated (the seam smoother
    # may trim a little silence at the ends).
    assert made / FRAME_SECONDS == pytest.approx(round(made / FRAME_SECONDS), abs=1e-3)
    assert made > 0.5
    assert audio.duration == pytest.approx(made, abs=0.15)
    assert np.isfinite(audio.samples).all()
    assert np.abs(audio.samples).max() > 0.001

    client.audio.voices.delete(voice.id)
    assert not cached.exists()
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice={"id": voice.id}, input=TEXT)


def test_a_new_model_version_recomputes_the_conditioning(
    csm_server: LiveServer, sample: bytes
) -> None:
    runtime = csm_server.runtime
    voice = runtime.library.create(sample, name="versioned", transcript="words")
    engine = runtime.engines["csm"]
    old = engine.conditioning_version
    engine.conditioning_version = old + "-changed"  # type: ignore[misc]
    try:
        speech = asyncio.run(
            runtime.service.synthesize(
                SpeechOrder(text="Hi.", model="csm", voice=voice.id, fmt=AudioFormat.PCM)
            )
        )
        assert len(speech) > 0
        with safe_open(str(_conditioning(runtime, voice.id)), framework="np") as handle:
            assert handle.metadata()["version"] == old + "-changed"
    finally:
        engine.conditioning_version = old  # type: ignore[misc]
        runtime.library.delete(voice.id, viewer=ANONYMOUS)


def test_voice_conversion_streams_without_storing(csm_server: LiveServer, sample: bytes) -> None:
    runtime = csm_server.runtime
    before = runtime.library.search(viewer=ANONYMOUS)
    with httpx.Client(base_url=csm_server.url, timeout=120) as http:
        reply = http.post(
            "/v1/audio/vc",
            data={
                "input": TEXT,
                "reference_text": "I read a few sentences aloud.",
                "response_format": "flac",
            },
            files={"reference_audio": ("ref.wav", sample, "audio/wav")},
        )
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-speaker-engine"] == "csm"
    assert decode(reply.content, "flac").duration > 0.5
    assert runtime.library.search(viewer=ANONYMOUS) == before


def test_streamed_sse_pieces_arrive_within_a_chunk(csm_server: LiveServer, sample: bytes) -> None:
    runtime = csm_server.runtime
    voice = runtime.library.create(sample, name="sse", transcript="words")
    try:
        with httpx.Client(base_url=csm_server.url, timeout=120) as http:
            reply = http.post(
                "/v1/audio/speech",
                json={
                    "model": "csm",
                    "voice": {"id": voice.id},
                    "input": "One short sentence.",
                    "response_format": "pcm",
                    "stream_format": "sse",
                },
            )
        deltas = [line for line in reply.text.splitlines() if "speech.audio.delta" in line]
        # One text chunk, yet several audio events: the engine streamed frames as it made them.
        assert len(deltas) >= 2
    finally:
        runtime.library.delete(voice.id, viewer=ANONYMOUS)
