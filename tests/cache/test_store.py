"""The audio cache's backends: a capped LRU disk cache and Redis, with their counters."""

from __future__ import annotations

import io
from pathlib import Path

from redis import Redis

from speaker.cache import DiskAudioCache, RedisAudioCache
from speaker.cache.store import HEADER_SIZE, REDIS_PREFIX, pack_header
from tests.helpers import free_port
from tests.servers import RedisServer


def _entry(payload: bytes, seconds: float = 1.5) -> tuple[io.BytesIO, int]:
    data = pack_header(seconds) + payload
    return io.BytesIO(data), len(data)


def _read(cache: DiskAudioCache | RedisAudioCache, key: str) -> bytes | None:
    entry = cache.get(key)
    if entry is None:
        return None
    try:
        return entry.body.read()
    finally:
        entry.close()


def test_disk_round_trip_keeps_bytes_and_seconds(tmp_path: Path) -> None:
    cache = DiskAudioCache(tmp_path, size_limit=10_000_000)
    payload = bytes(range(256)) * 400
    assert cache.put("k", *_entry(payload, seconds=2.25))
    entry = cache.get("k")
    assert entry is not None
    assert (entry.audio_seconds, entry.size) == (2.25, len(payload))
    assert entry.body.read() == payload
    entry.close()
    assert cache.get("other") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.stores, stats.entries) == (1, 1, 1, 1)
    cache.close()
    # Entries outlive the process: a restarted server finds them.
    reopened = DiskAudioCache(tmp_path, size_limit=10_000_000)
    assert _read(reopened, "k") == payload
    reopened.close()


def test_disk_evicts_least_recently_used_and_stays_under_the_cap(tmp_path: Path) -> None:
    cap = 1_000_000
    cache = DiskAudioCache(tmp_path, size_limit=cap)
    payload = b"\x01" * 50_000
    for i in range(40):
        assert cache.put(f"k{i}", *_entry(payload))
        # k0 is asked for after every write: the most popular entry is never the oldest.
        assert _read(cache, "k0") == payload
        assert cache.stats().bytes <= cap
    present = [i for i in range(40) if _read(cache, f"k{i}") is not None]
    assert 0 in present
    assert 39 in present
    assert 1 not in present
    # What went is exactly the oldest run of entries, in the order they were last used.
    assert present == [0, *range(40 - len(present) + 1, 40)]
    stats = cache.stats()
    assert stats.evictions == 40 - len(present)
    assert stats.entries == len(present)
    cache.close()


def test_an_entry_over_the_limit_is_not_kept(tmp_path: Path) -> None:
    cache = DiskAudioCache(tmp_path, size_limit=1_600_000)
    assert cache.max_entry_bytes == 100_000
    assert not cache.put("big", *_entry(b"\x00" * 100_001))
    assert cache.put("fits", *_entry(b"\x00" * 100_000))
    assert cache.get("big") is None
    stats = cache.stats()
    assert (stats.skipped, stats.stores) == (1, 1)
    cache.close()


def test_redis_entries_have_prefix_ttl_and_counters(redis_server: RedisServer) -> None:
    redis_server.flush()
    with Redis.from_url(redis_server.url) as client:
        cache = RedisAudioCache(client, ttl_s=600, max_entry_bytes=1000)
        assert cache.put("k", *_entry(b"abc" * 100, seconds=0.5))
        assert not cache.put("big", *_entry(b"\x00" * 1001))
        assert client.get(REDIS_PREFIX + "k") == pack_header(0.5) + b"abc" * 100
        assert 0 < client.ttl(REDIS_PREFIX + "k") <= 600
        assert client.exists(REDIS_PREFIX + "big") == 0
        entry = cache.get("k")
        assert entry is not None
        assert (entry.audio_seconds, entry.size) == (0.5, 300)
        assert cache.get("missing") is None
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.stores, stats.skipped) == (1, 1, 1, 1)
        assert HEADER_SIZE == 12


def test_an_unreachable_redis_is_a_miss_not_an_error() -> None:
    with Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1) as client:
        cache = RedisAudioCache(client, ttl_s=60, max_entry_bytes=1000)
        assert cache.get("k") is None
        assert not cache.put("k", *_entry(b"abc"))
        stats = cache.stats()
        assert (stats.misses, stats.errors, stats.stores) == (1, 2, 0)


def test_redis_without_ttl_keeps_entries(redis_server: RedisServer) -> None:
    redis_server.flush()
    with Redis.from_url(redis_server.url) as client:
        cache = RedisAudioCache(client, ttl_s=0, max_entry_bytes=1000)
        assert cache.put("k", *_entry(b"abc"))
        assert _read(cache, "k") == b"abc"
        assert client.ttl(REDIS_PREFIX + "k") == -1
