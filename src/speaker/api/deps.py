"""FastAPI dependencies: the runtime, and the guard that refuses work until it is ready."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from speaker.auth.principal import ANONYMOUS, Principal
from speaker.errors import OverloadedError, shutting_down
from speaker.runtime import Runtime


def get_runtime(request: HTTPConnection) -> Runtime:
    """The runtime this app serves."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def ready_runtime(request: HTTPConnection) -> Runtime:
    """The runtime, or a 503 with Retry-After while engines are still loading."""
    runtime = get_runtime(request)
    if runtime.draining:
        raise shutting_down()
    if not runtime.ready:
        raise OverloadedError(
            "the server is starting: engines are still loading"
            if runtime.load_error is None
            else f"engines failed to load: {runtime.load_error}",
            code="not_ready",
            suggestion="retry in a few seconds; GET /ready tells when the server is ready",
            headers={"Retry-After": "2"},
        )
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ReadyRuntime = Annotated[Runtime, Depends(ready_runtime)]


def client_id(request: HTTPConnection) -> str:
    """Who is asking, for per-client limits: the peer address until API keys exist."""
    return request.client.host if request.client else "unknown"


ClientId = Annotated[str, Depends(client_id)]


def current_principal(request: HTTPConnection) -> Principal:
    """The caller the auth layer identified; anonymous (owns everything) when auth is off."""
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
