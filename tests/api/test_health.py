"""Liveness, readiness, status and docs."""

from __future__ import annotations

import httpx
import pytest

from speaker.api.app import create_app
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer


def test_health_ready_status(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").json() == {"status": "ready"}
    status = httpx.get(f"{server.url}/status").json()
    assert status["status"] == "ready"
    assert status["engines"][0]["name"] == "piper"
    assert status["engines"][0]["model"] == "en_US-joe-medium"
    assert "en_US-joe-medium" in status["voices"]
    assert status["memory"]["rss_bytes"] > 50_000_000
    assert status["queue"]["workers"] == 2
    assert status["queue"]["priority_workers"] == 1
    assert status["uptime_seconds"] > 0
    assert status["versions"]["piper-tts"]


def test_openapi_docs(server: LiveServer) -> None:
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/audio/speech" in spec["paths"]
    assert "/v1/audio/voices" in spec["paths"]


def test_not_ready_until_loaded(tmp_path: pytest.TempPathFactory) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(data_dir=tmp_path, default_voice="en_US-joe-medium")
    runtime = Runtime(settings)
    # The app never entered its lifespan, so the engines are not loaded yet.
    client = TestClient(create_app(settings, runtime))
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    speech = client.post(
        "/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy"}
    )
    assert speech.status_code == 503
    assert speech.json()["error"]["code"] == "not_ready"
    assert speech.headers["retry-after"]
