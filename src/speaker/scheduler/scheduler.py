"""The scheduler between the API and the engines: the only way work reaches a worker."""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from speaker.engines.base import Engine, SynthesisParams
from speaker.observability.metrics import Metrics
from speaker.scheduler.admission import Admission, AdmissionLimits
from speaker.scheduler.pool import PoolStats, WorkerPool
from speaker.scheduler.stream import SpeechStream
from speaker.scheduler.warmup import WarmupTask
from speaker.scheduler.work import INTERACTIVE

# Below this much recent compute, the engine's own load-time measurement is trusted more.
_MIN_MEASURED_BUSY_SECONDS = 3.0
# How late a chunk may be planned before a new stream is refused: deadlines are estimates from
# a speaking rate, and a first chunk's is a wish for first audio, not a gap in playback.
LATE_TOLERANCE_S = 0.1
# How far ahead admission counts the chunks streams will queue later: a new stream's third chunk
# is often its longest and is due two seconds in, before it may enter the queue.
ADMISSION_HORIZON_S = 3.0


@dataclass(frozen=True)
class SchedulerConfig:
    """Knobs of the scheduler, taken from settings."""

    workers: int
    lookahead: int
    max_streams: int = 0
    max_streams_per_client: int = 0
    headroom: float = 0.5
    batch_wait_s: float = 0.005
    priority_workers: int = 0
    background_nice: int = 0


def _nothing() -> None:
    """The release of a stream that took no admission slot."""


class Scheduler:
    """Owns the worker pool, admits streams and opens them on the pool."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        config: SchedulerConfig,
        metrics: Metrics | None = None,
    ) -> None:
        self._pool = WorkerPool(
            engines,
            config.workers,
            config.batch_wait_s,
            metrics,
            priority_workers=config.priority_workers,
            background_nice=config.background_nice,
        )
        self._config = config
        self._realtime_hint = 1.0
        self._streams: weakref.WeakSet[SpeechStream] = weakref.WeakSet()
        self.admission = Admission(self.limits, self._retry_after)

    def start(self, realtime_hint: float = 1.0, warmup: Sequence[WarmupTask] = ()) -> None:
        """Start the workers once each has run `warmup`; the hint is one worker's real-time
        factor measured at load."""
        self._realtime_hint = realtime_hint
        self._pool.start(warmup)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking work and join the workers."""
        self.admission.drain()
        self._pool.stop(timeout)

    def worker_speed(self) -> float:
        """Seconds of audio one worker makes per second of its time, as measured lately."""
        return self._speed(self._pool.stats())

    def _speed(self, stats: PoolStats) -> float:
        if stats.recent_busy_seconds >= _MIN_MEASURED_BUSY_SECONDS:
            return stats.recent_audio_seconds / stats.recent_busy_seconds
        return self._realtime_hint

    def speaking_rate(self) -> float:
        """Characters the voices say per second of audio at speed 1, as measured lately."""
        return self._pool.speaking_rate()

    def realtime_capacity(self) -> float:
        """How many listeners the pool can keep fed in real time, all workers together."""
        stats = self._pool.stats()
        return self._speed(stats) * stats.workers

    def limits(self) -> AdmissionLimits:
        """How many streams may be admitted now, in all and per client."""
        automatic = max(1, math.floor(self._config.headroom * self.realtime_capacity()))
        return AdmissionLimits(
            max_streams=self._config.max_streams or automatic,
            per_client=self._config.max_streams_per_client,
        )

    def _retry_after(self, active: int) -> float:
        # The soonest a slot frees: the stream with the least text left, sharing the pool's
        # throughput with every other active stream.
        remaining = [s.remaining_chars() for s in list(self._streams)]
        chars_per_second = self.realtime_capacity() * self._pool.speaking_rate()
        least = min(remaining, default=0)
        return least * max(active, 1) / max(chars_per_second, 1.0)

    def _in_time(self, stream: SpeechStream) -> bool:
        # The stream's first chunks join the queue with the deadlines it would give them; the
        # rest follow as its listener plays, like every other stream's. Streams admitted a
        # moment ago may not have queued theirs yet: a burst of requests would all pass.
        until = time.monotonic() + ADMISSION_HORIZON_S
        planned = [entry for other in list(self._streams) for entry in other.planned(until)]
        return not self._pool.would_run_late(planned, stream.planned(until), LATE_TOLERANCE_S)

    def open_stream(
        self,
        engine: str,
        voice_id: str,
        params: SynthesisParams,
        chunks: Sequence[str],
        *,
        open_ended: bool = False,
        client: str = "local",
        tier: int = INTERACTIVE,
    ) -> SpeechStream:
        """Admit and open a stream that synthesizes its chunks in order once iterated.

        Raises 503 (overloaded, shutting down) or 429 (client over its share) at once, before
        any work is queued. An open-ended stream takes more chunks with `append` until `end`.
        Batch streams (a tier after INTERACTIVE) skip admission: only idle workers reach their
        chunks, so they never take a listener's slot.
        """
        # Nothing is queued until the stream is read: one refused here leaves no trace.
        stream = SpeechStream(
            self._pool,
            engine,
            voice_id,
            params,
            chunks,
            self._config.lookahead,
            open_ended=open_ended,
            tier=tier,
        )
        release = (
            self.admission.admit(client, in_time=self._in_time(stream))
            if tier == INTERACTIVE
            else _nothing
        )
        stream.hold(release)
        if tier == INTERACTIVE:
            # Only streams holding a slot count towards when the next slot frees.
            self._streams.add(stream)
        # A stream dropped without being iterated to the end still gives its slot back.
        weakref.finalize(stream, release)
        return stream

    def stats(self) -> PoolStats:
        """Pool counters and gauges."""
        return self._pool.stats()
