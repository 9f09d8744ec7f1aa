"""Pure ASGI middleware (streaming-safe): request ids, request metrics, request-size limits."""

from __future__ import annotations

import json
import re
import time
import uuid
from contextvars import ContextVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from speaker.api.deps import STARTED_STATE, route_template
from speaker.api.errors import error_body
from speaker.observability.metrics import Metrics

REQUEST_ID_HEADER = "x-request-id"
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Gives every request an id (a sane incoming one is kept) and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request and its response."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = (
            dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        )
        request_id = incoming if _SAFE_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


# Refusal bodies are small JSON errors; anything longer is not read for its code.
_REFUSAL_BODY_LIMIT = 4096
_REFUSALS = (429, 503)
_WS_RETRY_LATER = 1013


def _error_code(body: bytes) -> str | None:
    """The code of an error body; None for anything else (a readiness probe's 503)."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class HttpMetricsMiddleware:
    """Counts and times every request by route template and status, and every refusal (429,
    503, or a WebSocket closed with 1013) by its error code, wherever it was decided."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stamp the arrival time, pass the request on, and record how it ended."""
        if scope["type"] not in ("http", "websocket") or not self.metrics.enabled:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})[STARTED_STATE] = started
        status = 500
        refusal_body: bytearray | None = None

        async def observe(message: Message) -> None:
            nonlocal status, refusal_body
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if status in _REFUSALS:
                    refusal_body = bytearray()
            elif kind == "http.response.body" and refusal_body is not None:
                if len(refusal_body) < _REFUSAL_BODY_LIMIT:
                    refusal_body += message.get("body", b"")
                if not message.get("more_body", False):
                    code = _error_code(bytes(refusal_body))
                    if code is not None:
                        self.metrics.refused(code)
                    refusal_body = None
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close":
                status = message.get("code", 1000)
                if status == _WS_RETRY_LATER:
                    self.metrics.refused(message.get("reason") or "unknown")
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = route_template(scope) or "unmatched"
            method = scope.get("method", "WS") if scope["type"] == "http" else "WS"
            self.metrics.request(method, route, status, time.perf_counter() - started)


# Form fields and multipart boundaries around an uploaded file.
_FORM_OVERHEAD = 64 * 1024


class BodySizeLimitMiddleware:
    """Refuses bodies over a limit with 413, by header before reading, or while reading.

    JSON bodies get `max_bytes`; file uploads (multipart forms) get `upload_bytes` plus room
    for the other form fields, and paths in `bulk_paths` (archive imports) ten times that.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int | None = None,
        bulk_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes
        self.bulk_paths = bulk_paths

    def _limit(self, scope: Scope) -> int:
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if not content_type.startswith(b"multipart/form-data"):
            return self.max_bytes
        upload = self.upload_bytes + _FORM_OVERHEAD
        return upload * 10 if scope.get("path", "") in self.bulk_paths else upload

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(
            error_body(
                f"request body is larger than {limit} bytes",
                code="request_too_large",
                error_type="invalid_request_error",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what actually arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing untouched and is
                    # rendered by the app's own error handler.
                    raise HTTPException(413, f"request body is larger than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)
