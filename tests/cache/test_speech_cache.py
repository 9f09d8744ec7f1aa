"""`SpeechCache.synthesize`, the whole-file entry point (batch job items), with a small disk cap."""

from __future__ import annotations

import asyncio
from pathlib import Path

from speaker.audio.formats import AudioFormat
from speaker.cache import CachePolicy, CacheStatus, DiskAudioCache, SpeechCache, SpeechKeys
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.helpers import decode

TEXT = "Batch items go through the same cache as streamed requests, and come back whole."


def _cache(runtime: Runtime, directory: Path, cap: int) -> SpeechCache:
    keys = SpeechKeys(runtime.engines, runtime.engine_infos, runtime.library, 250, "test")
    return SpeechCache(DiskAudioCache(directory, size_limit=cap), runtime.service, keys)


def test_synthesize_keeps_and_replays_whole_files(runtime: Runtime, tmp_path: Path) -> None:
    cache = _cache(runtime, tmp_path, 100_000_000)
    order = SpeechOrder(text=TEXT, model="tts-1", fmt=AudioFormat.FLAC)
    fresh = asyncio.run(cache.synthesize(order))
    kept = asyncio.run(cache.synthesize(order))
    assert (fresh.status, kept.status) == (CacheStatus.MISS, CacheStatus.HIT)
    assert kept.data == fresh.data
    assert kept.audio_seconds == fresh.audio_seconds > 2
    assert decode(kept.data, "flac").duration > 2
    refreshed = asyncio.run(cache.synthesize(order, policy=CachePolicy.REFRESH))
    assert refreshed.status == CacheStatus.BYPASS
    assert asyncio.run(cache.synthesize(order)).data == refreshed.data
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.bypasses, stats.stores) == (2, 1, 1, 2)
    cache.close()


def test_a_response_over_the_entry_limit_streams_but_is_not_kept(
    runtime: Runtime, tmp_path: Path
) -> None:
    # A 1.6 MB cap keeps entries up to 100 kB; five seconds of WAV are about 240 kB.
    cache = _cache(runtime, tmp_path, 1_600_000)
    order = SpeechOrder(text=TEXT, model="tts-1", fmt=AudioFormat.WAV)
    results = [asyncio.run(cache.synthesize(order)) for _ in range(2)]
    assert [r.status for r in results] == [CacheStatus.MISS, CacheStatus.MISS]
    assert all(len(r.data) > 100_000 for r in results)
    stats = cache.stats()
    assert (stats.skipped, stats.stores, stats.entries) == (2, 0, 0)
    cache.close()
