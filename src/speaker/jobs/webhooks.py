"""Job webhooks: Standard Webhooks signatures, a guard against SSRF, and the dispatcher.

Each delivery is a POST of `{"type": "job.completed" | "job.failed" | "job.cancelled",
"timestamp", "data": {job summary}}` with the headers `webhook-id` (the same on every retry),
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`, as OpenAI and the Standard Webhooks libraries send and check them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from speaker.config import Settings
from speaker.errors import InvalidRequestError, SpeakerError
from speaker.jobs.store import (
    CANCELLED,
    DELIVERED,
    FAILED,
    PENDING,
    DeliveryRecord,
    JobRecord,
    JobStore,
)

log = logging.getLogger(__name__)

SecretLookup = Callable[[str | None], str | None]
"""The webhook secret of an API key id (None: jobs submitted with auth off), if there is one."""

_STANDARD_PREFIX = "whsec_"
# A claimed delivery is another dispatcher's to retry only after this long past its timeout.
_CLAIM_MARGIN_S = 5.0
_POLL_S = 0.5


class WebhookVerificationError(ValueError):
    """A webhook whose signature or timestamp does not check out."""


def _key(secret: str) -> bytes:
    # Standard Webhooks secrets are `whsec_` + base64 of the key; any other string is the key.
    if secret.startswith(_STANDARD_PREFIX):
        return base64.b64decode(secret[len(_STANDARD_PREFIX) :])
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of a body: `v1,` + base64 HMAC-SHA256."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Every header of a signed delivery."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = 300,
    now: float | None = None,
) -> None:
    """Check a received webhook; raises WebhookVerificationError when it is forged, altered or
    older (or newer) than `tolerance_s`, which stops replays of a captured delivery."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise WebhookVerificationError("missing or malformed webhook headers") from exc
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise WebhookVerificationError("the webhook timestamp is outside the tolerance")
    expected = sign(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise WebhookVerificationError("no signature matches")


def _refused(message: str) -> InvalidRequestError:
    return InvalidRequestError(
        message,
        code="webhook_target_refused",
        param="webhook_url",
        suggestion="use a public http(s) URL; to allow private and loopback targets set "
        "SPEAKER_WEBHOOK_ALLOW_PRIVATE=true",
    )


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse (400 webhook_target_refused) URLs that are not http(s) or whose host resolves to
    any loopback, private, link-local, multicast, reserved or unspecified address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused(f"{url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused("a webhook URL must be http:// or https:// with a host")
    if allow_private:
        return
    default = 443 if parts.scheme == "https" else 80
    try:
        infos = socket.getaddrinfo(parts.hostname, port or default, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _refused(f"the webhook host {parts.hostname!r} does not resolve") from None
    for info in infos:
        address = str(info[4][0])
        if _private(address):
            raise _refused(
                f"the webhook host {parts.hostname!r} resolves to {address}, "
                "a loopback, private or otherwise non-public address"
            )


def event_type(state: str) -> str:
    """The webhook `type` of a finished job's state."""
    return {FAILED: "job.failed", CANCELLED: "job.cancelled"}.get(state, "job.completed")


def payload(job: JobRecord) -> bytes:
    """The JSON body announcing a finished job."""
    body = {
        "type": event_type(job.state),
        "timestamp": datetime.fromtimestamp(job.finished_at or time.time(), UTC).isoformat(),
        "data": job.summary(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


class WebhookDispatcher:
    """Delivers due webhooks, retrying with exponential backoff and recording every attempt."""

    def __init__(self, store: JobStore, settings: Settings, secret_for: SecretLookup) -> None:
        self._store = store
        self._settings = settings
        self._secret_for = secret_for

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set."""
        timeout = httpx.Timeout(self._settings.webhook_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    for job_id in await asyncio.to_thread(self._store.due_webhooks):
                        hold = self._settings.webhook_timeout_s + _CLAIM_MARGIN_S
                        job = await asyncio.to_thread(self._store.claim_webhook, job_id, hold)
                        if job is not None:
                            await self.deliver(client, job)
                except Exception:
                    log.exception("webhook dispatch failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _POLL_S)

    async def deliver(self, client: httpx.AsyncClient, job: JobRecord) -> None:
        """Try one delivery of a claimed webhook and record its outcome."""
        assert job.webhook_url is not None
        attempt = job.webhook_attempts + 1
        event = event_type(job.state)
        started = time.time()
        status: int | None = None
        error: str | None = None
        secret = await asyncio.to_thread(self._secret_for, job.key_id)
        try:
            if secret is None:
                raise InvalidRequestError(
                    "no webhook secret: the job's API key was deleted or "
                    "SPEAKER_WEBHOOK_SECRET was unset",
                    code="webhook_secret_missing",
                )
            # Checked again at delivery: the name may resolve elsewhere than at submission.
            await asyncio.to_thread(
                check_target, job.webhook_url, allow_private=self._settings.webhook_allow_private
            )
            body = payload(job)
            headers = signed_headers(secret, f"{job.id}.{event}", body, int(time.time()))
            response = await client.post(job.webhook_url, content=body, headers=headers)
            status = response.status_code
        except SpeakerError as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = (time.time() - started) * 1000
        if status is not None and 200 <= status < 300:
            state, next_at = DELIVERED, None
        elif attempt >= self._settings.webhook_max_attempts or secret is None:
            state, next_at = FAILED, None
        else:
            state = PENDING
            next_at = time.time() + self._settings.webhook_backoff_s * 2 ** (attempt - 1)
        log.info(
            "webhook of %s, attempt %d: %s", job.id, attempt, status if error is None else error
        )
        await asyncio.to_thread(
            self._store.record_delivery,
            job.id,
            DeliveryRecord(attempt, started, event, status, error, duration_ms),
            state=state,
            next_at=next_at,
        )
