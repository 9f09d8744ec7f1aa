"""A pool of engine worker threads pulling work items in priority order."""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from speaker.engines.base import (
    AudioSegment,
    BatchEngineSession,
    Engine,
    EngineSession,
    StreamingEngineSession,
    SynthesisParams,
    SynthesisTask,
)
from speaker.errors import SpeakerError, shutting_down
from speaker.observability.metrics import CLONED_VOICE_LABEL, Metrics
from speaker.observability.stages import recording
from speaker.scheduler.warmup import WarmupTask
from speaker.scheduler.work import INTERACTIVE, WorkItem

log = logging.getLogger(__name__)

_RECENT_DECAY = 0.98
# A chunk is urgent when its listener would run out of audio within this many seconds plus the
# time the chunk is expected to take: every first chunk, and a later one whose stream is about
# to run dry. Only these reach the priority workers.
URGENT_WITHIN_S = 0.5
# Characters of text per second of speech at speed 1, until the pool has measured its voices.
CHARS_PER_SECOND = 14.0
# Seconds of recent audio below which that guess is kept.
_MIN_MEASURED_AUDIO_SECONDS = 5.0


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of the pool for `/status` and admission decisions."""

    workers: int
    busy: int
    queued: int
    completed: int
    failed: int
    audio_seconds: float
    busy_seconds: float
    recent_audio_seconds: float
    recent_busy_seconds: float
    batches: int
    queued_batch: int = 0
    """Of `queued`, the chunks of batch jobs."""
    priority_workers: int = 0
    """Extra workers that take urgent chunks only (not counted in `workers`)."""


def _voice_label(item: WorkItem) -> str:
    return CLONED_VOICE_LABEL if item.params.reference is not None else item.voice_id


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads one by one)."""
    if nice <= 0 or sys.platform != "linux":
        return
    # Raising one's own nice value needs no privilege; failing to only costs latency.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def _late(
    entries: list[tuple[float, float, bool]], free_at: float, per_audio: float, tolerance: float
) -> bool:
    """Whether `(deadline, audio, first)` entries done in deadline order from `free_at`, at
    `per_audio` seconds per second of audio, end some later chunk over `tolerance` late."""
    finished = free_at
    for deadline, audio, first in sorted(entries):
        finished += audio * per_audio
        if not first and finished > deadline + tolerance:
            return True
    return False


