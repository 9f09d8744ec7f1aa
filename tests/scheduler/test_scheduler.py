"""The real scheduler driven by a deterministic test engine."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from speaker.engines.base import (
    AudioSegment,
    EngineCapabilities,
    EngineInfo,
    SynthesisParams,
    SynthesisTask,
    VoiceInfo,
)
from speaker.errors import EngineError, OverloadedError, RateLimitedError
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.work import BATCH

RATE = 1000


class GatedEngine:
    """Makes 10 ms of audio per character; each call waits for the gate and is logged."""

    name = "gated"
    capabilities = EngineCapabilities()

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[str] = []
        self.started = threading.Semaphore(0)

    def load(self) -> EngineInfo:
        return EngineInfo("gated", "gated-1", "1", "cpu", 0.0)

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("v", "v", "gated", "en", RATE)]

    def open_session(self) -> GatedEngine:
        return self

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        self.started.release()
        assert self.gate.wait(10)
        if text == "boom":
            raise EngineError("engine exploded", code="engine_failed")
        self.calls.append(text)
        samples = np.full(len(text) * RATE // 100, 0.1, dtype=np.float32)
        return AudioSegment(samples, RATE)

    def close(self) -> None:
        pass


@pytest.fixture
def engine() -> GatedEngine:
    return GatedEngine()


@pytest.fixture
def scheduler(engine: GatedEngine) -> Scheduler:
    sched = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=2, max_streams=100))
    sched.start()
    yield sched  # type: ignore[misc]
    engine.gate.set()
    sched.stop()


async def _collect(stream: object) -> list[int]:
    return [index async for index, _ in stream.segments()]  # type: ignore[attr-defined]


def test_first_chunk_of_a_new_stream_jumps_the_queue(
    engine: GatedEngine, scheduler: Scheduler
) -> None:
    async def run() -> None:
        a = scheduler.open_stream("gated", "v", SynthesisParams(), ["a0", "a1", "a2", "a3"])
        b = scheduler.open_stream("gated", "v", SynthesisParams(), ["b0", "b1", "b2"])
        task_a = asyncio.create_task(_collect(a))
        await asyncio.to_thread(engine.started.acquire)  # a0 occupies the only worker
        task_b = asyncio.create_task(_collect(b))
        await asyncio.sleep(0.05)  # b0 queued behind a1
        engine.gate.set()
        assert await task_a == [0, 1, 2, 3]
        assert await task_b == [0, 1, 2]

    asyncio.run(run())
    assert engine.calls[:2] == ["a0", "b0"]
    assert sorted(engine.calls) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2"]


def test_later_chunks_run_earliest_deadline_first(
    engine: GatedEngine, scheduler: Scheduler
) -> None:
    # Stream "long" has a long first chunk, so its second chunk is due much later than the
    # second chunk of stream "short", even though "long" asked first.
    async def run() -> None:
        long = scheduler.open_stream("gated", "v", SynthesisParams(), ["x" * 300, "l1"])
        short = scheduler.open_stream("gated", "v", SynthesisParams(), ["s", "s1"])
        blocker = scheduler.open_stream("gated", "v", SynthesisParams(), ["block"])
        task_blocker = asyncio.create_task(_collect(blocker))
        await asyncio.to_thread(engine.started.acquire)
        tasks = [asyncio.create_task(_collect(long)), asyncio.create_task(_collect(short))]
        await asyncio.sleep(0.05)
        engine.gate.set()
        await asyncio.gather(task_blocker, *tasks)

    asyncio.run(run())
    assert engine.calls.index("s1") < engine.calls.index("l1")


def test_interactive_chunks_overtake_queued_batch_chunks(engine: GatedEngine) -> None:
    # One admission slot and room for every chunk of a stream in the queue at once.
    sched = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=3, max_streams=1))
    sched.start()
    try:

        async def run() -> None:
            batch = sched.open_stream(
                "gated", "v", SynthesisParams(), ["b0", "b1", "b2"], tier=BATCH
            )
            task_batch = asyncio.create_task(_collect(batch))
            await asyncio.to_thread(engine.started.acquire)  # b0 runs, b1 and b2 wait
            # Batch work holds no listener's slot: the only one is still free.
            assert sched.admission.active == 0
            live = sched.open_stream("gated", "v", SynthesisParams(), ["i0", "i1", "i2"])
            assert sched.admission.active == 1
            task_live = asyncio.create_task(_collect(live))
            await asyncio.sleep(0.05)
            engine.gate.set()
            assert await task_live == [0, 1, 2]
            assert await task_batch == [0, 1, 2]

        asyncio.run(run())
    finally:
        engine.gate.set()
        sched.stop()
    assert engine.calls == ["b0", "i0", "i1", "i2", "b1", "b2"]


def test_lookahead_bounds_queued_work(engine: GatedEngine, scheduler: Scheduler) -> None:
    async def run() -> None:
        stream = scheduler.open_stream("gated", "v", SynthesisParams(), [f"c{i}" for i in range(8)])
        task = asyncio.create_task(_collect(stream))
        await asyncio.to_thread(engine.started.acquire)
        stats = scheduler.stats()
        assert stats.busy == 1
        assert stats.queued == 1  # lookahead 2: one running, one waiting, six not yet submitted
        engine.gate.set()
        assert await task == list(range(8))

    asyncio.run(run())


def test_closing_a_stream_cancels_its_queued_chunks(
    engine: GatedEngine, scheduler: Scheduler
) -> None:
    async def run() -> None:
        stream = scheduler.open_stream("gated", "v", SynthesisParams(), [f"c{i}" for i in range(6)])
        segments = stream.segments()
        engine.gate.set()
        index, audio = await anext(segments)
        assert index == 0
        assert audio.duration == pytest.approx(0.02)
        await segments.aclose()  # the listener leaves
        await asyncio.sleep(0.2)

    asyncio.run(run())
    # c0 delivered, c1 possibly already running when the listener left; nothing after that.
    assert engine.calls[0] == "c0"
    assert len(engine.calls) <= 2
    assert scheduler.stats().queued == 0


def test_engine_failure_reaches_the_stream_and_the_pool_survives(
    engine: GatedEngine, scheduler: Scheduler
) -> None:
    engine.gate.set()

    async def run() -> None:
        failing = scheduler.open_stream("gated", "v", SynthesisParams(), ["ok", "boom", "never"])
        with pytest.raises(EngineError):
            await _collect(failing)
        fine = scheduler.open_stream("gated", "v", SynthesisParams(), ["fine"])
        assert await _collect(fine) == [0]

    asyncio.run(run())
    stats = scheduler.stats()
    assert stats.failed == 1
    assert stats.completed >= 2


def test_stop_refuses_new_work(engine: GatedEngine) -> None:
    sched = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=2))
    sched.start()
    engine.gate.set()
    sched.stop()
    with pytest.raises(OverloadedError) as caught:
        sched.open_stream("gated", "v", SynthesisParams(), ["late"])
    assert caught.value.code == "shutting_down"
    assert caught.value.headers["Retry-After"]


def test_admission_refuses_beyond_capacity_with_retry_after(engine: GatedEngine) -> None:
    sched = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=2, max_streams=2))
    sched.start()
    engine.gate.set()
    try:
        first = sched.open_stream("gated", "v", SynthesisParams(), ["a" * 140])
        second = sched.open_stream("gated", "v", SynthesisParams(), ["b" * 280])
        with pytest.raises(OverloadedError) as caught:
            sched.open_stream("gated", "v", SynthesisParams(), ["c"])
        assert caught.value.code == "overloaded"
        assert int(caught.value.headers["Retry-After"]) >= 1
        asyncio.run(_collect(first))  # finishing a stream frees its slot
        third = sched.open_stream("gated", "v", SynthesisParams(), ["c"])
        assert asyncio.run(_collect(third)) == [0]
        assert asyncio.run(_collect(second)) == [0]
        assert sched.admission.active == 0
    finally:
        sched.stop()


def test_per_client_limit_is_a_429(engine: GatedEngine) -> None:
    config = SchedulerConfig(workers=1, lookahead=2, max_streams=10, max_streams_per_client=1)
    sched = Scheduler({"gated": engine}, config)
    sched.start()
    engine.gate.set()
    try:
        mine = sched.open_stream("gated", "v", SynthesisParams(), ["x"], client="alice")
        with pytest.raises(RateLimitedError) as caught:
            sched.open_stream("gated", "v", SynthesisParams(), ["y"], client="alice")
        assert caught.value.status_code == 429
        assert caught.value.headers["Retry-After"]
        other = sched.open_stream("gated", "v", SynthesisParams(), ["z"], client="bob")
        assert asyncio.run(_collect(other)) == [0]
        assert asyncio.run(_collect(mine)) == [0]
    finally:
        sched.stop()


def test_an_abandoned_stream_gives_its_slot_back(engine: GatedEngine) -> None:
    import gc

    sched = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=2, max_streams=1))
    sched.start()
    try:
        sched.open_stream("gated", "v", SynthesisParams(), ["never iterated"])
        gc.collect()
        assert sched.admission.active == 0
        sched.open_stream("gated", "v", SynthesisParams(), ["fits again"])
    finally:
        engine.gate.set()
        sched.stop()


class BatchingEngine(GatedEngine):
    """Declares batches of up to three and records the size of every call."""

    name = "batching"
    capabilities = EngineCapabilities(max_batch_size=3)

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        self.batch_sizes.append(1)
        return super().synthesize(text, voice_id, params)

    def synthesize_batch(self, tasks: list[SynthesisTask]) -> list[AudioSegment]:
        self.batch_sizes.append(len(tasks))
        assert self.gate.wait(10)
        self.calls.extend(t.text for t in tasks)
        return [
            AudioSegment(np.full(len(t.text) * RATE // 100, 0.1, np.float32), RATE) for t in tasks
        ]


def test_batching_engines_get_batches_in_priority_order() -> None:
    engine = BatchingEngine()
    config = SchedulerConfig(workers=1, lookahead=1, max_streams=100, batch_wait_s=0.05)
    sched = Scheduler({"batching": engine}, config)
    sched.start()
    try:

        async def run() -> list[list[int]]:
            blocker = sched.open_stream("batching", "v", SynthesisParams(), ["block"])
            first = asyncio.create_task(_collect(blocker))
            await asyncio.to_thread(engine.started.acquire)  # the worker is busy
            streams = [
                sched.open_stream("batching", "v", SynthesisParams(), [f"s{i}"]) for i in range(5)
            ]
            tasks = [asyncio.create_task(_collect(s)) for s in streams]
            await asyncio.sleep(0.05)
            engine.gate.set()
            await first
            return list(await asyncio.gather(*tasks))

        results = asyncio.run(run())
    finally:
        sched.stop()
    assert results == [[0]] * 5
    # One lone chunk, then five queued chunks in batches of at most three, oldest first.
    assert engine.batch_sizes == [1, 3, 2]
    assert engine.calls == ["block", "s0", "s1", "s2", "s3", "s4"]
    assert sched.stats().batches == 3
    assert sched.stats().completed == 6


def test_piper_declares_no_batching() -> None:
    from speaker.engines.piper import PiperEngine

    assert PiperEngine.capabilities.max_batch_size == 1
