"""A stream: one request's chunks fed to the pool a few at a time, delivered in order."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from speaker.engines.base import AudioSegment, SynthesisParams
from speaker.scheduler.pool import WorkerPool
from speaker.scheduler.work import WorkItem

_stream_ids = itertools.count(1)

# Rough speaking rate used to guess playback deadlines before the audio exists.
CHARS_PER_SECOND = 14.0
# A first chunk is due this soon after the request: it goes ahead of later chunks whose
# listeners still have more than this much audio buffered, and behind those about to run dry.
FIRST_AUDIO_SLACK = 0.2


class SpeechStream:
    """Synthesizes chunks in order with a bounded number in flight, cancellable at any time."""

    def __init__(
        self,
        pool: WorkerPool,
        engine: str,
        voice_id: str,
        params: SynthesisParams,
        chunks: Sequence[str],
        lookahead: int,
        *,
        open_ended: bool = False,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self.id = next(_stream_ids)
        self._pool = pool
        self._engine = engine
        self._voice_id = voice_id
        self._params = params
        self._chunks = list(chunks)
        self._lookahead = max(1, lookahead)
        # Delivered items are replaced by None so a long stream does not keep all its audio.
        self._items: list[WorkItem | None] = []
        self._created = time.monotonic()
        self._first_audio_at: float | None = None
        self._delivered_seconds = 0.0
        self._delivered = 0
        self._closed = False
        self._ended = not open_ended
        self._more = asyncio.Event()
        self._on_finish = on_finish

    @property
    def chunk_count(self) -> int:
        """How many chunks the stream has been given so far."""
        return len(self._chunks)

    @property
    def ended(self) -> bool:
        """True once no more chunks will be appended."""
        return self._ended

    def append(self, chunks: Sequence[str]) -> None:
        """Add text chunks to an open-ended stream (text that arrives while audio plays)."""
        if self._ended:
            raise RuntimeError("stream already ended")
        self._chunks.extend(chunks)
        self._more.set()

    def end(self) -> None:
        """Declare that no more chunks will come."""
        self._ended = True
        self._more.set()

    def _estimate(self, text: str) -> float:
        return len(text) / (CHARS_PER_SECOND * self._params.speed)

    def _deadline(self, index: int) -> float:
        # When this chunk must be ready for gapless playback: the moment playback began (or is
        # expected to begin) plus the audio delivered so far plus the estimated length of the
        # chunks still before it.
        if self._first_audio_at is not None:
            anchor = self._first_audio_at
        else:
            anchor = self._created + FIRST_AUDIO_SLACK
        pending = sum(self._estimate(t) for t in self._chunks[self._delivered : index])
        return anchor + self._delivered_seconds + pending

    def _fill(self) -> None:
        limit = min(len(self._chunks), self._delivered + self._lookahead)
        while len(self._items) < limit:
            index = len(self._items)
            item = WorkItem(
                engine=self._engine,
                text=self._chunks[index],
                voice_id=self._voice_id,
                params=self._params,
                stream_id=self.id,
                index=index,
                deadline=self._deadline(index),
            )
            self._items.append(item)
            self._pool.submit(item)

    async def segments(self) -> AsyncGenerator[tuple[int, AudioSegment], None]:
        """Yield `(index, audio)` for each chunk in order; closing the iterator cancels the rest."""
        try:
            while not self._closed:
                if self._delivered == len(self._chunks):
                    if self._ended:
                        break
                    self._more.clear()
                    await self._more.wait()
                    continue
                self._fill()
                item = self._items[self._delivered]
                assert item is not None
                audio = await asyncio.wrap_future(item.future)
                self._items[self._delivered] = None
                if self._first_audio_at is None:
                    self._first_audio_at = time.monotonic()
                index = self._delivered
                self._delivered += 1
                self._delivered_seconds += audio.duration
                yield index, audio
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Drop every chunk not yet synthesized and give back the stream's admission slot."""
        self._closed = True
        for item in self._items[self._delivered :]:
            if item is not None:
                item.future.cancel()
        if self._on_finish is not None:
            self._on_finish()
            self._on_finish = None

    def remaining_chars(self) -> int:
        """Characters not yet delivered as audio."""
        return sum(len(t) for t in self._chunks[self._delivered :])
