"""A stream: one request's chunks fed to the pool a few at a time, delivered in order."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from speaker.engines.base import AudioSegment, SynthesisParams
from speaker.observability.timing import ChunkTiming
from speaker.scheduler.pool import WorkerPool
from speaker.scheduler.work import INTERACTIVE, WorkItem

_stream_ids = itertools.count(1)

# A first chunk is due this soon after the request: it goes ahead of later chunks whose
# listeners still have more than this much audio buffered, and behind those about to run dry.
FIRST_AUDIO_SLACK = 0.2


@dataclass(frozen=True)
class Piece:
    """Audio of one chunk, or part of it when the engine streams within a chunk."""

    index: int
    audio: AudioSegment
    opens: bool
    """First audio of its chunk (a seam with the previous chunk)."""
    closes: bool
    """Last audio of its chunk; a streamed chunk ends with an empty closing piece."""
    timing: ChunkTiming | None = None
    """How the chunk's first audio came to be; only on the piece that opens a chunk."""


def _deliverer(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[AudioSegment]
) -> Callable[[AudioSegment], None]:
    """A thread-safe callback that hands a worker's audio to the stream's event loop."""

    def deliver(piece: AudioSegment) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, piece)

    return deliver


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
        tier: int = INTERACTIVE,
    ) -> None:
        self.id = next(_stream_ids)
        self._tier = tier
        self._pool = pool
        self._engine = engine
        self._voice_id = voice_id
        self._params = params
        self._chunks = list(chunks)
        self._lookahead = max(1, lookahead)
        # Delivered items are replaced by None so a long stream does not keep all its audio.
        self._items: list[WorkItem | None] = []
        self._queues: dict[int, asyncio.Queue[AudioSegment]] = {}
        self._streamed = False
        self._created = time.monotonic()
        self._first_audio_at: float | None = None
        self._delivered_seconds = 0.0
        self._delivered = 0
        self._closed = False
        self._ended = not open_ended
        self._more = asyncio.Event()
        self._on_finish: Callable[[], None] | None = None

    def hold(self, release: Callable[[], None]) -> None:
        """Call `release` (an admission slot's) once, when the stream ends or is cancelled."""
        self._on_finish = release

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
        # The measured speaking rate: a guess that runs slow puts every deadline too late.
        return len(text) / (self._pool.speaking_rate() * self._params.speed)

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

    def planned(self, until: float = 0.0) -> list[tuple[float, float, bool]]:
        """`(deadline, audio estimate, first)` of the chunks not queued yet that the stream
        queues as soon as it is read or that are due before `until` (monotonic): work an
        admission decision must count before it exists."""
        if self._closed or len(self._items) >= len(self._chunks):
            return []
        queued_next = min(len(self._chunks), self._delivered + self._lookahead)
        entries = []
        deadline = self._deadline(len(self._items))
        # Each chunk is due once the one before it has played: deadlines add up, chunk by chunk.
        for index in range(len(self._items), len(self._chunks)):
            if index >= queued_next and deadline > until:
                break
            estimate = self._estimate(self._chunks[index])
            entries.append((deadline, estimate, index == 0))
            deadline += estimate
        return entries

    def _fill(self) -> None:
        limit = min(len(self._chunks), self._delivered + self._lookahead)
        loop = asyncio.get_running_loop()
        while len(self._items) < limit:
            index = len(self._items)
            queue: asyncio.Queue[AudioSegment] = asyncio.Queue()
            self._queues[index] = queue
            item = WorkItem(
                engine=self._engine,
                text=self._chunks[index],
                voice_id=self._voice_id,
                params=self._params,
                stream_id=self.id,
                index=index,
                deadline=self._deadline(index),
                tier=self._tier,
                audio_estimate=self._estimate(self._chunks[index]),
                on_piece=_deliverer(loop, queue) if self._streamed else None,
            )
            self._items.append(item)
            self._pool.submit(item)

    async def segments(self) -> AsyncGenerator[tuple[int, AudioSegment], None]:
        """Yield `(index, audio)` for each whole chunk in order; closing it cancels the rest."""
        pieces = self.pieces(streamed=False)
        try:
            async for piece in pieces:
                yield piece.index, piece.audio
        finally:
            await pieces.aclose()

    async def pieces(self, *, streamed: bool = True) -> AsyncGenerator[Piece, None]:
        """Yield audio in order as it is made, within chunks too for engines that stream.

        Closing the iterator cancels the rest, including a chunk still being generated.
        """
        self._streamed = streamed
        try:
            while not self._closed:
                if self._delivered == len(self._chunks):
                    if self._ended:
                        break
                    self._more.clear()
                    await self._more.wait()
                    continue
                self._fill()
                index = self._delivered
                item = self._items[index]
                assert item is not None
                async for piece in self._chunk_pieces(index, item, streamed):
                    if self._first_audio_at is None:
                        self._first_audio_at = time.monotonic()
                    self._delivered_seconds += piece.audio.duration
                    yield piece
                self._items[index] = None
                self._queues.pop(index, None)
                self._delivered += 1
        finally:
            self.cancel()

    async def _chunk_pieces(
        self, index: int, item: WorkItem, streamed: bool
    ) -> AsyncGenerator[Piece, None]:
        done = asyncio.wrap_future(item.future)
        queue = self._queues[index]
        opened = False
        while streamed:
            getter = asyncio.ensure_future(queue.get())
            finished, _ = await asyncio.wait({getter, done}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in finished:
                getter.cancel()
                break
            yield self._streamed_piece(index, item, getter.result(), opened)
            opened = True
        audio = await done
        # Pieces are queued before the future resolves; collect any not yet taken.
        while streamed and not queue.empty():
            yield self._streamed_piece(index, item, queue.get_nowait(), opened)
            opened = True
        if opened:
            yield Piece(
                index, AudioSegment(np.zeros(0, np.float32), audio.sample_rate), False, True
            )
        else:
            timing = item.timing(item.finished_at or time.monotonic())
            yield Piece(index, audio, opens=True, closes=True, timing=timing)

    @staticmethod
    def _streamed_piece(index: int, item: WorkItem, audio: AudioSegment, opened: bool) -> Piece:
        timing = None if opened else item.timing(time.monotonic())
        return Piece(index, audio, opens=not opened, closes=False, timing=timing)

    def cancel(self) -> None:
        """Drop every chunk not yet synthesized and give back the stream's admission slot."""
        self._closed = True
        for item in self._items[self._delivered :]:
            if item is not None:
                item.cancel()
        if self._on_finish is not None:
            self._on_finish()
            self._on_finish = None

    def remaining_chars(self) -> int:
        """Characters not yet delivered as audio."""
        return sum(len(t) for t in self._chunks[self._delivered :])
