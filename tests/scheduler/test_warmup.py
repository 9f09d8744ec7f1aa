"""Workers warm up before the pool serves: all at once, unmeasured, and never fatally."""

from __future__ import annotations

import asyncio
import threading

import pytest

from speaker.engines.base import SynthesisParams
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.warmup import WarmupTask, warmup_text
from tests.scheduler.test_scheduler import GatedEngine, _collect


def _start_in_thread(scheduler: Scheduler, warmup: list[WarmupTask]) -> threading.Thread:
    thread = threading.Thread(target=scheduler.start, args=(1.0, warmup), daemon=True)
    thread.start()
    return thread


def test_start_returns_once_every_worker_has_warmed_up_together() -> None:
    engine = GatedEngine()
    scheduler = Scheduler(
        {"gated": engine}, SchedulerConfig(workers=2, lookahead=2, priority_workers=1)
    )
    starting = _start_in_thread(scheduler, [WarmupTask("gated", "v", "warm words")])
    try:
        # Every worker, the priority one included, is inside its warm-up at the same time.
        for _ in range(3):
            assert engine.started.acquire(timeout=10)
        starting.join(0.2)
        assert starting.is_alive()
        engine.gate.set()
        starting.join(10)
        assert not starting.is_alive()
        assert engine.calls == ["warm words"] * 3
        # Warm-up runs allocate memory and share the cores: they would skew measured speed.
        stats = scheduler.stats()
        assert (stats.completed, stats.recent_busy_seconds) == (0, 0.0)
    finally:
        engine.gate.set()
        scheduler.stop()


def test_a_failed_warm_up_still_leaves_workers_serving() -> None:
    engine = GatedEngine()
    engine.gate.set()
    scheduler = Scheduler({"gated": engine}, SchedulerConfig(workers=1, lookahead=2))
    scheduler.start(1.0, [WarmupTask("gated", "v", "boom")])
    try:
        stream = scheduler.open_stream("gated", "v", SynthesisParams(), ["served"])
        assert asyncio.run(_collect(stream)) == [0]
        assert engine.calls == ["served"]
    finally:
        scheduler.stop()


@pytest.mark.parametrize("chars", [20, 100, 400, 2000])
def test_warm_up_text_is_a_full_chunk_ending_at_a_word(chars: int) -> None:
    text = warmup_text(chars)
    assert chars * 0.8 <= len(text) <= chars + 1
    assert text.endswith(".")
    assert not text[:-1].endswith(" ")
