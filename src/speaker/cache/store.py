"""Where finished audio responses are kept: on the local disk, or in Redis for several replicas.

The disk backend is `diskcache`: a SQLite index plus one file per large value, safe for several
threads and processes at once, with a size cap and least-recently-used eviction built in.
`cachetools` would keep everything in memory (a 1 GiB cache would be 1 GiB of RSS, lost at every
restart), and hand-written files would need their own index, locking, size accounting and
eviction, which is what diskcache already is.

In Redis, entries expire after `SPEAKER_CACHE_TTL_S` and Redis' own memory policy
(`maxmemory-policy allkeys-lru`) evicts the least recently used ones when it is full.

An entry is a 12-byte header (magic, seconds of audio as a double) followed by the encoded file;
the seconds let a cached answer report the same usage as a fresh one.
"""

from __future__ import annotations

import io
import logging
import struct
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal

import diskcache
from redis import Redis, RedisError

from speaker.config import Settings

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<4sd")
_MAGIC = b"SPKA"
HEADER_SIZE = _HEADER.size
MAX_ENTRY_BYTES = 64 * 1024 * 1024
"""No entry is larger, whatever the cap: a longer response is streamed but not kept."""
REDIS_PREFIX = "speaker:audio:"


def pack_header(audio_seconds: float) -> bytes:
    """The header that starts every stored entry."""
    return _HEADER.pack(_MAGIC, audio_seconds)


