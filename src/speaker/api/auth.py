"""API keys, roles and rate limits in front of every route, HTTP and WebSocket alike.

A pure ASGI middleware rather than a FastAPI dependency: no route can be added without it,
WebSockets pass through it too, and it can add the rate-limit headers to streamed responses,
whose headers leave only once the route has returned.

A request to a route that is not public is identified by `Authorization: Bearer <key>` (for a
WebSocket also `?api_key=<key>`, since browsers cannot set its headers). Keys are required when
SPEAKER_AUTH is `on`, or `auto` once any active key exists; otherwise the caller is anonymous
and may do everything, and the default rate limits (if any) apply per client address. Reading
(GET, HEAD) needs the `readonly` role, anything else `user`, and `/v1/keys` and `/v1/audit`
need `admin`. Refusals are the usual JSON errors; a WebSocket is refused the way its sessions
refuse anything: accepted, sent an `error` message, closed with 1008 (1013 for a retry later).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from speaker.auth.keys import KeyStore
from speaker.auth.principal import ANONYMOUS, Principal, Role
from speaker.auth.ratelimit import Kind, Quota, RateLimiter, Verdict
from speaker.config import Settings
from speaker.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitedError,
    SpeakerError,
)
from speaker.runtime import Runtime

PUBLIC_PATHS = frozenset(
    {"/", "/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Paths anyone may read: probes, the API docs, and the web page (which asks for a key)."""
PUBLIC_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"
"""Public too when SPEAKER_METRICS_PUBLIC is set (a scraper inside a private network)."""
ADMIN_PREFIXES = ("/v1/keys", "/v1/audit")
_READING = frozenset({"GET", "HEAD"})
_KEY_HINT = "send `Authorization: Bearer <key>`; an admin creates keys with `speaker keys create`"


def is_public(path: str) -> bool:
    """True for paths served without a key."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def required_role(scope_type: str, method: str, path: str) -> Role:
    """The least role a request needs: admin for keys and audit, readonly for reading."""
    if any(path == prefix or path.startswith(f"{prefix}/") for prefix in ADMIN_PREFIXES):
        return Role.ADMIN
    if scope_type == "http" and method in _READING:
        return Role.READONLY
    return Role.USER


def document_keys(app: FastAPI) -> None:
    """Declare the bearer key in the OpenAPI schema, so that /docs can send one."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI caches it; marking it twice changes nothing
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {"type": "http", "scheme": "bearer", "bearerFormat": "spk-…"}
        for path, operations in schema.get("paths", {}).items():
            if not is_public(path):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


@dataclass
class Budget:
    """The rate limits a request spends from, and the headers its response will carry."""

    limiter: RateLimiter
    quota: Quota
    headers: dict[str, str] = field(default_factory=dict)

    async def spend(self, kind: Kind, amount: int) -> Verdict | None:
        """Spend from one limit and remember its headers for the response."""
        verdict = await self.limiter.spend(self.quota, kind, amount)
        if verdict is not None:
            self.headers.update(verdict.headers())
        return verdict


def _limited(verdict: Verdict) -> RateLimitedError:
    what = "requests" if verdict.kind == "requests" else "characters of input"
    return RateLimitedError(
        f"rate limit reached: {verdict.limit} {what} per minute",
        code="rate_limit_exceeded",
        suggestion=f"retry in {verdict.retry_after} s, or ask an admin for a higher limit",
        extra={"retry_after": verdict.retry_after},
        headers={"Retry-After": str(verdict.retry_after)},
    )


async def charge_characters(connection: HTTPConnection, characters: int) -> None:
    """Spend `characters` of input from the caller's per-minute budget, or raise.

    Every route that takes text to speak calls this with the text's length before synthesis:
    429 `rate_limit_exceeded` (with Retry-After) when the budget has no room now, 400 when the
    text alone is more than a minute's budget. Nothing is spent on a refusal.
    """
    budget: Budget = connection.state.budget
    per_minute = budget.quota.characters_per_minute
    if 0 < per_minute < characters:
        raise InvalidRequestError(
            f"the input is {characters} characters; the limit is {per_minute} a minute",
            code="input_over_rate_limit",
            param="input",
            suggestion="split the text into smaller requests, or ask an admin for a higher limit",
        )
    verdict = await budget.spend("characters", characters)
    if verdict is not None and not verdict.allowed:
        raise _limited(verdict)


