"""A pool of engine worker threads pulling work items in priority order."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from speaker.engines.base import Engine, EngineSession
from speaker.errors import OverloadedError, SpeakerError
from speaker.scheduler.work import WorkItem

log = logging.getLogger(__name__)

_RECENT_DECAY = 0.98


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
    characters: int
    recent_audio_seconds: float
    recent_busy_seconds: float


class WorkerPool:
    """Engine workers; each thread owns its own engine sessions and never touches the event loop."""

    def __init__(self, engines: Mapping[str, Engine], workers: int) -> None:
        self._engines = engines
        self._size = workers
        self._heap: list[tuple[tuple[int, float, int], WorkItem]] = []
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._busy = 0
        self._completed = 0
        self._failed = 0
        self._audio_seconds = 0.0
        self._busy_seconds = 0.0
        self._characters = 0
        self._recent_audio = 0.0
        self._recent_busy = 0.0

    def start(self) -> None:
        """Start the worker threads."""
        for n in range(self._size):
            thread = threading.Thread(target=self._run, name=f"speaker-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Fail queued work, let running items finish, and join the threads."""
        with self._cond:
            self._stopping = True
            pending = [item for _, item in self._heap]
            self._heap.clear()
            self._cond.notify_all()
        for item in pending:
            if item.future.set_running_or_notify_cancel():
                item.future.set_exception(
                    OverloadedError("the server is shutting down", code="shutting_down")
                )
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def submit(self, item: WorkItem) -> None:
        """Queue an item; its future resolves to the audio."""
        with self._cond:
            if self._stopping:
                raise OverloadedError("the server is shutting down", code="shutting_down")
            heapq.heappush(self._heap, (item.sort_key, item))
            self._cond.notify()

    def stats(self) -> PoolStats:
        """Counters and gauges of the pool."""
        with self._cond:
            return PoolStats(
                workers=self._size,
                busy=self._busy,
                queued=sum(1 for _, item in self._heap if not item.future.cancelled()),
                completed=self._completed,
                failed=self._failed,
                audio_seconds=self._audio_seconds,
                busy_seconds=self._busy_seconds,
                characters=self._characters,
                recent_audio_seconds=self._recent_audio,
                recent_busy_seconds=self._recent_busy,
            )

    def _next(self) -> WorkItem | None:
        with self._cond:
            while True:
                while self._heap:
                    _, item = heapq.heappop(self._heap)
                    # A cancelled future means the listener left: skip the work entirely.
                    if item.future.set_running_or_notify_cancel():
                        self._busy += 1
                        return item
                if self._stopping:
                    return None
                self._cond.wait()

    def _run(self) -> None:
        sessions: dict[str, EngineSession] = {}
        try:
            while (item := self._next()) is not None:
                started = time.perf_counter()
                try:
                    session = sessions.get(item.engine)
                    if session is None:
                        session = sessions[item.engine] = self._engines[item.engine].open_session()
                    audio = session.synthesize(item.text, item.voice_id, item.params)
                except SpeakerError as exc:
                    self._finish(started, failed=True)
                    item.future.set_exception(exc)
                except Exception as exc:
                    log.exception("engine %s failed on chunk %d", item.engine, item.index)
                    self._finish(started, failed=True)
                    item.future.set_exception(exc)
                else:
                    self._finish(started, audio_seconds=audio.duration, characters=len(item.text))
                    item.future.set_result(audio)
        finally:
            for session in sessions.values():
                session.close()

    def _finish(
        self,
        started: float,
        *,
        failed: bool = False,
        audio_seconds: float = 0.0,
        characters: int = 0,
    ) -> None:
        busy = time.perf_counter() - started
        with self._cond:
            self._characters += characters
            self._busy -= 1
            self._busy_seconds += busy
            self._audio_seconds += audio_seconds
            # A decaying window (about the last 50 items) follows changes in CPU contention.
            self._recent_busy = self._recent_busy * _RECENT_DECAY + busy
            self._recent_audio = self._recent_audio * _RECENT_DECAY + audio_seconds
            if failed:
                self._failed += 1
            else:
                self._completed += 1