def entry_limit(cache_max_bytes: int) -> int:
    """Largest entry kept under a cap: a sixteenth of it, and never over 64 MiB.

    A sixteenth keeps one long response from flushing the rest of the cache.
    """
    return min(MAX_ENTRY_BYTES, cache_max_bytes // 16)


@dataclass(frozen=True)
class CachedAudio:
    """One cache hit: the seconds of audio it holds and a reader positioned on the file."""

    audio_seconds: float
    size: int
    body: IO[bytes]

    def close(self) -> None:
        """Release the reader."""
        self.body.close()


@dataclass(frozen=True)
class CacheStats:
    """Counters since start, plus the backend's size where it can tell it cheaply."""

    backend: str
    hits: int = 0
    misses: int = 0
    bypasses: int = 0
    """Requests that asked not to be served from the cache."""
    stores: int = 0
    skipped: int = 0
    """Finished responses larger than the entry limit, so not kept."""
    incomplete: int = 0
    """Streams that ended early (disconnect, cancel, error), so not kept."""
    evictions: int = 0
    errors: int = 0
    entries: int | None = None
    bytes: int | None = None


Event = Literal["bypasses", "skipped", "incomplete"]


class AudioCache(ABC):
    """Finished responses by key; every method blocks, so async callers run them in a thread."""

    backend = "none"

    def __init__(self, max_entry_bytes: int) -> None:
        self.max_entry_bytes = max_entry_bytes
        self._stats = CacheStats(self.backend)
        self._lock = threading.Lock()

    def _count(self, **deltas: int) -> None:
        with self._lock:
            current = self._stats
            self._stats = replace(
                current, **{name: getattr(current, name) + n for name, n in deltas.items()}
            )

    def note(self, event: Event) -> None:
        """Count something the caller saw: a bypass, an oversized or an unfinished response."""
        self._count(**{event: 1})

    def get(self, key: str) -> CachedAudio | None:
        """The entry under `key`, counting a hit or a miss; a broken backend counts as a miss."""
        try:
            entry = self._get(key)
        except (OSError, RedisError, diskcache.Timeout) as exc:
            log.warning("audio cache read failed: %s", exc)
            self._count(errors=1, misses=1)
            return None
        if entry is None:
            self._count(misses=1)
        else:
            self._count(hits=1)
        return entry

    def put(self, key: str, entry: IO[bytes], size: int) -> bool:
        """Store a whole entry (header included, read from its start); False if not kept."""
        if size - HEADER_SIZE > self.max_entry_bytes:
            self._count(skipped=1)
            return False
        try:
            evicted = self._put(key, entry, size)
        except (OSError, RedisError, diskcache.Timeout) as exc:
            log.warning("audio cache write failed: %s", exc)
            self._count(errors=1)
            return False
        self._count(stores=1, evictions=evicted)
        return True

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            return self._stats

    @abstractmethod
    def _get(self, key: str) -> CachedAudio | None: ...

    @abstractmethod
    def _put(self, key: str, entry: IO[bytes], size: int) -> int:
        """Store an entry; return how many others were evicted to make room."""

    @abstractmethod
    def close(self) -> None:
        """Release files and connections."""


def _open_entry(body: IO[bytes], size: int) -> CachedAudio | None:
    """Read an entry's header; None (and the reader closed) if it is not one of ours."""
    header = body.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or header[:4] != _MAGIC:
        body.close()
        return None
    _, seconds = _HEADER.unpack(header)
    return CachedAudio(audio_seconds=seconds, size=size - HEADER_SIZE, body=body)


class DiskAudioCache(AudioCache):
    """diskcache under the data directory, capped at `size_limit` bytes, LRU first out."""

    backend = "disk"

    def __init__(self, directory: Path, size_limit: int) -> None:
        super().__init__(entry_limit(size_limit))
        # Automatic culling is off (cull_limit=0) so that `put` culls itself and learns how
        # many entries went; diskcache's own cull drops ten at a time even when one would do.
        self._cache = diskcache.Cache(
            str(directory),
            size_limit=size_limit,
            eviction_policy="least-recently-used",
            cull_limit=0,
        )

    def _get(self, key: str) -> CachedAudio | None:
        body = self._cache.get(key, default=None, read=True)
        if body is None:
            return None
        body.seek(0, io.SEEK_END)
        size = body.tell()
        body.seek(0)
        return _open_entry(body, size)

    def _put(self, key: str, entry: IO[bytes], size: int) -> int:
        self._cache.set(key, entry, read=True)
        evicted: int = self._cache.cull()
        return evicted

    def stats(self) -> CacheStats:
        """Counters plus the entry count and bytes on disk (index included)."""
        return replace(super().stats(), entries=len(self._cache), bytes=self._cache.volume())

    def close(self) -> None:
        """Close the index."""
        self._cache.close()


class RedisAudioCache(AudioCache):
    """Entries under `speaker:audio:<key>` with a TTL; Redis' memory policy evicts the rest."""

    backend = "redis"

    def __init__(self, redis: Redis, ttl_s: int, max_entry_bytes: int) -> None:
        super().__init__(max_entry_bytes)
        self._redis = redis
        self._ttl = ttl_s or None

    def _get(self, key: str) -> CachedAudio | None:
        # GETEX renews the TTL, so entries in use stay while unused ones expire.
        data = self._redis.getex(REDIS_PREFIX + key, ex=self._ttl)
        if not isinstance(data, bytes):
            return None
        return _open_entry(io.BytesIO(data), len(data))

    def _put(self, key: str, entry: IO[bytes], size: int) -> int:
        self._redis.set(REDIS_PREFIX + key, entry.read(), ex=self._ttl)
        return 0

    def close(self) -> None:
        """Nothing to release: the Redis client belongs to the runtime."""


def open_audio_cache(settings: Settings, redis: Redis | None) -> AudioCache | None:
    """The cache the settings ask for: Redis when configured, else the disk; None when off."""
    if settings.cache_max_bytes == 0:
        return None
    if redis is not None:
        return RedisAudioCache(redis, settings.cache_ttl_s, entry_limit(settings.cache_max_bytes))
    directory = settings.data_dir / "cache" / "audio"
    directory.mkdir(parents=True, exist_ok=True)
    return DiskAudioCache(directory, settings.cache_max_bytes)
