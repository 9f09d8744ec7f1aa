"""The record of every batch job and item in SQL: the one truth all replicas and workers share.

Every change to one job's items starts by touching the job's row. That takes the row lock on
PostgreSQL and the write lock on SQLite, so changes to one job are serialized and its derived
state (counts, terminal state, webhook due) is always computed from what is committed. Claims
take no job lock: they change one item row only, so no two transactions wait on each other in
opposite orders.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from speaker.storage.database import Database
from speaker.storage.paging import newest_first
from speaker.storage.tables import job_items, jobs, webhook_deliveries
from speaker.voices.records import new_id

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
COMPLETED_WITH_ERRORS = "completed_with_errors"

ITEM_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
JOB_STATES = (QUEUED, RUNNING, SUCCEEDED, COMPLETED_WITH_ERRORS, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, COMPLETED_WITH_ERRORS, FAILED, CANCELLED})

PENDING = "pending"
DELIVERED = "delivered"

# Candidates read per SQLite claim: several workers racing for the first one still find work.
_SQLITE_CANDIDATES = 8
_REAP_BATCH = 100


@dataclass(frozen=True)
class NewItem:
    """One item of a submission: its stored request and what listings show of it."""

    request: dict[str, Any]
    format: str
    characters: int


@dataclass(frozen=True)
class ItemRef:
    """Where a queued item sits in the queue: lower priority first, then oldest, then by n."""

    job_id: str
    n: int
    priority: int
    queued_at: float


@dataclass(frozen=True)
class ClaimedItem:
    """An item leased to one worker; `owner` and `attempt` together are the lease's token."""

    job_id: str
    n: int
    attempt: int
    owner: str
    request: dict[str, Any]


@dataclass(frozen=True)
class ItemRecord:
    """One item as the API shows it."""

    n: int
    state: str
    format: str
    characters: int
    attempts: int
    started_at: float | None
    finished_at: float | None
    error: dict[str, Any] | None
    result: str | None
    audio_seconds: float | None
    bytes: int | None
    worker: str | None
    """The replica running the item, or the one that finished it."""


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to deliver a job's webhook."""

    attempt: int
    at: float
    event: str
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class JobRecord:
    """A job with its item counts by state."""

    id: str
    kind: str
    state: str
    priority: int
    owner: str | None
    key_id: str | None
    created_at: float
    updated_at: float
    finished_at: float | None
    item_count: int
    metadata: dict[str, str]
    webhook_url: str | None
    webhook_state: str | None
    webhook_attempts: int
    webhook_next_at: float | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """True once no item will change any more."""
        return self.state in TERMINAL

    def summary(self) -> dict[str, Any]:
        """The job as webhooks and result archives describe it (no items)."""
        return {
            "id": self.id,
            "object": "job",
            "kind": self.kind,
            "state": self.state,
            "priority": self.priority,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "item_count": self.item_count,
            "counts": {state: self.counts.get(state, 0) for state in ITEM_STATES},
            "metadata": self.metadata,
            "results_url": f"/v1/jobs/{self.id}/results.zip",
        }


@dataclass(frozen=True)
class JobDetail:
    """A job with every item and every webhook delivery attempt."""

    job: JobRecord
    items: list[ItemRecord]
    deliveries: list[DeliveryRecord]


@dataclass(frozen=True)
class JobQuery:
    """Filters of a job listing; `owner` None with `all_owners` lists everyone's jobs."""

    owner: str | None = None
    all_owners: bool = True
    state: str | None = None
    since: float | None = None
    until: float | None = None
    after: str | None = None
    limit: int = 20


def _job(row: Any, counts: Mapping[str, int] | None = None) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        state=row.state,
        priority=row.priority,
        owner=row.owner,
        key_id=row.key_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        item_count=row.item_count,
        metadata=dict(row.metadata),
        webhook_url=row.webhook_url,
        webhook_state=row.webhook_state,
        webhook_attempts=row.webhook_attempts,
        webhook_next_at=row.webhook_next_at,
        counts=dict(counts or {}),
    )


_ITEM_COLUMNS = [c for c in job_items.c if c.name not in ("job_id", "request")]