class AuthMiddleware:
    """Identifies the caller, checks its role and spends one request from its budget."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, settings: Settings, limiter: RateLimiter
    ) -> None:
        self.app = app
        self._runtime = runtime
        self._settings = settings
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the request with its principal and budget in the scope, or refuse it."""
        if scope["type"] not in ("http", "websocket") or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            principal, quota = await self._identify(scope)
            _check_role(principal, scope)
        except SpeakerError as exc:
            await _refuse(scope, receive, send, exc, exc.headers)
            return
        budget = Budget(self._limiter, quota)
        verdict = await budget.spend("requests", 1)
        if verdict is not None and not verdict.allowed:
            error = _limited(verdict)
            await _refuse(scope, receive, send, error, {**error.headers, **budget.headers})
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["budget"] = budget

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start" and budget.headers:
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in budget.headers.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    def _public(self, path: str) -> bool:
        return is_public(path) or (self._settings.metrics_public and path == METRICS_PATH)

    async def _identify(self, scope: Scope) -> tuple[Principal, Quota]:
        settings = self._settings
        if settings.auth != "off":
            keys = self._keys()
            count = await asyncio.to_thread(keys.active_count)
            if settings.auth == "on" or count > 0:
                secret = _secret(scope)
                if secret is None:
                    raise AuthenticationError(
                        "this server needs an API key", code="missing_api_key", suggestion=_KEY_HINT
                    )
                record = await asyncio.to_thread(keys.authenticate, secret)
                if record is None:
                    raise AuthenticationError(
                        "the API key is not valid, or has been revoked",
                        code="invalid_api_key",
                        suggestion=_KEY_HINT,
                    )
                return record.principal, Quota(
                    f"key:{record.id}",
                    _either(record.requests_per_minute, settings.rate_limit_rpm),
                    _either(record.chars_per_minute, settings.rate_limit_cpm),
                )
        client = scope.get("client")
        address = client[0] if client else "unknown"
        return ANONYMOUS, Quota(f"addr:{address}", settings.rate_limit_rpm, settings.rate_limit_cpm)

    def _keys(self) -> KeyStore:
        try:
            return self._runtime.keys
        except RuntimeError:
            # Keys live in the database, which opens while engines load.
            raise OverloadedError(
                "the server is starting: API keys cannot be checked yet",
                code="not_ready",
                suggestion="retry in a few seconds; GET /ready tells when the server is ready",
                headers={"Retry-After": "2"},
            ) from None


def _check_role(principal: Principal, scope: Scope) -> None:
    needed = required_role(scope["type"], scope.get("method", ""), scope["path"])
    if not principal.allows(needed):
        raise PermissionDeniedError(
            f"this needs the {needed.value} role; the key has the {principal.role.value} role",
            code="insufficient_role",
            suggestion=f"use a key with the {needed.value} role",
            extra={"required_role": needed.value},
        )


def _either(own: int | None, default: int) -> int:
    return default if own is None else own


def _secret(scope: Scope) -> str | None:
    """The key a request carries: its bearer token, or a WebSocket's `api_key` parameter."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if scope["type"] == "websocket":
        return QueryParams(scope.get("query_string", b"")).get("api_key", "").strip() or None
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: SpeakerError, headers: dict[str, str]
) -> None:
    """Answer with the error: a JSON response, or over a WebSocket the session's own protocol."""
    if scope["type"] == "websocket":
        # As the session itself refuses (a browser can read this, not a refused handshake):
        # the error message, then 1013 when a retry can cure it, 1008 when it cannot.
        if (await receive())["type"] != "websocket.connect":
            return  # the client left during the handshake
        await send({"type": "websocket.accept"})
        await send(
            {"type": "websocket.send", "text": json.dumps({"type": "error", **error.to_dict()})}
        )
        code = 1013 if error.status_code in (429, 503) else 1008
        await send({"type": "websocket.close", "code": code, "reason": error.code})
        return
    body = json.dumps(error.to_dict()).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
