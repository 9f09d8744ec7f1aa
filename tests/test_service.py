"""The speech service in-process: fixed and live (incrementally fed) speech."""

from __future__ import annotations

import asyncio

import pytest

from speaker.audio.formats import AudioFormat
from speaker.runtime import Runtime
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.service import EncodedChunk, SpeechOrder, SpeechService
from tests.helpers import decode, voiced_seconds

TEXT = "Text arrives in pieces, the way a language model writes it. Audio starts early. Done."


def test_live_speech_matches_whole_text(runtime: Runtime) -> None:
    async def run() -> tuple[list[EncodedChunk], bytes]:
        order = SpeechOrder(text="", model="tts-1", voice="alloy", fmt=AudioFormat.PCM)
        live = runtime.service.live(order)
        received: list[EncodedChunk] = []

        async def consume() -> None:
            async for chunk in live.chunks():
                received.append(chunk)

        task = asyncio.create_task(consume())
        for i in range(0, len(TEXT), 4):
            live.feed(TEXT[i : i + 4])
            await asyncio.sleep(0.01)
        # Complete sentences are synthesized before the text is closed.
        for _ in range(500):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received
        live.close()
        await task
        whole = await runtime.service.synthesize(
            SpeechOrder(text=TEXT, model="tts-1", voice="alloy", fmt=AudioFormat.PCM)
        )
        return received, whole

    received, whole = asyncio.run(run())
    assert received[-1].last
    # The first sentence is longer than the first chunk's budget (40): it is cut at its comma.
    assert [c.text for c in received[:-1]] == [
        "Text arrives in pieces,",
        "the way a language model writes it.",
        "Audio starts early.",
        "Done.",
    ]
    live_audio = decode(b"".join(c.data for c in received), "pcm")
    whole_audio = decode(whole, "pcm")
    live_voiced = voiced_seconds(live_audio.samples, 24000)
    assert live_voiced == pytest.approx(voiced_seconds(whole_audio.samples, 24000), rel=0.25)


def test_live_speech_cancel_stops_without_more_audio(runtime: Runtime) -> None:
    async def run() -> list[EncodedChunk]:
        order = SpeechOrder(text="", model="tts-1", voice="alloy", fmt=AudioFormat.MP3)
        live = runtime.service.live(order)
        live.feed("One sentence here. Another sentence there. And a third one. ")
        chunks = live.chunks()
        first = await anext(chunks)
        live.cancel()
        rest = [c async for c in chunks]
        return [first, *rest]

    received = asyncio.run(run())
    assert received[0].index == 0
    assert len(received) <= 3


@pytest.mark.parametrize(
    ("target", "expected"),
    [(0.0, "configured"), (10.0, "configured"), (1e-4, "floor"), (0.12, "measured")],
)
def test_first_chunk_budget_follows_the_engines_measured_speed(
    runtime: Runtime, target: float, expected: str
) -> None:
    settings = runtime.settings.model_copy(update={"first_chunk_seconds": target})
    service = SpeechService(settings, runtime.engines, runtime.catalog, runtime.scheduler)
    # What the real Piper worker says in `target` seconds, at its measured speed.
    fits = runtime.scheduler.worker_speed() * runtime.scheduler.speaking_rate() * target
    budget = service.first_chunk_chars
    if expected == "configured":
        assert budget == settings.first_chunk_chars == 40
    elif expected == "floor":
        assert budget == 10
    else:
        assert budget == max(10, min(40, round(fits)))
        assert 10 <= budget <= 40


@pytest.mark.parametrize(("speed", "overshoot"), [(4.0, 1.0), (8.0, 2.0), (40.0, 3.0)])
def test_a_slow_engine_keeps_long_sentences_out_of_early_chunks(
    runtime: Runtime, speed: float, overshoot: float
) -> None:
    settings = runtime.settings.model_copy(update={"first_chunk_seconds": 0.12})
    # A scheduler that has measured nothing yet runs on its engine's load-time speed.
    scheduler = Scheduler(runtime.engines, SchedulerConfig(workers=1, lookahead=2))
    scheduler.start(speed)
    try:
        service = SpeechService(settings, runtime.engines, runtime.catalog, scheduler)
        assert service.chunk_overshoot == pytest.approx(overshoot)
        order = SpeechOrder(
            text="Stop right there. Unplug it from the wall and wait thirty seconds.",
            model="tts-1",
            voice="alloy",
            fmt=AudioFormat.PCM,
            first_chunk_chars=20,
        )
        chunks = asyncio.run(service.prepare(order)).chunks
    finally:
        scheduler.stop()
    # 48 characters after 17: whole at three times the text before it, cut below that.
    whole = overshoot >= 3.0
    assert (chunks[1] == "Unplug it from the wall and wait thirty seconds.") is whole
    assert len(chunks) == (2 if whole else 3)


def test_fixed_chunk_budgets_keep_the_full_overshoot(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"first_chunk_seconds": 0.0})
    service = SpeechService(settings, runtime.engines, runtime.catalog, runtime.scheduler)
    assert service.chunk_overshoot == 3.0
