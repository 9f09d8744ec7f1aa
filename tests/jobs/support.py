"""Helpers of the job tests."""

from __future__ import annotations

from speaker.jobs.store import JobStore, NewItem


def items(count: int, fmt: str = "mp3") -> list[NewItem]:
    """Stored items whose requests need no engine (the store never reads them)."""
    return [NewItem({"input": f"text {n}"}, fmt, 6) for n in range(count)]


def submit(
    store: JobStore,
    count: int,
    *,
    priority: int = 5,
    owner: str | None = None,
    webhook_url: str | None = None,
) -> str:
    """A job of `count` items; returns its id."""
    job_id, _ = store.submit(
        items(count),
        priority=priority,
        owner=owner,
        key_id=None,
        metadata={},
        webhook_url=webhook_url,
    )
    return job_id
