"""Cloned voices' conditioning shared through Redis, so a second replica does not recompute it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from redis import Redis

from speaker.engines.base import EngineCapabilities, Samples
from speaker.storage.files import FileStore
from speaker.voices.conditioning import ConditioningCache, file_name, shared_key
from speaker.voices.records import new_id
from tests.servers import RedisServer

SAMPLES = np.linspace(-0.5, 0.5, 24_000, dtype=np.float32)


class Conditioner:
    """The part of a cloning engine the conditioning cache calls; it counts its runs."""

    name = "clone"
    capabilities = EngineCapabilities(cloning=True)

    def __init__(self) -> None:
        self.conditioning_version = "clone:1"
        self.runs = 0

    def condition(
        self, samples: Samples, sample_rate: int, transcript: str
    ) -> dict[str, npt.NDArray[np.generic]]:
        self.runs += 1
        return {
            "codes": np.arange(12, dtype=np.int64).reshape(3, 4) + len(transcript),
            "head": samples[:8].copy(),
        }


def _store(root: Path, voice_id: str) -> FileStore:
    files = FileStore(root)
    files.path(voice_id).mkdir()
    return files


def _audio() -> tuple[Samples, int]:
    return SAMPLES, 24_000


def _never() -> tuple[Samples, int]:
    raise AssertionError("the reference audio was read: the conditioning was recomputed")


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[Redis]:
    redis_server.flush()
    with Redis.from_url(redis_server.url) as client:
        yield client


def test_a_second_replica_reads_what_the_first_computed(tmp_path: Path, redis: Redis) -> None:
    engine = Conditioner()
    voice_id = new_id("voice")
    first = ConditioningCache(_store(tmp_path / "a", voice_id), shared=redis)
    made = first.reference(engine, voice_id, "hello there", _audio)
    assert engine.runs == 1
    assert (tmp_path / "a" / voice_id / file_name("clone")).is_file()

    # Another replica: its own empty data directory, the same Redis.
    second = ConditioningCache(FileStore(tmp_path / "b"), shared=redis)
    read = second.reference(engine, voice_id, "hello there", _never)
    assert engine.runs == 1
    assert read.conditioning.keys() == made.conditioning.keys()
    for key, array in made.conditioning.items():
        np.testing.assert_array_equal(read.conditioning[key], array)
        assert read.conditioning[key].dtype == array.dtype
    assert not (tmp_path / "b" / voice_id).exists()


def test_other_transcripts_and_versions_are_recomputed(tmp_path: Path, redis: Redis) -> None:
    engine = Conditioner()
    voice_id = new_id("voice")
    first = ConditioningCache(_store(tmp_path / "a", voice_id), shared=redis)
    first.reference(engine, voice_id, "hello there", _audio)

    edited = ConditioningCache(_store(tmp_path / "b", voice_id), shared=redis)
    edited.reference(engine, voice_id, "a new transcript", _audio)
    assert engine.runs == 2
    engine.conditioning_version = "clone:2"
    upgraded = ConditioningCache(_store(tmp_path / "c", voice_id), shared=redis)
    upgraded.reference(engine, voice_id, "hello there", _audio)
    assert engine.runs == 3


def test_forgetting_a_voice_drops_it_from_redis(tmp_path: Path, redis: Redis) -> None:
    engine = Conditioner()
    voice_id = new_id("voice")
    cache = ConditioningCache(_store(tmp_path / "a", voice_id), shared=redis)
    cache.reference(engine, voice_id, "hello there", _audio)
    assert redis.exists(shared_key(voice_id)) == 1
    cache.forget(voice_id)
    assert redis.exists(shared_key(voice_id)) == 0


def test_without_redis_each_data_directory_computes_its_own(tmp_path: Path) -> None:
    engine = Conditioner()
    voice_id = new_id("voice")
    for root in ("a", "b"):
        cache = ConditioningCache(_store(tmp_path / root, voice_id))
        cache.reference(engine, voice_id, "hello there", _audio)
    assert engine.runs == 2
    # The same directory again: read from its file, not recomputed.
    again = ConditioningCache(FileStore(tmp_path / "a"))
    again.reference(engine, voice_id, "hello there", _never)
    assert engine.runs == 2
