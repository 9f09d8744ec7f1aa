"""Job workers: claim items, synthesize them behind every listener, publish, record.

All of it runs on one event loop in its own thread: `count` item workers, a maintenance task
(reaping expired leases, re-announcing queued items) and the webhook dispatcher. Database and
Redis calls go to threads so that the loop stays free for the audio path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS, Principal, Role
from speaker.errors import SpeakerError
from speaker.jobs.files import ResultFiles
from speaker.jobs.queue import ItemQueue
from speaker.jobs.store import ClaimedItem, JobStore
from speaker.jobs.webhooks import WebhookDispatcher
from speaker.scheduler.work import BATCH
from speaker.service import SpeechOrder, SpeechService

log = logging.getLogger(__name__)

# How long an idle worker waits for an announcement before looking at the database again.
POLL_S = 0.5
_MAINTAIN_S = 1.0
# A failing database or Redis is retried after this pause instead of spinning.
_ERROR_PAUSE_S = 1.0


def order_request(order: SpeechOrder) -> dict[str, Any]:
    """What is stored of an item: the order's fields and on whose behalf it runs."""
    viewer = order.viewer
    return {
        "input": order.text,
        "model": order.model,
        "voice": order.voice,
        "voice_by_id": order.voice_by_id,
        "response_format": order.fmt.value,
        "speed": order.speed,
        "instructions": order.instructions,
        "normalize": order.normalize,
        "caller": {"role": viewer.role.value, "key_id": viewer.key_id, "owner": viewer.owner},
    }


def request_order(request: dict[str, Any], client: str) -> SpeechOrder:
    """The order of a stored item request."""
    caller = request.get("caller") or {}
    viewer = (
        Principal(Role(caller["role"]), caller.get("key_id"), caller.get("owner"))
        if caller
        else ANONYMOUS
    )
    return SpeechOrder(
        text=request["input"],
        model=request["model"],
        voice=request["voice"],
        voice_by_id=request["voice_by_id"],
        fmt=AudioFormat(request["response_format"]),
        speed=request["speed"],
        instructions=request["instructions"],
        normalize=request["normalize"],
        client=client,
        viewer=viewer,
    )


