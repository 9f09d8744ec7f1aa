"""Liveness, readiness and status."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict
from importlib.metadata import version
from typing import Any

import psutil
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from speaker.api.deps import RuntimeDep

router = APIRouter(tags=["health"])
_process = psutil.Process()


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    """Always 200 while the process serves HTTP."""
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: engines loaded and workers running")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """200 once the engines are loaded, 503 before (or if loading failed)."""
    if runtime.ready:
        return JSONResponse({"status": "ready"})
    state = "draining" if runtime.draining else "failed" if runtime.load_error else "loading"
    return JSONResponse({"status": state}, status_code=503, headers={"Retry-After": "2"})


@router.get("/status", summary="Engines, voices, versions, uptime, memory and queue")
async def status(runtime: RuntimeDep) -> dict[str, Any]:
    """A snapshot of the server for people and dashboards."""
    memory = _process.memory_info()
    stats = runtime.scheduler.stats()
    engines = [
        {
            "name": info.name,
            "model": info.model,
            "version": info.version,
            "device": info.device,
            "load_seconds": round(info.load_seconds, 3),
            "capabilities": {
                "cloning": runtime.engines[name].capabilities.cloning,
                "instructions": runtime.engines[name].capabilities.instructions,
                "max_batch_size": runtime.engines[name].capabilities.max_batch_size,
            },
            **info.details,
        }
        for name, info in runtime.engine_infos.items()
    ]
    voices = [v.id for v in runtime.catalog.voices()] if runtime.ready else []
    recent = runtime.metrics.recent.summary()
    rtf = (
        stats.recent_busy_seconds / stats.recent_audio_seconds
        if stats.recent_audio_seconds
        else None
    )
    cache = asdict(runtime.speech_cache.stats()) if runtime.ready else None
    return {
        "status": "ready" if runtime.ready else "draining" if runtime.draining else "loading",
        "version": runtime.version,
        "uptime_seconds": round(time.time() - runtime.created_at, 3),
        "ready_seconds": runtime.ready_seconds,
        "default_engine": runtime.settings.default_engine,
        "default_voice": runtime.settings.default_voice,
        "engines": engines,
        "voices": voices,
        "queue": {
            "active_streams": runtime.scheduler.admission.active,
            "realtime_capacity": round(runtime.scheduler.realtime_capacity(), 2),
            "workers": stats.workers,
            "priority_workers": stats.priority_workers,
            "busy": stats.busy,
            "queued": stats.queued,
            "completed": stats.completed,
            "failed": stats.failed,
            "audio_seconds": round(stats.audio_seconds, 3),
            "busy_seconds": round(stats.busy_seconds, 3),
        },
        "recent": {
            "requests": recent.requests,
            "ttfa_ms_p50": recent.ttfa_ms_p50,
            "ttfa_ms_p95": recent.ttfa_ms_p95,
            "realtime_factor": round(rtf, 4) if rtf is not None else None,
        },
        "cache": cache,
        "memory": {"rss_bytes": memory.rss, "vms_bytes": memory.vms},
        "versions": {
            "python": platform.python_version(),
            "fastapi": version("fastapi"),
            "piper-tts": version("piper-tts"),
            "onnxruntime": version("onnxruntime"),
            "av": version("av"),
        },
    }
