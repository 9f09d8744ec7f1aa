"""Streaming behaviour that matters to listeners: disconnects stop work."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.conftest import LiveServer
from tests.helpers import decode, wait_idle

pytestmark = pytest.mark.slow


def test_client_disconnect_stops_remaining_work(server: LiveServer, runtime: Runtime) -> None:
    text = " ".join(
        f"Sentence number {i} keeps the engine busy for quite a while longer." for i in range(60)
    )
    order = SpeechOrder(text=text, model="tts-1", voice="alloy")
    chunk_count = len(asyncio.run(runtime.service.prepare(order)).chunks)
    assert chunk_count > 12
    wait_idle(runtime)
    before = runtime.scheduler.stats().completed
    with httpx.stream(
        "POST",
        f"{server.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        first = next(response.iter_bytes())
        assert first
    wait_idle(runtime)
    done = runtime.scheduler.stats().completed - before
    assert done < chunk_count // 2, f"{done} of {chunk_count} chunks synthesized after disconnect"


def test_sentence_seams_have_no_long_pauses(server: LiveServer) -> None:
    text = (
        "First sentence here. Second sentence follows right away! Does the third one ask? "
        "The fourth is a little longer, with a comma inside it. And the fifth ends it."
    )
    response = httpx.post(
        f"{server.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"},
        timeout=30,
    )
    samples = decode(response.content, "pcm").samples
    window = 240  # 10 ms at 24 kHz
    frames = np.abs(samples[: len(samples) // window * window]).reshape(-1, window).max(axis=1)
    silent = frames < 10 ** (-45 / 20)
    longest = run = 0
    for quiet in silent:
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    # Piper's own sentence pauses measure about 300 ms; seams must not add to them.
    assert longest * 0.01 <= 0.45, f"a {longest * 10} ms pause inside the speech"
