"""Job workers on the real engine: a cancelled item stops at its next heartbeat, and a request
error fails an item at once instead of being retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from speaker.audio.formats import AudioFormat
from speaker.jobs.files import ResultFiles
from speaker.jobs.queue import LocalQueue
from speaker.jobs.store import CANCELLED, FAILED, RUNNING, SUCCEEDED, JobDetail, JobStore, NewItem
from speaker.jobs.webhooks import WebhookDispatcher
from speaker.jobs.worker import JobWorkers, order_request
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.storage.database import Database, sqlite_url
from tests.helpers import wait_idle

pytestmark = pytest.mark.slow

LEASE_S = 0.6
SENTENCE = "The committee reviewed every proposal carefully before the final vote. "


@dataclass
class Jobs:
    store: JobStore
    queue: LocalQueue
    files: ResultFiles

    def submit(self, *orders: SpeechOrder) -> str:
        items = [NewItem(order_request(o), o.fmt.value, len(o.text)) for o in orders]
        job_id, refs = self.store.submit(
            items, priority=5, owner=None, key_id=None, metadata={}, webhook_url=None
        )
        self.queue.announce(refs)
        return job_id

    def wait(self, job_id: str, done: object, timeout: float = 30) -> JobDetail:
        assert callable(done)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail = self.store.detail(job_id)
            assert detail is not None
            if done(detail):
                return detail
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never got there: {self.store.detail(job_id)}")


@pytest.fixture
def jobs(tmp_path: Path, runtime: Runtime) -> Iterator[Jobs]:
    database = Database(sqlite_url(tmp_path / "jobs.db"))
    store = JobStore(database, lease_s=LEASE_S, max_attempts=2)
    queue = LocalQueue()
    files = ResultFiles(tmp_path / "jobs")
    workers = JobWorkers(
        store=store,
        queue=queue,
        files=files,
        service=runtime.service,
        dispatcher=WebhookDispatcher(store, runtime.settings, lambda key_id: None),
        replica_id="test-worker",
        count=1,
    )
    workers.start()
    yield Jobs(store, queue, files)
    workers.stop()
    database.close()


def test_a_cancelled_item_stops_at_its_next_heartbeat(jobs: Jobs, runtime: Runtime) -> None:
    # Minutes of audio: far more than the test waits, so only the cancel can end it early.
    order = SpeechOrder(text=SENTENCE * 60, model="tts-1", fmt=AudioFormat.PCM)
    job_id = jobs.submit(order)
    jobs.wait(job_id, lambda d: d.items[0].state == RUNNING)
    time.sleep(0.3)
    cancelled_at = time.monotonic()
    assert jobs.store.cancel(job_id)
    wait_idle(runtime, timeout=LEASE_S + 2)
    assert time.monotonic() - cancelled_at < LEASE_S / 3 + 1.5
    detail = jobs.store.detail(job_id)
    assert detail is not None
    assert detail.items[0].state == CANCELLED
    assert detail.items[0].result is None
    assert not (jobs.files.root / job_id).exists() or not any((jobs.files.root / job_id).iterdir())
    assert not any((jobs.files.root / ".staging").iterdir())


def test_a_request_error_fails_the_item_at_once_and_the_rest_go_on(jobs: Jobs) -> None:
    good = SpeechOrder(text="Still spoken.", model="tts-1", fmt=AudioFormat.WAV)
    # Valid when submitted; the voice is gone by the time a worker gets to it.
    gone = SpeechOrder(text="Never spoken.", model="tts-1", voice="voice_deleted_meanwhile")
    job_id = jobs.submit(gone, good)
    detail = jobs.wait(job_id, lambda d: d.job.finished_at is not None)
    assert detail.job.state == "completed_with_errors"
    failed, spoken = detail.items
    assert (failed.state, failed.attempts) == (FAILED, 1)
    assert failed.error is not None
    assert failed.error["code"] == "voice_not_found"
    assert spoken.state == SUCCEEDED
    assert spoken.result is not None
    assert jobs.files.path(spoken.result).stat().st_size == spoken.bytes
