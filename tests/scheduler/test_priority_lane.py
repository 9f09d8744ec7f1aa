"""Priority workers: urgent chunks never wait behind a chunk in progress."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import numpy as np
import pytest

from speaker.engines.base import (
    AudioSegment,
    EngineCapabilities,
    EngineInfo,
    SynthesisParams,
    VoiceInfo,
)
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.pool import CHARS_PER_SECOND, URGENT_WITHIN_S
from speaker.scheduler.stream import FIRST_AUDIO_SLACK
from speaker.scheduler.work import BATCH

RATE = 1000


class HoldingEngine:
    """Audio at the scheduler's assumed speaking rate; the text "hold" blocks until released.

    Records which thread synthesized what, when, and at which OS priority.
    """

    name = "holding"
    capabilities = EngineCapabilities()

    def __init__(self) -> None:
        self.release = threading.Event()
        self.holding = threading.Event()
        self.calls: dict[str, tuple[str, float, int]] = {}
        self.seconds_per_audio_second = 0.0

    def load(self) -> EngineInfo:
        return EngineInfo("holding", "holding-1", "1", "cpu", 0.0)

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("v", "v", "holding", "en", RATE)]

    def open_session(self) -> HoldingEngine:
        return self

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        self.calls[text] = (threading.current_thread().name, time.monotonic(), nice)
        if text == "hold":
            self.holding.set()
            assert self.release.wait(10)
        samples = round(len(text) * RATE / CHARS_PER_SECOND)
        time.sleep(samples / RATE * self.seconds_per_audio_second)
        return AudioSegment(np.full(samples, 0.1, dtype=np.float32), RATE)

    def close(self) -> None:
        pass


@pytest.fixture
def engine() -> HoldingEngine:
    return HoldingEngine()


@pytest.fixture
def scheduler(engine: HoldingEngine) -> Scheduler:
    config = SchedulerConfig(
        workers=1, lookahead=2, max_streams=100, priority_workers=1, background_nice=5
    )
    sched = Scheduler({"holding": engine}, config)
    sched.start()
    yield sched  # type: ignore[misc]
    engine.release.set()
    sched.stop()


async def _occupy_the_ordinary_worker(scheduler: Scheduler, engine: HoldingEngine) -> asyncio.Task:
    # A batch job's chunk is never urgent, so only the ordinary worker takes it.
    job = scheduler.open_stream("holding", "v", SynthesisParams(), ["hold"], tier=BATCH)
    task = asyncio.create_task(_collect(job))
    assert await asyncio.to_thread(engine.holding.wait, 5)
    return task


async def _collect(stream: object) -> list[int]:
    return [index async for index, _ in stream.segments()]  # type: ignore[attr-defined]


def test_a_first_chunk_is_served_while_every_ordinary_worker_is_busy(
    engine: HoldingEngine, scheduler: Scheduler
) -> None:
    async def run() -> None:
        job = await _occupy_the_ordinary_worker(scheduler, engine)
        live = scheduler.open_stream("holding", "v", SynthesisParams(), ["first words"])
        async with asyncio.timeout(5):
            assert await _collect(live) == [0]
        assert not job.done()
        engine.release.set()
        assert await job == [0]

    asyncio.run(run())
    assert engine.calls["first words"][0] == "speaker-priority-0"
    assert engine.calls["hold"][0] == "speaker-worker-0"


def test_a_later_chunk_reaches_the_priority_worker_only_once_it_is_urgent(
    engine: HoldingEngine, scheduler: Scheduler
) -> None:
    # The first chunk is 1 s of audio, so the second is due about 1 s after the stream opens
    # and becomes urgent URGENT_WITHIN_S before that, not at once.
    first, second = "a" * round(CHARS_PER_SECOND), "second"
    urgent_after = FIRST_AUDIO_SLACK + 1.0 - URGENT_WITHIN_S

    async def run() -> float:
        job = await _occupy_the_ordinary_worker(scheduler, engine)
        opened = time.monotonic()
        live = scheduler.open_stream("holding", "v", SynthesisParams(), [first, second])
        segments = live.segments()
        await anext(segments)
        await asyncio.sleep(urgent_after / 2 - (time.monotonic() - opened))
        assert second not in engine.calls
        async with asyncio.timeout(5):
            await anext(segments)
        await segments.aclose()
        engine.release.set()
        await job
        return opened

    opened = asyncio.run(run())
    thread, at, _ = engine.calls[second]
    assert thread == "speaker-priority-0"
    assert urgent_after - 0.05 < at - opened < urgent_after + 0.5


def test_a_long_chunk_on_a_slow_engine_turns_urgent_early_enough_to_finish(
    engine: HoldingEngine, scheduler: Scheduler
) -> None:
    # 0.1 s of compute per second of audio: the 10 s second chunk needs 1 s, so it must start
    # right after the first chunk, not URGENT_WITHIN_S before its listener runs dry.
    engine.seconds_per_audio_second = 0.1
    first, second = "a" * round(CHARS_PER_SECOND), "b" * round(10 * CHARS_PER_SECOND)
    fixed_margin_start = FIRST_AUDIO_SLACK + 1.0 - URGENT_WITHIN_S

    async def run() -> float:
        job = await _occupy_the_ordinary_worker(scheduler, engine)
        opened = time.monotonic()
        live = scheduler.open_stream("holding", "v", SynthesisParams(), [first, second])
        async with asyncio.timeout(5):
            assert await _collect(live) == [0, 1]
        engine.release.set()
        await job
        return opened

    opened = asyncio.run(run())
    thread, at, _ = engine.calls[second]
    assert thread == "speaker-priority-0"
    assert at - opened < fixed_margin_start - 0.2


def test_a_long_chunk_due_later_goes_before_a_short_one_due_sooner_when_it_must_start_first(
    engine: HoldingEngine, scheduler: Scheduler
) -> None:
    # 0.1 s of compute per second of audio. Stream A's short second chunk is due 1.2 s after
    # opening and takes 0.1 s; stream B's is due 1.7 s after opening but takes 1.5 s, so it must
    # start first though it is due later.
    engine.seconds_per_audio_second = 0.1
    short_second = "c" * round(CHARS_PER_SECOND)
    long_second = "d" * round(15 * CHARS_PER_SECOND)

    async def run() -> None:
        job = await _occupy_the_ordinary_worker(scheduler, engine)
        a = scheduler.open_stream(
            "holding", "v", SynthesisParams(), ["a" * round(CHARS_PER_SECOND), short_second]
        )
        b = scheduler.open_stream(
            "holding", "v", SynthesisParams(), ["b" * round(1.5 * CHARS_PER_SECOND), long_second]
        )
        async with asyncio.timeout(10):
            assert await asyncio.gather(_collect(a), _collect(b)) == [[0, 1], [0, 1]]
        engine.release.set()
        await job

    asyncio.run(run())
    assert engine.calls[long_second][0] == "speaker-priority-0"
    assert engine.calls[long_second][1] < engine.calls[short_second][1]


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
def test_ordinary_workers_run_at_a_lower_os_priority(
    engine: HoldingEngine, scheduler: Scheduler
) -> None:
    async def run() -> None:
        job = await _occupy_the_ordinary_worker(scheduler, engine)
        live = scheduler.open_stream("holding", "v", SynthesisParams(), ["urgent"])
        await _collect(live)
        engine.release.set()
        await job

    base = os.getpriority(os.PRIO_PROCESS, 0)
    asyncio.run(run())
    assert engine.calls["hold"][2] == min(base + 5, 19)
    assert engine.calls["urgent"][2] == base


def test_status_counts_priority_workers_apart(scheduler: Scheduler) -> None:
    stats = scheduler.stats()
    assert (stats.workers, stats.priority_workers) == (1, 1)
