"""Exception handlers: every failure leaves as OpenAI-shaped JSON with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from speaker.audio.formats import AudioFormat
from speaker.errors import SpeakerError

log = logging.getLogger(__name__)

_HINTS = {
    "response_format": f"use one of: {', '.join(f.value for f in AudioFormat)}",
    "speed": "use a number from 0.25 to 4.0",
    "stream_format": "use 'audio' or 'sse'",
}


def error_body(
    message: str, *, code: str, error_type: str, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An error body in OpenAI's shape."""
    return {
        "error": {"message": message, "type": error_type, "param": param, "code": code, **extra}
    }


async def _speaker_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpeakerError)
    if exc.status_code >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = loc[0] if loc else None
    field = param
    if len(loc) >= 3 and loc[1].isdigit():
        # A field of a list element (a batch item): name the element, `items[3].speed`.
        field = loc[2]
        param = f"{loc[0]}[{loc[1]}].{field}"
    if first.get("type") == "json_invalid":
        message, code = "the request body is not valid JSON", "invalid_json"
    elif first.get("type") == "missing":
        message, code = f"missing required parameter: {param}", "missing_required_parameter"
    else:
        message, code = f"invalid value for {param or 'body'}: {first.get('msg')}", "invalid_value"
    extra = {"suggestion": _HINTS[field]} if field in _HINTS else {}
    return JSONResponse(
        error_body(message, code=code, error_type="invalid_request_error", param=param, **extra),
        status_code=400,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
        exc.status_code, "http_error"
    )
    message = str(exc.detail) if exc.detail else "error"
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    return JSONResponse(
        error_body(message, code=code, error_type="invalid_request_error"),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal server error", code="internal_error", error_type="server_error"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(SpeakerError, _speaker_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
