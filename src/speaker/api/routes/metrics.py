"""`GET /metrics`: Prometheus metrics of this server."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from speaker.api.deps import RuntimeDep
from speaker.errors import NotFoundError

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: latency, real-time factor, stages, queue, cache, memory",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """The text exposition format; it needs a readonly key when keys are on, unless
    SPEAKER_METRICS_PUBLIC is set."""
    if not runtime.metrics.enabled:
        raise NotFoundError(
            "metrics are disabled on this server",
            code="metrics_disabled",
            suggestion="start the server with SPEAKER_METRICS_ENABLED=true",
        )
    # A scrape counts jobs in the database: off the event loop.
    body = await asyncio.to_thread(runtime.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
