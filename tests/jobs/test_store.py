"""The job store on SQLite and a real PostgreSQL: claims, leases, the reaper, derived states."""

from __future__ import annotations

import threading
import time

from speaker.jobs.store import (
    CANCELLED,
    COMPLETED_WITH_ERRORS,
    DELIVERED,
    FAILED,
    PENDING,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    ClaimedItem,
    DeliveryRecord,
    JobQuery,
    JobStore,
)
from speaker.storage.database import Database
from tests.jobs.support import items, submit

ERROR = {"message": "boom", "type": "server_error", "code": "synthesis_failed", "param": None}


def test_a_submission_stores_the_job_and_every_item(store: JobStore) -> None:
    job_id, refs = store.submit(
        items(3),
        priority=2,
        owner="alice",
        key_id="key_1",
        metadata={"book": "one"},
        webhook_url=None,
    )
    assert [(r.job_id, r.n, r.priority) for r in refs] == [(job_id, n, 2) for n in range(3)]
    detail = store.detail(job_id)
    assert detail is not None
    assert detail.job.state == QUEUED
    assert detail.job.item_count == 3
    assert detail.job.counts == {QUEUED: 3}
    assert (detail.job.owner, detail.job.key_id) == ("alice", "key_1")
    assert detail.job.metadata == {"book": "one"}
    assert [(i.n, i.state, i.attempts, i.format) for i in detail.items] == [
        (0, QUEUED, 0, "mp3"),
        (1, QUEUED, 0, "mp3"),
        (2, QUEUED, 0, "mp3"),
    ]


def test_claims_follow_priority_then_age_then_position(store: JobStore) -> None:
    low = submit(store, 2, priority=7)
    high = submit(store, 1, priority=1)
    taken = [store.claim_next("w") for _ in range(4)]
    assert [(c.job_id, c.n) if c else None for c in taken] == [
        (high, 0),
        (low, 0),
        (low, 1),
        None,
    ]
    first = taken[0]
    assert first is not None
    assert first.attempt == 1
    assert first.request == {"input": "text 0"}
    job = store.job(high)
    assert job is not None
    assert job.state == RUNNING


def test_each_item_is_claimed_by_exactly_one_of_many_racing_workers(store: JobStore) -> None:
    job_id = submit(store, 24)
    claimed: list[ClaimedItem] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (item := store.claim_next(name)) is not None:
            with lock:
                claimed.append(item)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(c.n for c in claimed) == list(range(24))
    assert all(c.job_id == job_id and c.attempt == 1 for c in claimed)
    job = store.job(job_id)
    assert job is not None
    assert job.counts == {RUNNING: 24}


def test_a_named_claim_succeeds_once(store: JobStore) -> None:
    job_id = submit(store, 1)
    assert store.claim(job_id, 0, "a") is not None
    assert store.claim(job_id, 0, "b") is None


def test_a_dead_workers_item_is_requeued_then_failed_after_its_attempts(
    database: Database,
) -> None:
    store = JobStore(database, lease_s=0.3, max_attempts=2)
    job_id = submit(store, 1)
    first = store.claim_next("dead")
    assert first is not None
    assert store.renew(first)
    assert store.reap() == []  # the lease is fresh
    time.sleep(0.4)
    requeued = store.reap()
    assert [(r.job_id, r.n) for r in requeued] == [(job_id, 0)]
    # The old holder lost its lease: it can neither renew nor record a result.
    assert not store.renew(first)
    assert not store.succeed(first, f"{job_id}/0.1.mp3", 1.0, 10)
    second = store.claim_next("alive")
    assert second is not None
    assert second.attempt == 2
    time.sleep(0.4)
    assert store.reap() == []  # attempts used up: failed, not requeued
    detail = store.detail(job_id)
    assert detail is not None
    assert detail.items[0].state == FAILED
    assert detail.items[0].error is not None
    assert detail.items[0].error["code"] == "worker_lost"
    assert detail.job.state == FAILED
    assert detail.job.finished_at is not None


def test_finished_items_are_never_redone(database: Database) -> None:
    store = JobStore(database, lease_s=0.2, max_attempts=3)
    job_id = submit(store, 1, webhook_url="https://example.com/hook")
    item = store.claim_next("w")
    assert item is not None
    assert store.succeed(item, f"{job_id}/0.1.mp3", 2.5, 1000)
    time.sleep(0.3)
    assert store.reap() == []
    assert store.claim_next("w") is None
    assert store.claim(job_id, 0, "w") is None
    detail = store.detail(job_id)
    assert detail is not None
    assert detail.job.state == SUCCEEDED
    assert detail.job.webhook_state == PENDING
    assert detail.items[0].attempts == 1
    assert detail.items[0].result == f"{job_id}/0.1.mp3"
    assert detail.items[0].audio_seconds == 2.5


