"""The ASGI application: middleware, error handlers and routers around one runtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from speaker.api.auth import AuthMiddleware, document_keys
from speaker.api.errors import install_error_handlers
from speaker.api.middleware import (
    BodySizeLimitMiddleware,
    HttpMetricsMiddleware,
    RequestIdMiddleware,
)
from speaker.api.routes import (
    audit,
    consents,
    health,
    jobs,
    keys,
    library,
    metrics,
    models,
    speech,
    tts,
    tts_ws,
    vc,
    voices,
    web,
)
from speaker.auth.ratelimit import RateLimiter
from speaker.config import Settings
from speaker.integrations.wyoming import WyomingServer
from speaker.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """Build the app; the runtime loads in the background so `/health` answers at once."""
    runtime = runtime or Runtime(settings)

    def loaded(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        assert error is not None
        log.error("start-up failed: %s", error)
        if on_load_failure is not None:
            on_load_failure(error)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = None
        if not runtime.ready:
            loading = asyncio.create_task(asyncio.to_thread(runtime.load))
            loading.add_done_callback(loaded)
        wyoming = WyomingServer(runtime, settings.wyoming_uri) if settings.wyoming_uri else None
        if wyoming is not None:
            # Listening before the engines load: Home Assistant gets a `not_ready` error it
            # retries, rather than a refused connection.
            await wyoming.start()
            log.info("Wyoming protocol on %s", wyoming.uri)
        try:
            yield
        finally:
            if wyoming is not None:
                await wyoming.stop()
            if loading is not None and not loading.done():
                await asyncio.wait([loading])
            await asyncio.to_thread(runtime.close)

    app = FastAPI(
        title="Speaker",
        version=runtime.version,
        summary="Self-hosted text-to-speech with an OpenAI-compatible API",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    document_keys(app)
    # Each app has its own limiter: with Redis, replicas share the counters, not the object.
    app.add_middleware(
        AuthMiddleware, runtime=runtime, settings=settings, limiter=RateLimiter(settings.redis_url)
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        upload_bytes=settings.max_voice_upload_bytes,
        bulk_paths=("/v1/voices/import",),
    )
    # Outside the auth and size checks, so that their refusals are counted too.
    app.add_middleware(HttpMetricsMiddleware, metrics=runtime.metrics)
    app.add_middleware(RequestIdMiddleware)
    if settings.cors_origin_list:
        # Outermost, so that preflights are answered without a key and refusals carry CORS
        # headers a browser can read.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            # Keys travel in a header, never in cookies, so browsers honour the wildcard: the
            # x-speaker-* and x-ratelimit-* headers, and any added later, are readable.
            expose_headers=["*"],
        )
    app.include_router(library.openai_router)
    for module in (
        health,
        metrics,
        models,
        voices,
        speech,
        tts,
        tts_ws,
        consents,
        library,
        vc,
        keys,
        audit,
    ):
        app.include_router(module.router)
    app.include_router(jobs.batch_router)
    app.include_router(jobs.router)
    web.install(app)
    return app