class WorkerPool:
    """Engine workers; each thread owns its own engine sessions and never touches the event loop.

    A chunk cannot be interrupted, so a first chunk would wait for a worker to finish whatever
    it is synthesizing. Priority workers avoid that wait: they sit idle until a chunk is urgent,
    and run at the normal OS priority while the ordinary workers run at a lower one
    (`background_nice`), so the kernel gives an urgent chunk a core at once and the ordinary
    workers soak up what is left. The cores stay busy either way; only the order changes.
    """

    def __init__(
        self,
        engines: Mapping[str, Engine],
        workers: int,
        batch_wait_s: float = 0.005,
        metrics: Metrics | None = None,
        *,
        priority_workers: int = 0,
        background_nice: int = 0,
    ) -> None:
        self._engines = engines
        self._metrics = metrics or Metrics(enabled=False)
        self._size = workers
        self._priority_size = priority_workers
        self._background_nice = background_nice
        self._batch_wait = batch_wait_s
        self._batches = 0
        self._heap: list[tuple[tuple[int, float, int], WorkItem]] = []
        # Items the workers are synthesizing, for estimates of the work still ahead of them.
        self._running: dict[int, WorkItem] = {}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._busy = 0
        self._completed = 0
        self._failed = 0
        self._audio_seconds = 0.0
        self._busy_seconds = 0.0
        self._recent_audio = 0.0
        self._recent_chars = 0.0
        self._recent_busy = 0.0

    def start(self, warmup: Sequence[WarmupTask] = (), warmup_timeout: float = 120.0) -> None:
        """Start the worker threads; each runs `warmup` first, and this waits for them.

        All workers warm up at once, as they will work under load: an engine's memory pools
        grow to what concurrent chunks of full length need before the first listener arrives,
        instead of during its stream. A warm-up that outlasts `warmup_timeout` goes on in the
        background; one that fails is logged and the worker serves all the same.
        """
        lanes = [(f"speaker-worker-{n}", False) for n in range(self._size)]
        lanes += [(f"speaker-priority-{n}", True) for n in range(self._priority_size)]
        warmed = [threading.Event() for _ in lanes]
        for (name, urgent), done in zip(lanes, warmed, strict=True):
            thread = threading.Thread(
                target=self._run, args=(urgent, warmup, done), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + warmup_timeout
        for done in warmed:
            if not done.wait(max(0.0, deadline - time.monotonic())):
                log.warning("workers still warming up after %.0f s; serving", warmup_timeout)
                return

    def stop(self, timeout: float = 5.0) -> None:
        """Fail queued work, let running items finish, and join the threads."""
        with self._cond:
            self._stopping = True
            pending = [item for _, item in self._heap]
            self._heap.clear()
            self._cond.notify_all()
        for item in pending:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(shutting_down())
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def submit(self, item: WorkItem) -> None:
        """Queue an item; its future resolves to the audio."""
        with self._cond:
            if self._stopping:
                raise shutting_down()
            heapq.heappush(self._heap, (item.sort_key, item))
            # Workers differ in what they may take: wake them all and let each decide.
            self._cond.notify_all()

    def stats(self) -> PoolStats:
        """Counters and gauges of the pool."""
        with self._cond:
            live = [item for _, item in self._heap if not item.future.cancelled()]
            return PoolStats(
                workers=self._size,
                busy=self._busy,
                queued=len(live),
                queued_batch=sum(1 for item in live if item.tier != INTERACTIVE),
                completed=self._completed,
                failed=self._failed,
                audio_seconds=self._audio_seconds,
                busy_seconds=self._busy_seconds,
                recent_audio_seconds=self._recent_audio,
                recent_busy_seconds=self._recent_busy,
                batches=self._batches,
                priority_workers=self._priority_size,
            )

    def _pop_live(
        self, engine: str | None = None, skipped: list[WorkItem] | None = None
    ) -> WorkItem | None:
        # Called with the lock held. A cancelled future means the listener left: skip the work.
        while self._heap:
            _, item = heapq.heappop(self._heap)
            if engine is not None and item.engine != engine:
                assert skipped is not None
                skipped.append(item)
                continue
            if item.future.set_running_or_notify_cancel():
                return item
        return None

    def _pop_urgent(self) -> tuple[WorkItem | None, float | None]:
        """The item that must start soonest if it is urgent yet, else None and how long until
        it will be."""
        # Called with the lock held. The heap is ordered by deadline, but a long chunk due later
        # may have to start before a short one due sooner: on a slow CPU a 100-character chunk
        # takes longer than the fixed margin. Each item must start early enough to finish, not
        # merely be started, before its listener runs dry; the queue is short enough to scan.
        per_audio = self._compute_per_audio_second()
        while True:
            found: tuple[float, int] | None = None
            for position, (_, item) in enumerate(self._heap):
                if item.tier != INTERACTIVE or item.future.cancelled():
                    continue
                start_by = item.deadline - item.audio_estimate * per_audio
                if found is None or start_by < found[0]:
                    found = (start_by, position)
            if found is None:
                return None, None
            start_by, position = found
            wait = start_by - URGENT_WITHIN_S - time.monotonic()
            if wait > 0:
                return None, wait
            item = self._heap[position][1]
            self._heap[position] = self._heap[-1]
            self._heap.pop()
            heapq.heapify(self._heap)
            if item.future.set_running_or_notify_cancel():
                return item, None

    def would_run_late(
        self,
        planned: Sequence[tuple[float, float, bool]],
        extra: Sequence[tuple[float, float, bool]],
        tolerance: float,
    ) -> bool:
        """Whether adding a stream's `extra` `(deadline, audio estimate, first)` entries would
        leave some listener without audio: the queued listeners' chunks, `planned` ones about to
        be queued and these, taken earliest deadline first by the ordinary workers at their
        measured speed, finishing over `tolerance` late.

        First chunks take their share of the time but are never late themselves: their deadline
        is a wish for first audio, which the priority workers serve, not a gap in playback. Work
        that would be late on an idle pool is not refused: on an engine slower than real time
        nothing better can be had.
        """
        now = time.monotonic()
        with self._cond:
            per_audio = self._compute_per_audio_second()
            running = [(i.audio_estimate, i.started_at or now) for i in self._running.values()]
            queued = [
                (item.deadline, item.audio_estimate, item.index == 0)
                for _, item in self._heap
                if item.tier == INTERACTIVE and not item.future.cancelled()
            ]
        if per_audio <= 0:
            return False
        # What the workers are on delays the queue by what is left of it.
        left = sum(max(0.0, audio * per_audio - (now - began)) for audio, began in running)
        seconds = per_audio / self._size
        late = _late([*queued, *planned, *extra], now + left / self._size, seconds, tolerance)
        return late and not _late(list(extra), now, seconds, tolerance)

    def speaking_rate(self) -> float:
        """Characters per second of audio at speed 1, as measured lately, for deadlines."""
        with self._cond:
            if self._recent_audio < _MIN_MEASURED_AUDIO_SECONDS:
                return CHARS_PER_SECOND
            return self._recent_chars / self._recent_audio

    def _compute_per_audio_second(self) -> float:
        # Called with the lock held. Nothing measured yet: no lead beyond the fixed margin.
        if self._recent_audio <= 0:
            return 0.0
        return self._recent_busy / self._recent_audio

    def _next_batch(self, urgent: bool) -> list[WorkItem] | None:
        with self._cond:
            while urgent:
                found, wait = self._pop_urgent()
                if found is not None:
                    # Latency is the point here: no waiting to fill a batch.
                    return self._taken([found])
                if self._stopping:
                    return None
                self._cond.wait(wait)
            while (first := self._pop_live()) is None:
                if self._stopping:
                    return None
                self._cond.wait()
            batch = [first]
            limit = self._engines[first.engine].capabilities.max_batch_size
            # Engines that gain from batches get a short wait for more work of the same engine,
            # taken in priority order.
            give_up = time.monotonic() + self._batch_wait
            while len(batch) < limit:
                skipped: list[WorkItem] = []
                while len(batch) < limit and (item := self._pop_live(first.engine, skipped)):
                    batch.append(item)
                for item in skipped:
                    heapq.heappush(self._heap, (item.sort_key, item))
                remaining = give_up - time.monotonic()
                if len(batch) >= limit or remaining <= 0 or self._stopping:
                    break
                self._cond.wait(remaining)
            return self._taken(batch)

    def _taken(self, batch: list[WorkItem]) -> list[WorkItem]:
        # Called with the lock held.
        self._busy += 1
        now = time.monotonic()
        for item in batch:
            item.started_at = now
            self._running[id(item)] = item
        return batch

    def _run(self, urgent: bool, warmup: Sequence[WarmupTask], warmed: threading.Event) -> None:
        sessions: dict[str, EngineSession] = {}
        try:
            self._warm_up(sessions, warmup, warmed)
            if not urgent:
                _lower_priority(self._background_nice)
            while (batch := self._next_batch(urgent)) is not None:
                started = time.perf_counter()
                engine = batch[0].engine
                self._began(engine, batch)
                try:
                    session = self._session(sessions, engine)
                    with recording() as stages:
                        audios = self._synthesize(session, batch)
                except Exception as exc:
                    if not isinstance(exc, SpeakerError):
                        log.exception("engine %s failed on a batch of %d", engine, len(batch))
                    self._finish(started, batch, failed=True)
                    self._metrics.failed(engine, len(batch))
                    for item in batch:
                        item.future.set_exception(exc)
                else:
                    audio_seconds = sum(a.duration for a in audios)
                    compute = self._finish(started, batch, audio_seconds=audio_seconds)
                    finished = time.monotonic()
                    self._metrics.synthesized(
                        engine, [_voice_label(i) for i in batch], compute, audio_seconds, stages
                    )
                    for item, audio in zip(batch, audios, strict=True):
                        # Set before the result, which is what tells the stream to read them.
                        item.stages = stages
                        item.finished_at = finished
                        item.future.set_result(audio)
        finally:
            for session in sessions.values():
                session.close()

    def _session(self, sessions: dict[str, EngineSession], engine: str) -> EngineSession:
        """The calling worker's session of `engine`, opened on first use."""
        session = sessions.get(engine)
        if session is None:
            session = sessions[engine] = self._engines[engine].open_session()
        return session

    def _warm_up(
        self,
        sessions: dict[str, EngineSession],
        warmup: Sequence[WarmupTask],
        warmed: threading.Event,
    ) -> None:
        # Not measured: a warm-up is slower than work (memory is being allocated), and every
        # worker runs at once, ordinary ones included at full priority, to reach peak memory.
        try:
            for task in warmup:
                session = self._session(sessions, task.engine)
                session.synthesize(task.text, task.voice_id, SynthesisParams())
        except Exception:
            log.warning("warm-up failed; the worker serves without it", exc_info=True)
        finally:
            warmed.set()

    def _began(self, engine: str, batch: list[WorkItem]) -> None:
        now = time.monotonic()
        for item in batch:
            # Batch jobs' chunks wait behind every listener by design: timed apart, so that
            # `queue` shows what listeners wait.
            name = "queue" if item.tier == INTERACTIVE else "batch_queue"
            self._metrics.stage(engine, name, now - item.enqueued_at)

    @staticmethod
    def _synthesize(session: EngineSession, batch: list[WorkItem]) -> list[AudioSegment]:
        if len(batch) == 1:
            item = batch[0]
            if item.on_piece is not None and isinstance(session, StreamingEngineSession):
                return [WorkerPool._stream_one(session, item, item.on_piece)]
            return [session.synthesize(item.text, item.voice_id, item.params)]
        assert isinstance(session, BatchEngineSession)
        return session.synthesize_batch(
            [SynthesisTask(item.text, item.voice_id, item.params) for item in batch]
        )

    @staticmethod
    def _stream_one(
        session: StreamingEngineSession, item: WorkItem, deliver: Callable[[AudioSegment], None]
    ) -> AudioSegment:
        pieces = []
        for piece in session.synthesize_stream(
            item.text, item.voice_id, item.params, item.abandoned.is_set
        ):
            deliver(piece)
            pieces.append(piece)
        rate = pieces[0].sample_rate if pieces else 24_000
        samples = [p.samples for p in pieces] or [np.zeros(0, dtype=np.float32)]
        return AudioSegment(np.concatenate(samples), rate)

    def _finish(
        self,
        started: float,
        batch: list[WorkItem],
        *,
        failed: bool = False,
        audio_seconds: float = 0.0,
    ) -> float:
        """Account for a finished engine call; returns its wall seconds."""
        busy = time.perf_counter() - started
        size = len(batch)
        with self._cond:
            self._busy -= 1
            for item in batch:
                self._running.pop(id(item), None)
            self._busy_seconds += busy
            self._audio_seconds += audio_seconds
            # A decaying window (about the last 50 items) follows changes in CPU contention.
            self._recent_busy = self._recent_busy * _RECENT_DECAY + busy
            self._recent_audio = self._recent_audio * _RECENT_DECAY + audio_seconds
            spoken = 0.0 if failed else sum(len(i.text) / i.params.speed for i in batch)
            self._recent_chars = self._recent_chars * _RECENT_DECAY + spoken
            self._batches += 1
            if failed:
                self._failed += size
            else:
                self._completed += size
        return busy
