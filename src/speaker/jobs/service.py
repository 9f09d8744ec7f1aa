"""Batch jobs as a service: validate and accept, show, cancel, hand out results. No HTTP here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import Principal, Role
from speaker.config import Settings
from speaker.errors import ConflictError, InvalidRequestError, NotFoundError, SpeakerError
from speaker.jobs.files import ResultFiles
from speaker.jobs.queue import ItemQueue, LocalQueue, RedisQueue
from speaker.jobs.store import (
    CANCELLED,
    FAILED,
    SUCCEEDED,
    JobDetail,
    JobQuery,
    JobRecord,
    JobStore,
    NewItem,
)
from speaker.jobs.webhooks import SecretLookup, WebhookDispatcher, check_target
from speaker.jobs.worker import JobWorkers, order_request
from speaker.service import SpeechOrder, SpeechService
from speaker.storage.database import Database

# What a client polling an unfinished item is told to wait.
_RETRY_AFTER_S = 2


@dataclass(frozen=True)
class BatchOrder:
    """A batch as submitted: its items' orders and the job's settings."""

    orders: Sequence[SpeechOrder]
    priority: int = 5
    webhook_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemFile:
    """A finished item's audio on disk."""

    path: Path
    fmt: AudioFormat
    name: str


def _for_item(exc: SpeakerError, n: int) -> SpeakerError:
    # The same error the speech endpoint gives, naming the item it is about.
    exc.param = f"items[{n}].{exc.param or 'input'}"
    exc.message = f"items[{n}]: {exc.message}"
    return exc


