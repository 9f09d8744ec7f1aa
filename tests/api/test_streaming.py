"""Streaming behaviour that matters to listeners: disconnects stop work."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def _idle(runtime: Runtime, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = runtime.scheduler.stats()
        if stats.busy == 0 and stats.queued == 0:
            return
        time.sleep(0.05)
    raise AssertionError("scheduler did not go idle")


def test_client_disconnect_stops_remaining_work(server: LiveServer, runtime: Runtime) -> None:
    text = " ".join(
        f"Sentence number {i} keeps the engine busy for quite a while longer." for i in range(60)
    )
    order = SpeechOrder(text=text, model="tts-1", voice="alloy")
    chunk_count = len(asyncio.run(runtime.service.prepare(order)).chunks)
    assert chunk_count > 12
    _idle(runtime)
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
    _idle(runtime)
    done = runtime.scheduler.stats().completed - before
    assert done < chunk_count // 2, f"{done} of {chunk_count} chunks synthesized after disconnect"
