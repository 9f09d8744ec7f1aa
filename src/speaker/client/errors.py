"""The exceptions the SDK raises: one hierarchy, built from the server's `{"error": {...}}` body."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any


class SpeakerClientError(Exception):
    """Base of every exception the SDK raises."""


class APIConnectionError(SpeakerClientError):
    """The server could not be reached, or the connection broke before the answer was complete."""

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        # False when the request never left (no connection): sending it again cannot repeat it.
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's timeout."""


class SpeakerAPIError(SpeakerClientError):
    """The server answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        code: str,
        type: str | None = None,
        param: str | None = None,
        suggestion: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # None for an error told inside a stream (SSE event, WebSocket message): no status line.
        self.status = status
        self.code = code
        self.type = type
        self.param = param
        self.suggestion = suggestion
        self.request_id = request_id
        self.retry_after = retry_after
        self.retryable = retryable
        self.body: Mapping[str, Any] = body or {}

    def __str__(self) -> str:
        """The message with its status and code, and the suggestion when there is one."""
        head = f"{self.status} {self.code}" if self.status is not None else self.code
        text = f"{head}: {self.message}"
        return f"{text} ({self.suggestion})" if self.suggestion else text


class InvalidRequestError(SpeakerAPIError):
    """The request cannot be served as written (400, 413, 415, 422 and other 4xx); never retried."""


class NotFoundError(InvalidRequestError):
    """What the request names does not exist: a 404, or a 400 `*_not_found` (an unknown voice)."""


class AuthenticationError(SpeakerAPIError):
    """No API key, or an unknown or revoked one (401)."""


class PermissionDeniedError(SpeakerAPIError):
    """The key's role or ownership does not allow this (403)."""


class ConflictError(SpeakerAPIError):
    """The resource is not in a state that allows this, such as a job item not finished (409)."""


class RateLimitError(SpeakerAPIError):
    """Too many requests, streams or characters for this client or key (429)."""


class OverloadedError(SpeakerAPIError):
    """The server is at capacity, loading or shutting down (503)."""


class ServerError(SpeakerAPIError):
    """The server failed (5xx other than 503)."""


# Errors told inside a stream have no status; these codes say which status they stand for.
_STATUS_OF_CODE = {
    "missing_api_key": 401,
    "invalid_api_key": 401,
    "insufficient_role": 403,
    "not_voice_owner": 403,
    "rate_limit_exceeded": 429,
    "too_many_streams": 429,
    "overloaded": 503,
    "not_ready": 503,
    "shutting_down": 503,
}

_CLASS_OF_STATUS: dict[int, type[SpeakerAPIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: OverloadedError,
}


def _effective_status(status: int | None, code: str, error_type: str | None) -> int:
    if status is not None:
        return status
    if code in _STATUS_OF_CODE:
        return _STATUS_OF_CODE[code]
    return 400 if error_type == "invalid_request_error" else 500


def _error_class(status: int, code: str) -> type[SpeakerAPIError]:
    if status == 400 and code.endswith("_not_found"):
        return NotFoundError
    if status in _CLASS_OF_STATUS:
        return _CLASS_OF_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return InvalidRequestError
    return SpeakerAPIError


def is_retryable_status(status: int, retry_after: float | None) -> bool:
    """Whether an answer with this status may succeed if sent again later.

    A 409 only when the server says when (`item_not_ready` does; a failed item never will).
    """
    if status == 409:
        return retry_after is not None
    return status in (408, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms`, else `Retry-After` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_body(
    body: Mapping[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> SpeakerAPIError:
    """The exception for an error body `{"error": {...}}` (from a response or inside a stream)."""
    detail = body.get("error")
    if not isinstance(detail, Mapping):
        detail = {}
    code = str(detail.get("code") or (f"http_{status}" if status else "error"))
    error_type = detail.get("type")
    effective = _effective_status(status, code, error_type)
    cls = _error_class(effective, code)
    return cls(
        str(detail.get("message") or "the server answered with an error"),
        status=status,
        code=code,
        type=error_type,
        param=detail.get("param"),
        suggestion=detail.get("suggestion"),
        request_id=request_id,
        retry_after=retry_after,
        retryable=is_retryable_status(effective, retry_after),
        body=detail,
    )


def error_from_response(status: int, headers: Mapping[str, str], content: bytes) -> SpeakerAPIError:
    """The exception for an HTTP error answer; a body that is not Speaker's JSON still has one."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        # A proxy's HTML page or an empty body: keep a readable piece of it as the message.
        text = content.decode("utf-8", "replace").strip()[:200]
        body = {"error": {"message": text or f"HTTP {status}"}}
    return error_from_body(
        body,
        status=status,
        request_id=headers.get("x-request-id"),
        retry_after=parse_retry_after(headers),
    )