class JobService:
    """Accepts batch jobs (persisted before the answer), and shows, cancels and serves them."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        queue: ItemQueue,
        files: ResultFiles,
        speech: SpeechService,
        secret_for: SecretLookup,
    ) -> None:
        self._settings = settings
        self.store = store
        self.queue = queue
        self.files = files
        self._speech = speech
        self._secret_for = secret_for

    @classmethod
    def open(
        cls,
        settings: Settings,
        database: Database,
        redis: Redis | None,
        speech: SpeechService,
        secret_for: SecretLookup,
    ) -> JobService:
        """Jobs on the metadata database, queued through Redis when there is one."""
        store = JobStore(
            database, lease_s=settings.job_lease_s, max_attempts=settings.job_max_attempts
        )
        queue: ItemQueue = RedisQueue(redis) if redis is not None else LocalQueue()
        files = ResultFiles(settings.data_dir / "jobs")
        return cls(settings, store, queue, files, speech, secret_for)

    def workers(self, count: int) -> JobWorkers:
        """Workers that run this service's items (start them; stop them before the scheduler)."""
        return JobWorkers(
            store=self.store,
            queue=self.queue,
            files=self.files,
            service=self._speech,
            dispatcher=WebhookDispatcher(self.store, self._settings, self._secret_for),
            replica_id=self._settings.replica_id,
            count=count,
        )

    async def submit(self, principal: Principal, batch: BatchOrder) -> JobDetail:
        """Check every item, then store the job and its items in one transaction and queue them."""
        await asyncio.to_thread(self._check, principal, batch)
        items = [
            NewItem(order_request(order), order.fmt.value, len(order.text))
            for order in batch.orders
        ]
        job_id, refs = await asyncio.to_thread(
            self.store.submit,
            items,
            priority=batch.priority,
            owner=principal.owner,
            key_id=principal.key_id,
            metadata=batch.metadata,
            webhook_url=batch.webhook_url,
        )
        await asyncio.to_thread(self.queue.announce, refs)
        return self._detail(principal, job_id)

    def _check(self, principal: Principal, batch: BatchOrder) -> None:
        limit = self._settings.job_max_items
        if len(batch.orders) > limit:
            raise InvalidRequestError(
                f"the batch has {len(batch.orders)} items; the limit is {limit}",
                code="too_many_items",
                param="items",
                suggestion="split it into several jobs, or raise SPEAKER_JOB_MAX_ITEMS",
            )
        for n, order in enumerate(batch.orders):
            try:
                self._speech.check(order, long_form=True)
            except SpeakerError as exc:
                raise _for_item(exc, n) from None
        if batch.webhook_url is not None:
            check_target(batch.webhook_url, allow_private=self._settings.webhook_allow_private)
            if self._secret_for(principal.key_id) is None:
                raise InvalidRequestError(
                    "there is no secret to sign this job's webhook with",
                    code="webhook_secret_missing",
                    param="webhook_url",
                    suggestion="set SPEAKER_WEBHOOK_SECRET on the server, or submit with an "
                    "API key (each key has its own webhook secret)",
                )

    def _detail(self, principal: Principal, job_id: str) -> JobDetail:
        detail = self.store.detail(job_id)
        if detail is None or not principal.sees(detail.job.owner, False):
            raise NotFoundError(
                f"job {job_id!r} does not exist",
                code="job_not_found",
                param="job_id",
                suggestion="list your jobs with GET /v1/jobs",
            )
        return detail

    async def get(self, principal: Principal, job_id: str) -> JobDetail:
        """A job with its items and webhook deliveries; 404 when absent or someone else's."""
        return await asyncio.to_thread(self._detail, principal, job_id)

    async def page(self, principal: Principal, query: JobQuery) -> tuple[list[JobRecord], bool]:
        """The jobs this caller sees, newest first, filtered; True when more follow."""
        scoped = JobQuery(
            owner=principal.owner,
            all_owners=principal.role is Role.ADMIN,
            state=query.state,
            since=query.since,
            until=query.until,
            after=query.after,
            limit=query.limit,
        )
        return await asyncio.to_thread(self.store.page, scoped)

    async def cancel(self, principal: Principal, job_id: str) -> JobDetail:
        """Cancel a job: queued items at once, running ones at their next heartbeat."""
        await self.get(principal, job_id)
        await asyncio.to_thread(self.store.cancel, job_id)
        return await self.get(principal, job_id)

    async def item_file(self, principal: Principal, job_id: str, n: int) -> ItemFile:
        """A succeeded item's audio; 409 while it is not (yet) there."""
        detail = await self.get(principal, job_id)
        if not 0 <= n < len(detail.items):
            raise NotFoundError(
                f"job {job_id!r} has no item {n}; its items are 0 to {len(detail.items) - 1}",
                code="item_not_found",
                param="n",
            )
        item = detail.items[n]
        if item.state == SUCCEEDED and item.result is not None:
            fmt = AudioFormat(item.format)
            return ItemFile(self.files.path(item.result), fmt, f"{job_id}-{n}.{fmt.value}")
        if item.state == FAILED:
            raise ConflictError(
                f"item {n} failed: {(item.error or {}).get('message', 'unknown error')}",
                code="item_failed",
                param="n",
                suggestion="see the item's error in GET /v1/jobs/{id}; submit it again",
                extra={"item_error": item.error},
            )
        if item.state == CANCELLED:
            raise ConflictError(
                f"item {n} was cancelled before it finished", code="item_cancelled", param="n"
            )
        raise ConflictError(
            f"item {n} is {item.state}; its audio is not ready yet",
            code="item_not_ready",
            param="n",
            suggestion=f"retry after {_RETRY_AFTER_S} s, or give the job a webhook_url",
            headers={"Retry-After": str(_RETRY_AFTER_S)},
        )

    async def results_zip(self, principal: Principal, job_id: str) -> Path:
        """A zip of every succeeded item plus `job.json`; the caller deletes the file."""
        detail = await self.get(principal, job_id)
        manifest = dict(detail.job.summary())
        manifest["items"] = [
            {
                "n": item.n,
                "state": item.state,
                "file": f"{item.n:05d}.{item.format}" if item.state == SUCCEEDED else None,
                "audio_seconds": item.audio_seconds,
                "error": item.error,
            }
            for item in detail.items
        ]
        results = [
            (f"{item.n:05d}.{item.format}", item.result)
            for item in detail.items
            if item.state == SUCCEEDED and item.result is not None
        ]
        return await asyncio.to_thread(self.files.bundle, results, json.dumps(manifest, indent=2))
