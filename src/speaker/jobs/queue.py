"""How workers learn that job items are ready: by polling the database, or from Redis.

The database stays the record either way; the queue only says where to look. Without Redis,
workers poll the database for claimable items and a submission in this process wakes them at
once. With Redis (`SPEAKER_REDIS_URL`), every replica's workers block on one sorted set of item
references scored by (priority, age) and then claim the item in the database; a reference that
no longer claims (taken, cancelled, popped twice) is simply skipped, and queued items are
announced again at start-up and periodically, so an item whose reference was lost with a dead
process is never stranded.

We looked at arq, saq, huey and rq: each keeps its own record of jobs in Redis only, with no
SQLite mode for a single machine, and none combines per-job priorities with recovering a job
whose worker was killed mid-item, so the SQL tables plus this small queue do the work instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from redis import Redis

from speaker.jobs.store import ClaimedItem, ItemRef, JobStore

READY_KEY = "speaker:jobs:ready"
# Priorities are small integers and queued_at is a Unix time (about 1.8e9 s): one priority step
# outweighs any age difference, and a double keeps millisecond precision at this magnitude.
_PRIORITY_WEIGHT = 1e10


class ItemQueue(Protocol):
    """Tells workers which items to try; claiming stays in the database."""

    def announce(self, refs: Sequence[ItemRef]) -> None:
        """These items are queued now (just submitted, or back after a failure)."""
        ...

    def take(self, store: JobStore, owner: str, timeout: float) -> ClaimedItem | None:
        """Wait up to `timeout` seconds for an item and claim it for `owner`."""
        ...

    def resync(self, store: JobStore) -> None:
        """Make sure every queued item in the database can be found (after crashes)."""
        ...

    def wake(self) -> None:
        """Release waiting workers now (shutdown)."""
        ...


class LocalQueue:
    """Workers poll the database; submissions in this process wake them without delay."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0

    def announce(self, refs: Sequence[ItemRef]) -> None:
        """Wake every waiting worker."""
        self.wake()

    def wake(self) -> None:
        """Wake every waiting worker."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def take(self, store: JobStore, owner: str, timeout: float) -> ClaimedItem | None:
        """Claim the next queued item, waiting for an announcement (or the poll interval)."""
        with self._changed:
            seen = self._generation
        claimed = store.claim_next(owner)
        if claimed is not None:
            return claimed
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout)
        return store.claim_next(owner)

    def resync(self, store: JobStore) -> None:
        """Nothing to do: the database is the queue."""


def _member(ref: ItemRef) -> str:
    # Zero-padded so that items of one job with equal scores pop in order.
    return f"{ref.job_id}:{ref.n:06d}"


class RedisQueue:
    """One sorted set of ready items shared by every replica."""

    def __init__(self, redis: Redis, key: str = READY_KEY) -> None:
        self._redis = redis
        self._key = key

    def announce(self, refs: Sequence[ItemRef]) -> None:
        """Add references (existing ones keep their place)."""
        if refs:
            scores = {_member(r): r.priority * _PRIORITY_WEIGHT + r.queued_at for r in refs}
            self._redis.zadd(self._key, scores, nx=True)

    def take(self, store: JobStore, owner: str, timeout: float) -> ClaimedItem | None:
        """Pop the best reference (blocking) and claim its item, if it is still queued."""
        popped = self._redis.bzpopmin(self._key, timeout)
        if popped is None:
            return None
        _, member, _ = popped
        job_id, _, n = (member.decode() if isinstance(member, bytes) else str(member)).rpartition(
            ":"
        )
        return store.claim(job_id, int(n), owner)

    def resync(self, store: JobStore) -> None:
        """Announce every queued item again; those still in the set are left as they are."""
        self.announce(store.queued())

    def wake(self) -> None:
        """Nothing to do: blocked pops return within their timeout."""