def test_failures_retry_and_a_mixed_job_completes_with_errors(store: JobStore) -> None:
    job_id = submit(store, 3)
    ok, flaky, bad = (store.claim_next("w") for _ in range(3))
    assert ok is not None
    assert flaky is not None
    assert bad is not None
    assert store.succeed(ok, f"{job_id}/0.1.mp3", 1.0, 10)
    assert store.fail(bad, ERROR | {"code": "voice_not_found"}, permanent=True) is None
    ref = store.fail(flaky, ERROR, permanent=False)
    assert ref is not None
    assert (ref.job_id, ref.n) == (job_id, 1)
    job = store.job(job_id)
    assert job is not None
    assert job.state == RUNNING
    again = store.claim_next("w")
    assert again is not None
    assert (again.n, again.attempt) == (1, 2)
    assert store.fail(again, ERROR, permanent=False) is None  # the last attempt
    detail = store.detail(job_id)
    assert detail is not None
    assert [i.state for i in detail.items] == [SUCCEEDED, FAILED, FAILED]
    assert detail.items[2].error is not None
    assert detail.items[2].error["code"] == "voice_not_found"
    assert detail.job.state == COMPLETED_WITH_ERRORS
    assert detail.job.webhook_state is None  # no webhook asked for


def test_cancel_stops_queued_and_running_items(store: JobStore) -> None:
    job_id = submit(store, 3, webhook_url="https://example.com/hook")
    running = store.claim_next("w")
    assert running is not None
    assert store.cancel(job_id)
    # The worker learns at its next heartbeat, and its result would not count.
    assert not store.renew(running)
    assert not store.succeed(running, f"{job_id}/0.1.mp3", 1.0, 10)
    assert store.claim_next("w") is None
    detail = store.detail(job_id)
    assert detail is not None
    assert detail.job.state == CANCELLED
    assert detail.job.counts == {CANCELLED: 3}
    assert detail.job.webhook_state == PENDING
    assert not store.cancel(job_id)  # already finished


def test_release_gives_an_item_back_without_counting_the_attempt(store: JobStore) -> None:
    job_id = submit(store, 1)
    item = store.claim_next("w")
    assert item is not None
    ref = store.release(item)
    assert ref is not None
    again = store.claim_next("w")
    assert again is not None
    assert (again.job_id, again.attempt) == (job_id, 1)


def test_leases_of_a_previous_process_with_the_same_name_expire_at_start(
    store: JobStore,
) -> None:
    job_id = submit(store, 2)
    assert store.claim_next("replica-1") is not None
    assert store.claim_next("replica-2") is not None
    assert store.expire_leases_of("replica-1") == 1
    assert [(r.job_id, r.n) for r in store.reap()] == [(job_id, 0)]


def test_listing_filters_by_owner_state_and_time_and_pages(store: JobStore) -> None:
    ids = [submit(store, 1, owner="alice" if n % 2 else "bob") for n in range(5)]
    anonymous = submit(store, 1, owner=None)
    store.cancel(ids[0])
    newest_first = [anonymous, *reversed(ids)]
    page, more = store.page(JobQuery(limit=4))
    assert [j.id for j in page] == newest_first[:4]
    assert more
    rest, more = store.page(JobQuery(limit=4, after=page[-1].id))
    assert [j.id for j in rest] == newest_first[4:]
    assert not more
    alices, _ = store.page(JobQuery(owner="alice", all_owners=False))
    assert [j.id for j in alices] == [anonymous, ids[3], ids[1]]
    cancelled, _ = store.page(JobQuery(state=CANCELLED))
    assert [j.id for j in cancelled] == [ids[0]]
    assert cancelled[0].counts == {CANCELLED: 1}
    created = [j.created_at for j in page]
    window, _ = store.page(JobQuery(since=created[2], until=created[0]))
    assert [j.id for j in window] == newest_first[1:3]


def test_a_due_webhook_is_claimed_by_one_dispatcher_and_its_attempts_recorded(
    store: JobStore,
) -> None:
    job_id = submit(store, 1, webhook_url="https://example.com/hook")
    assert store.due_webhooks() == []  # not finished yet
    store.cancel(job_id)
    assert store.due_webhooks() == [job_id]
    claimed = store.claim_webhook(job_id, hold_s=30)
    assert claimed is not None
    assert claimed.state == CANCELLED
    assert store.claim_webhook(job_id, hold_s=30) is None
    assert store.due_webhooks() == []
    now = time.time()
    store.record_delivery(
        job_id,
        DeliveryRecord(1, now, "job.cancelled", 500, None, 12.0),
        state=PENDING,
        next_at=now - 1,
    )
    again = store.claim_webhook(job_id, hold_s=30)
    assert again is not None
    assert again.webhook_attempts == 1
    store.record_delivery(
        job_id,
        DeliveryRecord(2, time.time(), "job.cancelled", 204, None, 8.0),
        state=DELIVERED,
        next_at=None,
    )
    detail = store.detail(job_id)
    assert detail is not None
    assert detail.job.webhook_state == DELIVERED
    assert [(d.attempt, d.status_code) for d in detail.deliveries] == [(1, 500), (2, 204)]
    assert store.due_webhooks() == []
