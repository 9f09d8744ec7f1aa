"""The audio cache in front of synthesis: replay a kept response, or keep a fresh one."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO

from speaker.cache.keys import SpeechKeys
from speaker.cache.store import HEADER_SIZE, AudioCache, CachedAudio, CacheStats, pack_header
from speaker.service import EncodedChunk, PreparedSpeech, SpeechOrder, SpeechService

REPLAY_PIECE_BYTES = 64 * 1024
"""A hit is sent in pieces this size, so it streams like a fresh response."""
_SPOOL_MEMORY = 1024 * 1024
"""A response being kept stays in memory up to this size, then goes to a temporary file."""


class CachePolicy(StrEnum):
    """What a request allows the cache to do."""

    USE = "use"
    """Serve from the cache when it holds the response, else synthesize and keep it."""
    REFRESH = "refresh"
    """Synthesize anew and keep the result in place of what the cache held (`no-cache`)."""
    SKIP = "skip"
    """Neither read nor keep (`no-store`)."""


class CacheStatus(StrEnum):
    """Where a response came from, as `x-speaker-cache` says."""

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"


@dataclass(frozen=True)
class ServedSpeech:
    """A response's chunks and where they come from (status None: the cache is off)."""

    status: CacheStatus | None
    chunks: AsyncGenerator[EncodedChunk, None]


@dataclass(frozen=True)
class CachedSynthesis:
    """A whole response, for callers that want bytes rather than a stream (batch job items)."""

    speech: PreparedSpeech
    data: bytes
    audio_seconds: float
    status: CacheStatus | None


async def _replay(entry: CachedAudio) -> AsyncGenerator[EncodedChunk, None]:
    """A kept response in pieces; the last carries the audio seconds and closes the file."""
    remaining = entry.size
    index = 0
    try:
        while True:
            size = min(REPLAY_PIECE_BYTES, remaining)
            piece = await asyncio.to_thread(entry.body.read, size) if size else b""
            remaining -= len(piece)
            last = remaining <= 0 or not piece
            yield EncodedChunk(index, "", piece, entry.audio_seconds if last else 0.0, last)
            if last:
                return
            index += 1
    finally:
        entry.close()


def _keep(store: AudioCache, key: str, spool: IO[bytes], size: int, seconds: float) -> None:
    """Write the header now that the seconds are known, then store the whole entry."""
    spool.seek(0)
    spool.write(pack_header(seconds))
    spool.seek(0)
    store.put(key, spool, HEADER_SIZE + size)


async def _tee(
    store: AudioCache, key: str, chunks: AsyncGenerator[EncodedChunk, None]
) -> AsyncGenerator[EncodedChunk, None]:
    """Pass chunks through and keep a copy, stored only once the stream has ended whole."""
    size = 0
    seconds = 0.0
    finished = False
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY) as spool:
        spool.write(pack_header(0.0))
        try:
            async for chunk in chunks:
                # Past the entry limit the copy stops growing; `put` then counts it as skipped.
                if size + len(chunk.data) <= store.max_entry_bytes:
                    # A page-cache write of one chunk: too quick to be worth a thread hop.
                    spool.write(chunk.data)
                size += len(chunk.data)
                seconds += chunk.audio_seconds
                finished = chunk.last
                yield chunk
            if not finished:
                store.note("incomplete")
                return
            await asyncio.to_thread(_keep, store, key, spool, size, seconds)
        except BaseException:
            # A disconnect (GeneratorExit), a cancellation or an engine error: nothing is kept.
            store.note("incomplete")
            raise
        finally:
            await chunks.aclose()


class SpeechCache:
    """Serves prepared requests from the audio cache, or synthesizes them and keeps them."""

    def __init__(self, store: AudioCache | None, service: SpeechService, keys: SpeechKeys) -> None:
        self._store = store
        self._service = service
        self._keys = keys

    def stats(self) -> CacheStats:
        """Hit, miss, store… counters of the backend (backend `off`: all zero)."""
        return self._store.stats() if self._store is not None else CacheStats("off")

    async def open(
        self, order: SpeechOrder, speech: PreparedSpeech, policy: CachePolicy = CachePolicy.USE
    ) -> ServedSpeech:
        """The response's chunks: replayed from the cache on a hit, else synthesized (and kept).

        `speech` must come from `SpeechService.prepare(order)`, so that validation and limits
        apply to cached answers too.
        """
        store = self._store
        if store is None:
            return ServedSpeech(None, self._service.stream(speech))
        if policy is CachePolicy.SKIP:
            store.note("bypasses")
            return ServedSpeech(CacheStatus.BYPASS, self._service.stream(speech))
        key = await asyncio.to_thread(self._keys.key, order, speech)
        if policy is CachePolicy.REFRESH:
            store.note("bypasses")
            status = CacheStatus.BYPASS
        else:
            entry = await asyncio.to_thread(store.get, key)
            if entry is not None:
                return ServedSpeech(CacheStatus.HIT, _replay(entry))
            status = CacheStatus.MISS
        return ServedSpeech(status, _tee(store, key, self._service.stream(speech)))

    async def synthesize(
        self, order: SpeechOrder, *, long_form: bool = False, policy: CachePolicy = CachePolicy.USE
    ) -> CachedSynthesis:
        """The whole response for an order, from the cache when it holds it (batch job items)."""
        speech = await self._service.prepare(order, long_form=long_form)
        served = await self.open(order, speech, policy)
        parts: list[bytes] = []
        seconds = 0.0
        try:
            async for chunk in served.chunks:
                parts.append(chunk.data)
                seconds += chunk.audio_seconds
        finally:
            await served.chunks.aclose()
        return CachedSynthesis(speech, b"".join(parts), seconds, served.status)

    def close(self) -> None:
        """Close the backend."""
        if self._store is not None:
            self._store.close()
