"""Everything a running Speaker needs, built from settings: engines, voices, scheduler, service."""

from __future__ import annotations

import logging
import threading
import time
from importlib.metadata import version

from speaker.config import Settings
from speaker.engines.base import Engine, EngineInfo
from speaker.engines.registry import build_engines
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.service import SpeechService
from speaker.voices.catalog import VoiceCatalog

log = logging.getLogger(__name__)


class Runtime:
    """Loads engines once and wires them to the scheduler and the speech service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = version("speaker-tts")
        self.created_at = time.time()
        self.engines: dict[str, Engine] = build_engines(settings)
        self.engine_infos: dict[str, EngineInfo] = {}
        self.scheduler = Scheduler(
            self.engines,
            SchedulerConfig(
                workers=settings.worker_count,
                lookahead=settings.stream_lookahead,
                max_streams=settings.max_streams,
                max_streams_per_client=settings.max_streams_per_client,
                headroom=settings.admission_headroom,
                batch_wait_s=settings.batch_wait_ms / 1000,
            ),
        )
        self._catalog: VoiceCatalog | None = None
        self._service: SpeechService | None = None
        self._ready = threading.Event()
        self._draining = threading.Event()
        self.load_error: BaseException | None = None
        self.ready_seconds: float | None = None

    @property
    def ready(self) -> bool:
        """True once every engine is loaded and workers run, until shutdown begins."""
        return self._ready.is_set() and not self._draining.is_set()

    @property
    def catalog(self) -> VoiceCatalog:
        """The voice catalog (available once loaded)."""
        if self._catalog is None:
            raise RuntimeError("runtime not loaded")
        return self._catalog

    @property
    def service(self) -> SpeechService:
        """The speech service (available once loaded)."""
        if self._service is None:
            raise RuntimeError("runtime not loaded")
        return self._service

    def load(self) -> None:
        """Load engines, index voices and start the workers; raises on bad configuration."""
        try:
            for name, engine in self.engines.items():
                self.engine_infos[name] = engine.load()
            self._catalog = VoiceCatalog(
                self.engines, self.settings.default_voice, self.settings.voice_map
            )
            self._service = SpeechService(
                self.settings, self.engines, self._catalog, self.scheduler
            )
            self.scheduler.start(min(info.realtime_factor for info in self.engine_infos.values()))
        except BaseException as exc:
            self.load_error = exc
            raise
        self.ready_seconds = time.time() - self.created_at
        self._ready.set()
        log.info("speaker ready in %.2f s", self.ready_seconds)

    @property
    def draining(self) -> bool:
        """True once shutdown began: readiness is off and new streams are refused."""
        return self._draining.is_set()

    def drain(self, timeout: float) -> bool:
        """Refuse new streams, then wait for those in flight; False if some were still running."""
        self._draining.set()
        self.scheduler.admission.drain()
        deadline = time.monotonic() + timeout
        while self.scheduler.admission.active and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.scheduler.admission.active == 0

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loaded; False on timeout."""
        return self._ready.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers and release the engines."""
        self._ready.clear()
        self.scheduler.stop(timeout)
        for engine in self.engines.values():
            engine.close()
