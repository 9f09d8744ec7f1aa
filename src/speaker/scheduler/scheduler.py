"""The scheduler between the API and the engines: the only way work reaches a worker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from speaker.engines.base import Engine, SynthesisParams
from speaker.scheduler.pool import PoolStats, WorkerPool
from speaker.scheduler.stream import SpeechStream


class Scheduler:
    """Owns the worker pool and opens streams on it."""

    def __init__(self, engines: Mapping[str, Engine], workers: int, lookahead: int) -> None:
        self._pool = WorkerPool(engines, workers)
        self._lookahead = lookahead

    def start(self) -> None:
        """Start the workers."""
        self._pool.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking work and join the workers."""
        self._pool.stop(timeout)

    def open_stream(
        self, engine: str, voice_id: str, params: SynthesisParams, chunks: Sequence[str]
    ) -> SpeechStream:
        """A stream that will synthesize the chunks in order once iterated."""
        return SpeechStream(self._pool, engine, voice_id, params, chunks, self._lookahead)

    def stats(self) -> PoolStats:
        """Pool counters and gauges."""
        return self._pool.stats()
