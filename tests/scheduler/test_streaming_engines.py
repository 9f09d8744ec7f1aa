"""Engines that hand out audio mid-chunk: pieces arrive early, in order, and stop on cancel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from speaker.engines.base import (
    AudioSegment,
    EngineCapabilities,
    EngineInfo,
    StreamingEngineSession,
    SynthesisParams,
    VoiceInfo,
)
from speaker.scheduler import Scheduler, SchedulerConfig

RATE = 1000
PIECES = 5


class SteppedEngine:
    """Makes each chunk in PIECES steps of 10 ms; every step after the first waits for a tick."""

    name = "stepped"
    capabilities = EngineCapabilities()

    def __init__(self) -> None:
        self.ticks = threading.Semaphore(0)
        self.steps = 0
        self.finished = threading.Event()

    def load(self) -> EngineInfo:
        return EngineInfo("stepped", "stepped-1", "1", "cpu", 0.0)

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("v", "v", "stepped", "en", RATE)]

    def open_session(self) -> SteppedEngine:
        return self

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        return AudioSegment(np.concatenate(list(self._steps(lambda: False))), RATE)

    def synthesize_stream(
        self, text: str, voice_id: str, params: SynthesisParams, cancelled: Callable[[], bool]
    ) -> Iterator[AudioSegment]:
        for samples in self._steps(cancelled):
            yield AudioSegment(samples, RATE)

    def _steps(self, cancelled: Callable[[], bool]) -> Iterator[np.ndarray]:
        try:
            for step in range(PIECES):
                if step and not self.ticks.acquire(timeout=10):
                    return
                if cancelled():
                    return
                self.steps += 1
                yield np.full(RATE // 100, (step + 1) / 10, dtype=np.float32)
        finally:
            self.finished.set()

    def close(self) -> None:
        pass


@pytest.fixture
def engine() -> SteppedEngine:
    return SteppedEngine()


@pytest.fixture
def scheduler(engine: SteppedEngine) -> Iterator[Scheduler]:
    sched = Scheduler({"stepped": engine}, SchedulerConfig(workers=1, lookahead=1, max_streams=9))
    sched.start()
    yield sched
    for _ in range(50):
        engine.ticks.release()
    sched.stop()


def test_the_test_engine_is_a_streaming_session(engine: SteppedEngine) -> None:
    assert isinstance(engine, StreamingEngineSession)


def test_pieces_arrive_before_the_chunk_is_finished(
    engine: SteppedEngine, scheduler: Scheduler
) -> None:
    async def run() -> list[tuple[int, float, bool, bool]]:
        stream = scheduler.open_stream("stepped", "v", SynthesisParams(), ["one"])
        pieces = stream.pieces()
        first = await asyncio.wait_for(anext(pieces), 5)
        # The engine is blocked on its second step: the first piece came out mid-chunk.
        assert engine.steps == 1
        seen = [(first.index, float(first.audio.samples[0]), first.opens, first.closes)]
        for _ in range(PIECES - 1):
            engine.ticks.release()
        async for piece in pieces:
            level = float(piece.audio.samples[0]) if len(piece.audio.samples) else -1.0
            seen.append((piece.index, level, piece.opens, piece.closes))
        return seen

    seen = asyncio.run(run())
    assert [s[1] for s in seen[:PIECES]] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert [s[2] for s in seen] == [True] + [False] * PIECES
    # Pieces leave open; an empty closing piece ends the chunk once the engine is done.
    assert [s[3] for s in seen] == [False] * PIECES + [True]
    assert seen[-1][1] == -1.0


def test_whole_chunk_consumers_get_one_segment_per_chunk(
    engine: SteppedEngine, scheduler: Scheduler
) -> None:
    for _ in range(PIECES * 2):
        engine.ticks.release()

    async def run() -> list[tuple[int, float]]:
        stream = scheduler.open_stream("stepped", "v", SynthesisParams(), ["a", "b"])
        return [(i, audio.duration) async for i, audio in stream.segments()]

    assert asyncio.run(run()) == [(0, pytest.approx(0.05)), (1, pytest.approx(0.05))]


def test_leaving_mid_chunk_stops_the_engine(engine: SteppedEngine, scheduler: Scheduler) -> None:
    async def run() -> None:
        stream = scheduler.open_stream("stepped", "v", SynthesisParams(), ["long", "never"])
        pieces = stream.pieces()
        await asyncio.wait_for(anext(pieces), 5)
        await pieces.aclose()  # the listener leaves while step 2 waits

    asyncio.run(run())
    engine.ticks.release()
    assert engine.finished.wait(5)
    # Step 2 saw the cancellation and stopped; the second chunk never started.
    assert engine.steps == 1
    assert scheduler.stats().queued == 0
