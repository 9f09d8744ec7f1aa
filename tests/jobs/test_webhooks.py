"""Webhook signatures, replay protection, the SSRF guard, and the dispatcher against a receiver."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from speaker.config import Settings
from speaker.errors import InvalidRequestError
from speaker.jobs.store import FAILED, PENDING, JobStore
from speaker.jobs.webhooks import (
    WebhookDispatcher,
    WebhookVerificationError,
    check_target,
    sign,
    signed_headers,
    verify,
)
from speaker.storage.database import Database, sqlite_url
from tests.jobs.support import submit

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"type":"job.completed","data":{"id":"job_1"}}'


def test_a_signed_delivery_verifies_with_the_same_secret() -> None:
    now = int(time.time())
    headers = signed_headers(SECRET, "job_1.job.completed", BODY, now)
    verify(SECRET, headers, BODY)
    # Header names are case-insensitive; frameworks capitalize them.
    verify(SECRET, {k.title(): v for k, v in headers.items()}, BODY)
    # A plain-text secret (SPEAKER_WEBHOOK_SECRET) works the same way.
    plain = signed_headers("correct horse", "m", BODY, now)
    verify("correct horse", plain, BODY)


def test_the_signature_is_the_standard_webhooks_one() -> None:
    # HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed by the base64 part of `whsec_…`.
    import hashlib
    import hmac

    expected = hmac.new(b"k" * 32, b"m.1700000000." + BODY, hashlib.sha256).digest()
    assert sign(SECRET, "m", 1_700_000_000, BODY) == "v1," + base64.b64encode(expected).decode()


def test_a_tampered_body_or_another_secret_is_rejected() -> None:
    headers = signed_headers(SECRET, "m", BODY, int(time.time()))
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify(SECRET, headers, BODY.replace(b"job_1", b"job_2"))
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, BODY)
    with pytest.raises(WebhookVerificationError, match="headers"):
        verify(SECRET, {"webhook-id": "m"}, BODY)


def test_a_replayed_old_delivery_is_rejected() -> None:
    sent = int(time.time()) - 301
    headers = signed_headers(SECRET, "m", BODY, sent)
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify(SECRET, headers, BODY)
    verify(SECRET, headers, BODY, now=sent + 10)  # the same delivery, on time
    future = signed_headers(SECRET, "m", BODY, int(time.time()) + 3600)
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify(SECRET, future, BODY)


def test_rotated_secrets_any_matching_signature_passes() -> None:
    now = int(time.time())
    headers = signed_headers(SECRET, "m", BODY, now)
    headers["webhook-signature"] = "v1,bm9wZQ== " + headers["webhook-signature"]
    verify(SECRET, headers, BODY)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http:///no-host",
        "http://example.com:99999/hook",
    ],
)
def test_private_loopback_and_odd_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        check_target(url, allow_private=False)
    assert refused.value.code == "webhook_target_refused"
    assert refused.value.param == "webhook_url"
    assert "SPEAKER_WEBHOOK_ALLOW_PRIVATE" in (refused.value.suggestion or "")


def test_public_addresses_pass_and_private_ones_when_allowed() -> None:
    check_target("https://93.184.215.14/hook", allow_private=False)
    check_target("http://127.0.0.1:9000/hook", allow_private=True)
    with pytest.raises(InvalidRequestError):
        check_target("gopher://127.0.0.1/", allow_private=True)


class _Receiver(BaseHTTPRequestHandler):
    """Answers every POST with the next status of `statuses` and records what it got."""

    statuses: ClassVar[list[int]] = []
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((dict(self.headers.items()), body))
        status = self.statuses.pop(0) if self.statuses else 204
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("location", "http://127.0.0.1:1/elsewhere")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"statuses": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def _dispatch_until(
    dispatcher: WebhookDispatcher, store: JobStore, job_id: str, state: str
) -> None:
    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            job = await asyncio.to_thread(store.job, job_id)
            assert job is not None
            if job.webhook_state == state:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(run())


def test_redirects_are_not_followed_and_each_attempt_is_recorded(
    tmp_path: Path, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    handler.statuses.extend([302, 302])
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    try:
        store = JobStore(database, lease_s=30, max_attempts=3)
        settings = Settings(
            data_dir=tmp_path,
            webhook_allow_private=True,
            webhook_max_attempts=2,
            webhook_backoff_s=0.05,
            webhook_timeout_s=5,
        )
        job_id = submit(store, 1, webhook_url=url)
        store.cancel(job_id)
        dispatcher = WebhookDispatcher(store, settings, lambda key_id: SECRET)
        _dispatch_until(dispatcher, store, job_id, FAILED)
        detail = store.detail(job_id)
    finally:
        database.close()
    assert detail is not None
    assert [(d.attempt, d.status_code, d.event) for d in detail.deliveries] == [
        (1, 302, "job.cancelled"),
        (2, 302, "job.cancelled"),
    ]
    assert len(handler.received) == 2  # nothing reached the redirect's target
    headers, body = handler.received[0]
    verify(SECRET, headers, body)
    event = json.loads(body)
    assert event["type"] == "job.cancelled"
    assert event["data"]["id"] == job_id
    assert event["data"]["counts"]["cancelled"] == 1


def test_a_target_that_turned_private_is_refused_at_delivery(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    try:
        store = JobStore(database, lease_s=30, max_attempts=3)
        settings = Settings(data_dir=tmp_path, webhook_max_attempts=5, webhook_backoff_s=60)
        # Accepted while the name was public; it resolves to loopback now.
        job_id = submit(store, 1, webhook_url="http://localhost:9/hook")
        store.cancel(job_id)
        dispatcher = WebhookDispatcher(store, settings, lambda key_id: SECRET)

        async def once() -> None:
            job = store.claim_webhook(job_id, hold_s=30)
            assert job is not None
            async with httpx.AsyncClient() as client:
                await dispatcher.deliver(client, job)

        asyncio.run(once())
        detail = store.detail(job_id)
    finally:
        database.close()
    assert detail is not None
    assert detail.job.webhook_state == PENDING  # retried later, with backoff
    assert detail.job.webhook_next_at is not None
    assert detail.job.webhook_next_at > time.time() + 50
    [delivery] = detail.deliveries
    assert delivery.status_code is None
    assert delivery.error is not None
    assert "resolves to" in delivery.error


def test_without_a_secret_a_webhook_fails_at_once(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    try:
        store = JobStore(database, lease_s=30, max_attempts=3)
        settings = Settings(data_dir=tmp_path, webhook_allow_private=True)
        job_id = submit(store, 1, webhook_url="http://127.0.0.1:9/hook")
        store.cancel(job_id)
        dispatcher = WebhookDispatcher(store, settings, lambda key_id: None)
        _dispatch_until(dispatcher, store, job_id, FAILED)
        detail = store.detail(job_id)
    finally:
        database.close()
    assert detail is not None
    assert detail.job.webhook_state == FAILED
    assert [d.error for d in detail.deliveries] == [
        "no webhook secret: the job's API key was deleted or SPEAKER_WEBHOOK_SECRET was unset"
    ]