@dataclass(frozen=True)
class _Rendered:
    staged: Path
    audio_seconds: float
    size: int


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class JobWorkers:
    """Runs job items to completion on this process's engine workers, until stopped."""

    def __init__(
        self,
        *,
        store: JobStore,
        queue: ItemQueue,
        files: ResultFiles,
        service: SpeechService,
        dispatcher: WebhookDispatcher,
        replica_id: str,
        count: int,
    ) -> None:
        self._store = store
        self._queue = queue
        self._files = files
        self._service = service
        self._dispatcher = dispatcher
        self._owner = replica_id
        self._count = count
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()

    def start(self) -> None:
        """Recover what a previous process left, then start working in a background thread."""
        self._store.expire_leases_of(self._owner)
        self._files.clear_staging()
        self._thread = threading.Thread(target=self._run, name="speaker-jobs", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming, give running items back to the queue, and join the thread."""
        self._stopping.set()
        self._queue.wake()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("job workers did not stop within %.0f s", timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        self._started.set()
        if self._stopping.is_set():
            return
        tasks = [asyncio.create_task(self._work(stop)) for _ in range(self._count)]
        tasks.append(asyncio.create_task(self._maintain(stop)))
        tasks.append(asyncio.create_task(self._dispatcher.run(stop)))
        await asyncio.gather(*tasks)

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                claimed = await asyncio.to_thread(
                    self._queue.take, self._store, self._owner, POLL_S
                )
            except Exception:
                log.exception("could not take a job item; retrying")
                await _pause(stop, _ERROR_PAUSE_S)
                continue
            if claimed is None:
                continue
            if stop.is_set():
                await asyncio.to_thread(self._store.release, claimed)
                return
            try:
                await self._process(claimed, stop)
            except Exception:
                # Recording the outcome failed (database or Redis down): the lease runs out
                # and the item is tried again, by this worker or another.
                log.exception("could not record %s item %d", claimed.job_id, claimed.n)
                await _pause(stop, _ERROR_PAUSE_S)

    async def _process(self, item: ClaimedItem, stop: asyncio.Event) -> None:
        render = asyncio.create_task(self._render(item))
        beat = asyncio.create_task(self._heartbeat(item))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({render, beat, stopped}, return_when=asyncio.FIRST_COMPLETED)
        beat.cancel()
        stopped.cancel()
        await asyncio.gather(beat, stopped, return_exceptions=True)
        if not render.done():
            render.cancel()
            await asyncio.gather(render, return_exceptions=True)
            if stop.is_set():
                ref = await asyncio.to_thread(self._store.release, item)
                log.info("gave %s item %d back at shutdown", item.job_id, item.n)
                if ref is not None:
                    await asyncio.to_thread(self._queue.announce, [ref])
            else:
                log.info("stopped %s item %d: job cancelled or lease lost", item.job_id, item.n)
            return
        try:
            rendered = render.result()
        except SpeakerError as exc:
            # A request error (bad voice, nothing speakable) fails the same way every time.
            permanent = exc.status_code < 500
            await self._failed(item, exc.to_dict()["error"], permanent=permanent)
        except Exception as exc:
            log.exception("job %s item %d failed on attempt %d", item.job_id, item.n, item.attempt)
            error = {
                "message": f"synthesis failed ({type(exc).__name__})",
                "type": "server_error",
                "code": "synthesis_failed",
                "param": None,
            }
            await self._failed(item, error, permanent=False)
        else:
            await self._publish(item, rendered)

    async def _failed(self, item: ClaimedItem, error: dict[str, Any], *, permanent: bool) -> None:
        ref = await asyncio.to_thread(self._store.fail, item, error, permanent=permanent)
        if ref is not None:
            await asyncio.to_thread(self._queue.announce, [ref])

    async def _publish(self, item: ClaimedItem, rendered: _Rendered) -> None:
        ext = str(item.request["response_format"])
        result = await asyncio.to_thread(
            self._files.publish, rendered.staged, item.job_id, item.n, item.attempt, ext
        )
        recorded = await asyncio.to_thread(
            self._store.succeed, item, result, rendered.audio_seconds, rendered.size
        )
        if recorded:
            await asyncio.to_thread(self._files.remove_others, item.job_id, item.n, result)
        else:
            # Cancelled or taken over meanwhile: this attempt's file is nobody's.
            await asyncio.to_thread(self._files.remove, result)

    async def _render(self, item: ClaimedItem) -> _Rendered:
        order = request_order(item.request, client=f"job:{item.job_id}")
        speech = await self._service.prepare(order, long_form=True)
        staged = await asyncio.to_thread(self._files.stage)
        seconds, size = 0.0, 0
        try:
            # Chunk by chunk to disk: memory stays bounded however long the text is.
            with staged.open("wb") as out:
                async for chunk in self._service.stream(speech, tier=BATCH):
                    out.write(chunk.data)
                    seconds += chunk.audio_seconds
                    size += len(chunk.data)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return _Rendered(staged, seconds, size)

    async def _heartbeat(self, item: ClaimedItem) -> None:
        """Renew the lease every third of it; returns once it is lost (or the job cancelled)."""
        while True:
            await asyncio.sleep(self._store.lease_s / 3)
            try:
                if not await asyncio.to_thread(self._store.renew, item):
                    return
            except Exception:
                # The database is unreachable: keep working; if the lease runs out meanwhile,
                # the success is refused and another worker's attempt counts.
                log.exception("could not renew the lease of %s item %d", item.job_id, item.n)

    async def _maintain(self, stop: asyncio.Event) -> None:
        resynced = 0.0
        while not stop.is_set():
            try:
                requeued = await asyncio.to_thread(self._store.reap)
                if requeued:
                    log.warning("requeued %d job item(s) of stopped workers", len(requeued))
                    await asyncio.to_thread(self._queue.announce, requeued)
                if time.monotonic() - resynced > self._store.lease_s:
                    await asyncio.to_thread(self._queue.resync, self._store)
                    resynced = time.monotonic()
            except Exception:
                log.exception("job maintenance failed; retrying")
            await _pause(stop, _MAINTAIN_S)
