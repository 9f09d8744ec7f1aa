"""Admission refuses a stream that would leave a listener without audio, and only that one."""

from __future__ import annotations

import asyncio

import pytest

from speaker.engines.base import SynthesisParams
from speaker.errors import OverloadedError
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.pool import CHARS_PER_SECOND
from tests.scheduler.test_priority_lane import HoldingEngine, _collect

ONE_SECOND = "a" * round(CHARS_PER_SECOND)


def _scheduler(engine: HoldingEngine) -> Scheduler:
    # One worker, no priority lane, and no cap on the number of streams: only the deadline
    # check can refuse.
    sched = Scheduler({"holding": engine}, SchedulerConfig(workers=1, lookahead=2, max_streams=100))
    sched.start()
    return sched


def test_a_stream_that_would_make_another_stutter_is_refused_at_once() -> None:
    # 0.2 s of compute per second of audio: stream A's 5 s second chunk takes 1 s, ready just
    # as A's first second of audio plays out. B's first chunk, queued ahead of it, would make
    # A's listener wait.
    engine = HoldingEngine()
    engine.seconds_per_audio_second = 0.2
    sched = _scheduler(engine)

    async def run() -> None:
        await _collect(sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND]))
        a = sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND, "b" * 70])
        reading = asyncio.create_task(_collect(a))
        with pytest.raises(OverloadedError) as refused:
            sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND, ONE_SECOND])
        assert refused.value.code == "overloaded"
        assert int(refused.value.headers["Retry-After"]) >= 1
        assert await reading == [0, 1]
        # Once A is done the same request fits.
        b = sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND, ONE_SECOND])
        assert await _collect(b) == [0, 1]

    try:
        asyncio.run(run())
    finally:
        sched.stop()


def test_an_engine_slower_than_real_time_still_serves_one_stream() -> None:
    # Nothing can keep this listener fed; refusing would only leave the server unusable.
    engine = HoldingEngine()
    engine.seconds_per_audio_second = 1.5
    sched = _scheduler(engine)

    async def run() -> None:
        await _collect(sched.open_stream("holding", "v", SynthesisParams(), ["a" * 3]))
        slow = sched.open_stream("holding", "v", SynthesisParams(), ["a" * 3, "b" * 3])
        assert await _collect(slow) == [0, 1]

    try:
        asyncio.run(run())
    finally:
        sched.stop()


def test_admission_counts_a_long_chunk_that_is_due_soon_but_not_queued_yet() -> None:
    # 0.2 s of compute per second of audio. Stream A's third chunk (7 s of audio, 1.4 s of
    # compute) is due 1.5 s of audio in: on time alone, late by B's first chunks. Only two of
    # A's chunks are queued while A starts, so admission must look past them to see it.
    engine = HoldingEngine()
    engine.seconds_per_audio_second = 0.2
    sched = _scheduler(engine)
    half_second = "c" * round(CHARS_PER_SECOND / 2)

    async def run() -> None:
        await _collect(sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND]))
        a = sched.open_stream(
            "holding", "v", SynthesisParams(), [ONE_SECOND, half_second, "b" * 98]
        )
        with pytest.raises(OverloadedError):
            sched.open_stream("holding", "v", SynthesisParams(), [ONE_SECOND, ONE_SECOND])
        assert await _collect(a) == [0, 1, 2]

    try:
        asyncio.run(run())
    finally:
        sched.stop()