def _item(row: Any) -> ItemRecord:
    return ItemRecord(
        n=row.n,
        state=row.state,
        format=row.format,
        characters=row.characters,
        attempts=row.attempts,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        result=row.result,
        audio_seconds=row.audio_seconds,
        bytes=row.bytes,
        worker=row.lease_owner,
    )


def _held(item: ClaimedItem) -> Any:
    """The condition that an item is still leased to the worker holding `item`."""
    return and_(
        job_items.c.job_id == item.job_id,
        job_items.c.n == item.n,
        job_items.c.state == RUNNING,
        job_items.c.lease_owner == item.owner,
        job_items.c.attempts == item.attempt,
    )


_NO_LEASE = {"lease_owner": None, "lease_until": None}


class JobStore:
    """Submit, claim, lease, finish, cancel and list jobs; SQLite and PostgreSQL alike."""

    def __init__(self, database: Database, *, lease_s: float, max_attempts: int) -> None:
        self._db = database
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    # Submission and reading

    def submit(
        self,
        items: Sequence[NewItem],
        *,
        priority: int,
        owner: str | None,
        key_id: str | None,
        metadata: Mapping[str, str],
        webhook_url: str | None,
        kind: str = "batch",
    ) -> tuple[str, list[ItemRef]]:
        """Store a job and all its items in one transaction; returns its id and queue refs."""
        job_id = new_id("job")
        now = time.time()
        with self._db.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    kind=kind,
                    state=QUEUED,
                    priority=priority,
                    owner=owner,
                    key_id=key_id,
                    created_at=now,
                    updated_at=now,
                    item_count=len(items),
                    metadata=dict(metadata),
                    webhook_url=webhook_url,
                    webhook_attempts=0,
                )
            )
            conn.execute(
                job_items.insert(),
                [
                    {
                        "job_id": job_id,
                        "n": n,
                        "state": QUEUED,
                        "priority": priority,
                        "queued_at": now,
                        "request": item.request,
                        "format": item.format,
                        "characters": item.characters,
                        "attempts": 0,
                    }
                    for n, item in enumerate(items)
                ],
            )
        return job_id, [ItemRef(job_id, n, priority, now) for n in range(len(items))]

    def job(self, job_id: str) -> JobRecord | None:
        """A job with its counts, or None."""
        with self._db.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if row is None:
                return None
            return _job(row, self._counts(conn, [job_id]).get(job_id))

    def detail(self, job_id: str) -> JobDetail | None:
        """A job with its items and webhook deliveries, or None."""
        with self._db.begin() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
            if row is None:
                return None
            items = conn.execute(
                select(*_ITEM_COLUMNS).where(job_items.c.job_id == job_id).order_by(job_items.c.n)
            ).all()
            deliveries = conn.execute(
                select(webhook_deliveries)
                .where(webhook_deliveries.c.job_id == job_id)
                .order_by(webhook_deliveries.c.attempt)
            ).all()
        records = [_item(r) for r in items]
        counts: dict[str, int] = {}
        for record in records:
            counts[record.state] = counts.get(record.state, 0) + 1
        return JobDetail(
            job=_job(row, counts),
            items=records,
            deliveries=[
                DeliveryRecord(
                    attempt=d.attempt,
                    at=d.at,
                    event=d.event,
                    status_code=d.status_code,
                    error=d.error,
                    duration_ms=d.duration_ms,
                )
                for d in deliveries
            ],
        )

    def item(self, job_id: str, n: int) -> ItemRecord | None:
        """One item, or None."""
        with self._db.begin() as conn:
            row = conn.execute(
                select(*_ITEM_COLUMNS).where(job_items.c.job_id == job_id, job_items.c.n == n)
            ).first()
        return None if row is None else _item(row)

    def census(self) -> tuple[dict[str, int], dict[str, int]]:
        """How many jobs, and how many items, are in each state (for metrics)."""
        with self._db.begin() as conn:
            job_rows = conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
            by_job = dict.fromkeys(JOB_STATES, 0) | {str(s): int(n) for s, n in job_rows}
            item_rows = conn.execute(
                select(job_items.c.state, func.count()).group_by(job_items.c.state)
            )
            by_item = dict.fromkeys(ITEM_STATES, 0) | {str(s): int(n) for s, n in item_rows}
        return by_job, by_item

    def page(self, query: JobQuery) -> tuple[list[JobRecord], bool]:
        """Jobs newest first, filtered; True when more follow."""
        statement = select(jobs)
        if not query.all_owners:
            statement = statement.where(or_(jobs.c.owner == query.owner, jobs.c.owner.is_(None)))
        if query.state is not None:
            statement = statement.where(jobs.c.state == query.state)
        if query.since is not None:
            statement = statement.where(jobs.c.created_at >= query.since)
        if query.until is not None:
            statement = statement.where(jobs.c.created_at < query.until)
        with self._db.begin() as conn:
            rows, more = newest_first(conn, jobs, statement, query.after, query.limit)
            counts = self._counts(conn, [r.id for r in rows])
        return [_job(r, counts.get(r.id)) for r in rows], more

    @staticmethod
    def _counts(conn: Connection, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not job_ids:
            return {}
        rows = conn.execute(
            select(job_items.c.job_id, job_items.c.state, func.count())
            .where(job_items.c.job_id.in_(job_ids))
            .group_by(job_items.c.job_id, job_items.c.state)
        ).all()
        counts: dict[str, dict[str, int]] = {}
        for job_id, state, count in rows:
            counts.setdefault(job_id, {})[state] = count
        return counts

    def queued(self, limit: int = 10_000) -> list[ItemRef]:
        """Queued items in queue order (to re-announce them to a shared queue)."""
        with self._db.begin() as conn:
            rows = conn.execute(
                select(
                    job_items.c.job_id, job_items.c.n, job_items.c.priority, job_items.c.queued_at
                )
                .where(job_items.c.state == QUEUED)
                .order_by(job_items.c.priority, job_items.c.queued_at, job_items.c.n)
                .limit(limit)
            ).all()
        return [ItemRef(r.job_id, r.n, r.priority, r.queued_at) for r in rows]

    # Claims and leases

    def claim_next(self, owner: str) -> ClaimedItem | None:
        """Lease the first queued item in queue order to `owner`, or None when none is queued."""
        order = (job_items.c.priority, job_items.c.queued_at, job_items.c.n)
        candidates = (
            select(job_items.c.job_id, job_items.c.n)
            .where(job_items.c.state == QUEUED)
            .order_by(*order)
        )
        if self._db.dialect == "postgresql":
            with self._db.begin() as conn:
                row = conn.execute(candidates.limit(1).with_for_update(skip_locked=True)).first()
                claimed = None if row is None else self._take(conn, row.job_id, row.n, owner)
        else:
            # SQLite has no row locks: read a few candidates, then take the first one whose
            # conditional update still finds it queued.
            with self._db.begin() as conn:
                rows = conn.execute(candidates.limit(_SQLITE_CANDIDATES)).all()
            claimed = None
            for row in rows:
                with self._db.begin() as conn:
                    claimed = self._take(conn, row.job_id, row.n, owner)
                if claimed is not None:
                    break
        if claimed is not None:
            self._started(claimed.job_id)
        return claimed

    def claim(self, job_id: str, n: int, owner: str) -> ClaimedItem | None:
        """Lease one named item to `owner` if it is still queued (else None: someone has it)."""
        with self._db.begin() as conn:
            claimed = self._take(conn, job_id, n, owner)
        if claimed is not None:
            self._started(job_id)
        return claimed

    def _take(self, conn: Connection, job_id: str, n: int, owner: str) -> ClaimedItem | None:
        now = time.time()
        taken = conn.execute(
            update(job_items)
            .where(job_items.c.job_id == job_id, job_items.c.n == n, job_items.c.state == QUEUED)
            .values(
                state=RUNNING,
                lease_owner=owner,
                lease_until=now + self.lease_s,
                attempts=job_items.c.attempts + 1,
                started_at=now,
            )
        )
        if taken.rowcount != 1:
            return None
        row = conn.execute(
            select(job_items.c.attempts, job_items.c.request).where(
                job_items.c.job_id == job_id, job_items.c.n == n
            )
        ).one()
        return ClaimedItem(job_id, n, row.attempts, owner, dict(row.request))

    def _started(self, job_id: str) -> None:
        # Its own transaction, after the claim's: a claim never waits on a job's row.
        with self._db.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == QUEUED)
                .values(state=RUNNING, updated_at=time.time())
            )

    def renew(self, item: ClaimedItem) -> bool:
        """Extend a lease; False when it is lost (expired and taken over, or the job cancelled)."""
        with self._db.begin() as conn:
            renewed = conn.execute(
                update(job_items).where(_held(item)).values(lease_until=time.time() + self.lease_s)
            )
        return renewed.rowcount == 1

    # Item outcomes: each locks the job first, then derives its state.

    def succeed(self, item: ClaimedItem, result: str, audio_seconds: float, size: int) -> bool:
        """Record a finished item; False when the lease was lost (the result is not used)."""
        now = time.time()
        with self._db.begin() as conn:
            self._lock(conn, item.job_id, now)
            done = conn.execute(
                update(job_items)
                .where(_held(item))
                .values(
                    state=SUCCEEDED,
                    finished_at=now,
                    result=result,
                    audio_seconds=audio_seconds,
                    bytes=size,
                    error=None,
                    # The owner stays to tell which replica made the result.
                    lease_until=None,
                )
            )
            if done.rowcount != 1:
                return False
            self._derive(conn, item.job_id, now)
        return True

    def fail(self, item: ClaimedItem, error: dict[str, Any], *, permanent: bool) -> ItemRef | None:
        """Record a failed attempt: queued again (returned) while attempts remain, else failed."""
        now = time.time()
        retry = not permanent and item.attempt < self.max_attempts
        values: dict[str, Any] = {"error": error, **_NO_LEASE}
        values.update({"state": QUEUED} if retry else {"state": FAILED, "finished_at": now})
        with self._db.begin() as conn:
            self._lock(conn, item.job_id, now)
            changed = conn.execute(update(job_items).where(_held(item)).values(**values))
            if changed.rowcount != 1:
                return None
            self._derive(conn, item.job_id, now)
            return self._ref(conn, item.job_id, item.n) if retry else None

    def release(self, item: ClaimedItem) -> ItemRef | None:
        """Give an item back unfinished (shutdown): queued again, the attempt not counted."""
        now = time.time()
        with self._db.begin() as conn:
            self._lock(conn, item.job_id, now)
            released = conn.execute(
                update(job_items)
                .where(_held(item))
                .values(state=QUEUED, attempts=job_items.c.attempts - 1, **_NO_LEASE)
            )
            if released.rowcount != 1:
                return None
            return self._ref(conn, item.job_id, item.n)

    def reap(self) -> list[ItemRef]:
        """Return items whose lease expired (a dead worker) to the queue, or fail them once
        they have used every attempt; returns the requeued ones."""
        now = time.time()
        with self._db.begin() as conn:
            expired = conn.execute(
                select(job_items.c.job_id, job_items.c.n, job_items.c.attempts)
                .where(job_items.c.state == RUNNING, job_items.c.lease_until < now)
                .limit(_REAP_BATCH)
            ).all()
        requeued = []
        for job_id, n, attempts in expired:
            retry = attempts < self.max_attempts
            values: dict[str, Any] = (
                {"state": QUEUED}
                if retry
                else {
                    "state": FAILED,
                    "finished_at": now,
                    "error": {
                        "message": f"the worker stopped responding on each of {attempts} tries",
                        "type": "server_error",
                        "code": "worker_lost",
                        "param": None,
                    },
                }
            )
            with self._db.begin() as conn:
                self._lock(conn, job_id, now)
                reaped = conn.execute(
                    update(job_items)
                    .where(
                        job_items.c.job_id == job_id,
                        job_items.c.n == n,
                        job_items.c.state == RUNNING,
                        job_items.c.attempts == attempts,
                        job_items.c.lease_until < now,
                    )
                    .values(**values, **_NO_LEASE)
                )
                if reaped.rowcount != 1:
                    continue
                self._derive(conn, job_id, now)
                if retry:
                    requeued.append(self._ref(conn, job_id, n))
        return requeued

    def expire_leases_of(self, owner: str) -> int:
        """Expire every lease `owner` holds: at start-up, a lease in this process's name was left
        by a previous process with the same replica id, which is dead."""
        with self._db.begin() as conn:
            expired = conn.execute(
                update(job_items)
                .where(job_items.c.state == RUNNING, job_items.c.lease_owner == owner)
                .values(lease_until=0.0)
            )
        return expired.rowcount

    def cancel(self, job_id: str) -> bool:
        """Cancel queued and running items (running ones stop at their next heartbeat);
        False when the job had already finished."""
        now = time.time()
        with self._db.begin() as conn:
            self._lock(conn, job_id, now)
            row = conn.execute(
                select(jobs.c.state, jobs.c.webhook_url).where(jobs.c.id == job_id)
            ).first()
            if row is None or row.state in TERMINAL:
                return False
            conn.execute(
                update(job_items)
                .where(job_items.c.job_id == job_id, job_items.c.state.in_((QUEUED, RUNNING)))
                .values(state=CANCELLED, finished_at=now, **_NO_LEASE)
            )
            self._finish(conn, job_id, CANCELLED, row.webhook_url, now)
        return True

    def _lock(self, conn: Connection, job_id: str, now: float) -> None:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=now))

    @staticmethod
    def _ref(conn: Connection, job_id: str, n: int) -> ItemRef:
        row = conn.execute(
            select(job_items.c.priority, job_items.c.queued_at).where(
                job_items.c.job_id == job_id, job_items.c.n == n
            )
        ).one()
        return ItemRef(job_id, n, row.priority, row.queued_at)

    def _derive(self, conn: Connection, job_id: str, now: float) -> None:
        job = conn.execute(
            select(jobs.c.state, jobs.c.webhook_url).where(jobs.c.id == job_id)
        ).one()
        if job.state in TERMINAL:
            return
        counts = self._counts(conn, [job_id]).get(job_id, {})
        if counts.get(QUEUED, 0) or counts.get(RUNNING, 0):
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(state=RUNNING))
            return
        succeeded, failed = counts.get(SUCCEEDED, 0), counts.get(FAILED, 0)
        state = SUCCEEDED if not failed else FAILED if not succeeded else COMPLETED_WITH_ERRORS
        self._finish(conn, job_id, state, job.webhook_url, now)

    @staticmethod
    def _finish(
        conn: Connection, job_id: str, state: str, webhook_url: str | None, now: float
    ) -> None:
        values: dict[str, Any] = {"state": state, "finished_at": now, "updated_at": now}
        if webhook_url:
            values.update(webhook_state=PENDING, webhook_next_at=now)
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    # Webhooks

    def due_webhooks(self, limit: int = 20) -> list[str]:
        """Jobs whose webhook should be tried now."""
        with self._db.begin() as conn:
            return list(
                conn.execute(
                    select(jobs.c.id)
                    .where(jobs.c.webhook_state == PENDING, jobs.c.webhook_next_at <= time.time())
                    .order_by(jobs.c.webhook_next_at)
                    .limit(limit)
                ).scalars()
            )

    def claim_webhook(self, job_id: str, hold_s: float) -> JobRecord | None:
        """Take a due webhook for `hold_s` seconds (no other dispatcher tries it meanwhile)."""
        now = time.time()
        with self._db.begin() as conn:
            taken = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.webhook_state == PENDING,
                    jobs.c.webhook_next_at <= now,
                )
                .values(webhook_next_at=now + hold_s)
            )
            if taken.rowcount != 1:
                return None
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
            return _job(row, self._counts(conn, [job_id]).get(job_id))

    def record_delivery(
        self,
        job_id: str,
        delivery: DeliveryRecord,
        *,
        state: str,
        next_at: float | None,
    ) -> None:
        """Log one attempt and move the webhook to `state` (pending again at `next_at`)."""
        with self._db.begin() as conn:
            conn.execute(
                webhook_deliveries.insert().values(
                    job_id=job_id,
                    attempt=delivery.attempt,
                    at=delivery.at,
                    event=delivery.event,
                    status_code=delivery.status_code,
                    error=delivery.error,
                    duration_ms=delivery.duration_ms,
                )
            )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    webhook_state=state,
                    webhook_attempts=delivery.attempt,
                    webhook_next_at=next_at,
                )
            )
