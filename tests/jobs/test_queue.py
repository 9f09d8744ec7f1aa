"""The queue transports: the database polled in-process, and a real Redis shared by replicas."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from speaker.jobs.queue import READY_KEY, LocalQueue, RedisQueue
from speaker.jobs.store import ClaimedItem, JobStore
from speaker.storage.database import Database, sqlite_url
from tests.jobs.support import items
from tests.servers import RedisServer


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[JobStore]:
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    yield JobStore(database, lease_s=30, max_attempts=3)
    database.close()


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[Redis]:
    redis_server.flush()
    client = Redis.from_url(redis_server.url)
    yield client
    client.close()


def _submit(store: JobStore, queue: RedisQueue | LocalQueue, count: int, priority: int) -> str:
    job_id, refs = store.submit(
        items(count), priority=priority, owner=None, key_id=None, metadata={}, webhook_url=None
    )
    queue.announce(refs)
    return job_id


def test_redis_hands_out_items_by_priority_then_age(sqlite_store: JobStore, redis: Redis) -> None:
    queue = RedisQueue(redis)
    low = _submit(sqlite_store, queue, 11, priority=8)
    high = _submit(sqlite_store, queue, 1, priority=0)
    order = []
    while (item := queue.take(sqlite_store, "w", 0.1)) is not None:
        order.append((item.job_id, item.n))
    # n=10 after n=9: positions compare as numbers, not as text.
    assert order == [(high, 0), *((low, n) for n in range(11))]
    assert redis.zcard(READY_KEY) == 0


def test_a_stale_reference_is_skipped_and_announcing_twice_is_harmless(
    sqlite_store: JobStore, redis: Redis
) -> None:
    queue = RedisQueue(redis)
    job_id = _submit(sqlite_store, queue, 2, priority=5)
    refs = sqlite_store.queued()
    queue.announce(refs)  # again: still one reference per item
    assert redis.zcard(READY_KEY) == 2
    # Another replica's worker polled the database directly and took item 0.
    assert sqlite_store.claim(job_id, 0, "elsewhere") is not None
    assert queue.take(sqlite_store, "w", 0.1) is None  # item 0's reference claims nothing
    taken = queue.take(sqlite_store, "w", 0.1)
    assert taken is not None
    assert (taken.job_id, taken.n) == (job_id, 1)


def test_an_item_whose_reference_died_with_its_process_is_found_again(
    sqlite_store: JobStore, redis: Redis
) -> None:
    queue = RedisQueue(redis)
    job_id = _submit(sqlite_store, queue, 1, priority=5)
    # A worker popped the reference and was killed before claiming the item.
    assert redis.zpopmin(READY_KEY)
    assert queue.take(sqlite_store, "w", 0.1) is None
    queue.resync(sqlite_store)
    taken = queue.take(sqlite_store, "w", 0.1)
    assert taken is not None
    assert (taken.job_id, taken.n) == (job_id, 0)


def test_two_replicas_share_one_redis_queue(
    sqlite_store: JobStore, redis: Redis, redis_server: RedisServer
) -> None:
    other = Redis.from_url(redis_server.url)
    first, second = RedisQueue(redis), RedisQueue(other)
    _submit(sqlite_store, first, 6, priority=5)
    taken: list[ClaimedItem] = []
    for queue in (second, first, second, first, second, first):
        item = queue.take(sqlite_store, "w", 0.1)
        assert item is not None
        taken.append(item)
    other.close()
    assert [i.n for i in taken] == list(range(6))
    assert second.take(sqlite_store, "w", 0.1) is None


def test_a_local_submission_wakes_a_waiting_worker_at_once(sqlite_store: JobStore) -> None:
    queue = LocalQueue()
    got: list[ClaimedItem | None] = []
    waiter = threading.Thread(target=lambda: got.append(queue.take(sqlite_store, "w", 10.0)))
    waiter.start()
    time.sleep(0.2)  # the worker found nothing and waits
    started = time.monotonic()
    job_id = _submit(sqlite_store, queue, 1, priority=5)
    waiter.join(10)
    assert time.monotonic() - started < 2.0
    assert got[0] is not None
    assert got[0].job_id == job_id
