"""Errors every layer raises; the HTTP layer turns them into OpenAI-shaped JSON."""

from __future__ import annotations

from typing import Any


class SpeakerError(Exception):
    """A failure with an HTTP status, a stable code and, where one helps, a suggestion."""

    status_code = 500
    error_type = "server_error"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        suggestion: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.suggestion = suggestion
        self.extra = extra or {}
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        """The body of the error response: `{"error": {...}}`."""
        body: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }
        if self.suggestion:
            body["suggestion"] = self.suggestion
        body.update(self.extra)
        return {"error": body}


class InvalidRequestError(SpeakerError):
    """The request cannot be served as written (400)."""

    status_code = 400
    error_type = "invalid_request_error"


class AuthenticationError(SpeakerError):
    """The request carries no API key, or one that is unknown or revoked (401)."""

    status_code = 401
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, code: str, suggestion: str | None = None) -> None:
        # RFC 6750: a 401 names the scheme the client should use.
        super().__init__(
            message, code=code, suggestion=suggestion, headers={"WWW-Authenticate": "Bearer"}
        )


class PermissionDeniedError(SpeakerError):
    """The caller is known but its role or ownership does not allow this (403)."""

    status_code = 403
    error_type = "permission_error"


class NotFoundError(SpeakerError):
    """A named model, voice or resource does not exist (404)."""

    status_code = 404
    error_type = "invalid_request_error"


class PayloadTooLargeError(SpeakerError):
    """The request body is over the configured limit (413)."""

    status_code = 413
    error_type = "invalid_request_error"


class UnsupportedMediaError(SpeakerError):
    """The uploaded file is not audio in a format Speaker can read (415)."""

    status_code = 415
    error_type = "invalid_request_error"


class ConflictError(SpeakerError):
    """The request clashes with the current state of a resource (409)."""

    status_code = 409
    error_type = "invalid_request_error"


class UnprocessableError(SpeakerError):
    """The request is well-formed but its content cannot be used (422)."""

    status_code = 422
    error_type = "invalid_request_error"


class RateLimitedError(SpeakerError):
    """This client sent more than its share; retry after the given time (429)."""

    status_code = 429
    error_type = "rate_limit_error"


class OverloadedError(SpeakerError):
    """The server cannot take this work now; retry after the given time (503)."""

    status_code = 503
    error_type = "server_error"


class EngineError(SpeakerError):
    """The engine failed while synthesizing (500)."""

    status_code = 500
    error_type = "server_error"


def shutting_down() -> OverloadedError:
    """The refusal every layer gives once shutdown began."""
    return OverloadedError(
        "the server is shutting down",
        code="shutting_down",
        suggestion="retry against another replica",
        headers={"Retry-After": "5"},
    )
