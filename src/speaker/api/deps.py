"""FastAPI dependencies: the runtime, and the guard that refuses work until it is ready."""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from speaker.auth.audit import Action, AuditLog
from speaker.auth.principal import ANONYMOUS, Principal
from speaker.observability.trace import SpeechTrace
from speaker.runtime import Runtime

STARTED_STATE = "started"
"""The scope-state key under which the metrics middleware keeps a request's arrival time."""


def get_runtime(request: HTTPConnection) -> Runtime:
    """The runtime this app serves."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def ready_runtime(request: HTTPConnection) -> Runtime:
    """The runtime, or a 503 with Retry-After while engines are still loading."""
    return get_runtime(request).require_ready()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ReadyRuntime = Annotated[Runtime, Depends(ready_runtime)]


def peer_address(request: HTTPConnection) -> str:
    """The client's address (as the proxy headers uvicorn trusts give it)."""
    return request.client.host if request.client else "unknown"


def current_principal(request: HTTPConnection) -> Principal:
    """The caller the auth layer identified; anonymous (owns everything) when auth is off."""
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def client_id(request: HTTPConnection) -> str:
    """Who is asking, for per-client limits: the API key, else the peer address."""
    principal = current_principal(request)
    return f"key:{principal.key_id}" if principal.key_id else peer_address(request)


ClientId = Annotated[str, Depends(client_id)]


def route_template(scope: MutableMapping[str, Any]) -> str | None:
    """The path template of the route that matched (`/v1/jobs/{job_id}`), None if none did."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def speech_trace(request: HTTPConnection) -> SpeechTrace:
    """A timeline for this speech request, started when the request arrived."""
    started = getattr(request.state, STARTED_STATE, None)
    return SpeechTrace(
        get_runtime(request).metrics,
        route_template(request.scope) or request.url.path,
        started if isinstance(started, float) else time.perf_counter(),
    )


Trace = Annotated[SpeechTrace, Depends(speech_trace)]


@dataclass(frozen=True)
class AuditTrail:
    """The audit log, bound to the request's caller and address."""

    log: AuditLog
    principal: Principal
    address: str

    async def record(self, action: Action, target: str | None = None, **detail: Any) -> None:
        """Append what the caller did to `target`; `detail` holds names and counts only."""
        await asyncio.to_thread(
            self.log.record,
            self.principal,
            action,
            target=target,
            address=self.address,
            detail=detail,
        )


def audit_trail(request: HTTPConnection, runtime: ReadyRuntime) -> AuditTrail:
    """The audit log for this request's caller."""
    return AuditTrail(runtime.audit, current_principal(request), peer_address(request))


Audit = Annotated[AuditTrail, Depends(audit_trail)]
