"""Everything a running Speaker needs, built from settings: engines, voices, scheduler, service."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from functools import cached_property
from importlib.metadata import version

from redis import Redis

from speaker.allocator import MemoryTrimmer, limit_malloc_arenas
from speaker.auth.audit import AuditLog
from speaker.auth.keys import KeyStore
from speaker.cache import SpeechCache, SpeechKeys, open_audio_cache
from speaker.config import Settings
from speaker.engines.base import Engine, EngineInfo
from speaker.engines.registry import build_engines
from speaker.errors import OverloadedError, shutting_down
from speaker.jobs import JobService, JobWorkers
from speaker.observability.metrics import CacheCounts, Metrics, ServerGauges
from speaker.scheduler import Scheduler, SchedulerConfig
from speaker.scheduler.warmup import WarmupTask, warmup_text
from speaker.service import SpeechService
from speaker.storage.database import Database, sqlite_url
from speaker.voices.catalog import VoiceCatalog
from speaker.voices.consents import ConsentStore
from speaker.voices.library import IntakeLimits, VoiceLibrary
from speaker.voices.previews import VoicePreviews
from speaker.voices.transcribe import Transcriber

log = logging.getLogger(__name__)


def open_database(settings: Settings) -> Database:
    """The metadata database the settings name (SQLite under the data directory by default)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.database_url or sqlite_url(settings.data_dir / "speaker.db"))


class Runtime:
    """Loads engines once and wires them to the scheduler and the speech service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = version("speaker-tts")
        self.created_at = time.time()
        self.engines: dict[str, Engine] = build_engines(settings)
        self.engine_infos: dict[str, EngineInfo] = {}
        self.metrics = Metrics(enabled=settings.metrics_enabled, version=self.version)
        self.metrics.read_gauges_from(self.gauges)
        self.scheduler = Scheduler(
            self.engines,
            SchedulerConfig(
                workers=settings.worker_count,
                lookahead=settings.stream_lookahead,
                max_streams=settings.max_streams,
                max_streams_per_client=settings.max_streams_per_client,
                headroom=settings.admission_headroom,
                batch_wait_s=settings.batch_wait_ms / 1000,
                priority_workers=settings.priority_workers,
                background_nice=settings.worker_nice,
            ),
            self.metrics,
        )
        self._catalog: VoiceCatalog | None = None
        self._library: VoiceLibrary | None = None
        self._consents: ConsentStore | None = None
        self._database: Database | None = None
        self._keys: KeyStore | None = None
        self._audit: AuditLog | None = None
        self._previews: VoicePreviews | None = None
        self._service: SpeechService | None = None
        self._speech_cache: SpeechCache | None = None
        self._jobs: JobService | None = None
        self._job_workers: JobWorkers | None = None
        self._trimmer = MemoryTrimmer(settings.malloc_trim_seconds)
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
    def library(self) -> VoiceLibrary:
        """The cloned-voice library (available once loaded)."""
        if self._library is None:
            raise RuntimeError("runtime not loaded")
        return self._library

    @property
    def database(self) -> Database:
        """The metadata database (available once loaded)."""
        if self._database is None:
            raise RuntimeError("runtime not loaded")
        return self._database

    @property
    def keys(self) -> KeyStore:
        """The API keys (available once loading has opened the database)."""
        if self._keys is None:
            raise RuntimeError("runtime not loaded")
        return self._keys

    @property
    def audit(self) -> AuditLog:
        """The audit log (available once loading has opened the database)."""
        if self._audit is None:
            raise RuntimeError("runtime not loaded")
        return self._audit

    @cached_property
    def redis(self) -> Redis | None:
        """The shared Redis client when SPEAKER_REDIS_URL is set; None on a single machine."""
        if not self.settings.redis_url:
            return None
        return Redis.from_url(self.settings.redis_url, health_check_interval=30)

    @property
    def consents(self) -> ConsentStore:
        """The consent recordings (available once loaded)."""
        if self._consents is None:
            raise RuntimeError("runtime not loaded")
        return self._consents

    @property
    def previews(self) -> VoicePreviews:
        """Cached voice previews (available once loaded)."""
        if self._previews is None:
            raise RuntimeError("runtime not loaded")
        return self._previews

    @property
    def service(self) -> SpeechService:
        """The speech service (available once loaded)."""
        if self._service is None:
            raise RuntimeError("runtime not loaded")
        return self._service

    @property
    def speech_cache(self) -> SpeechCache:
        """The audio cache in front of the speech service (available once loaded)."""
        if self._speech_cache is None:
            raise RuntimeError("runtime not loaded")
        return self._speech_cache

    @property
    def jobs(self) -> JobService:
        """Batch jobs (available once loaded)."""
        if self._jobs is None:
            raise RuntimeError("runtime not loaded")
        return self._jobs

    def _webhook_secret(self, key_id: str | None) -> str | None:
        """The secret signing webhooks of jobs submitted with `key_id` (None: without a key)."""
        if key_id is None:
            return self.settings.webhook_secret or None
        return self.keys.webhook_secret(key_id)

    def load(self) -> None:
        """Load engines, index voices and start the workers; raises on bad configuration."""
        # Before any worker thread exists, so that none of them gets an arena of its own.
        limit_malloc_arenas(self.settings.malloc_arenas)
        try:
            for name, engine in self.engines.items():
                self.engine_infos[name] = engine.load()
            self._open_library()
            self._catalog = VoiceCatalog(
                self.engines, self.settings.default_voice, self.settings.voice_map, self._library
            )
            self._service = SpeechService(
                self.settings, self.engines, self._catalog, self.scheduler, self.metrics
            )
            self._speech_cache = SpeechCache(
                open_audio_cache(self.settings, self.redis),
                self._service,
                SpeechKeys(
                    self.engines,
                    self.engine_infos,
                    self._library,
                    self.settings.max_pause_ms,
                    self.version,
                ),
            )
            self._previews = VoicePreviews(
                self.settings.data_dir / "previews",
                self._service,
                self._catalog,
                self.engine_infos,
            )
            self._jobs = JobService.open(
                self.settings, self.database, self.redis, self._service, self._webhook_secret
            )
            self.scheduler.start(
                min(info.realtime_factor for info in self.engine_infos.values()), self._warmup()
            )
            if self.settings.job_workers:
                self._job_workers = self._jobs.workers(self.settings.job_workers)
                self._job_workers.start()
        except BaseException as exc:
            self.load_error = exc
            raise
        self.ready_seconds = time.time() - self.created_at
        self._trimmer.start()
        self._ready.set()
        log.info("speaker ready in %.2f s", self.ready_seconds)

    def _warmup(self) -> list[WarmupTask]:
        """A chunk of full length in the default voice, for every worker before `/ready`."""
        voice = self.catalog.get(self.catalog.default_voice)
        if not self.settings.warmup or voice is None:
            return []
        return [WarmupTask(voice.engine, voice.id, warmup_text(self.settings.max_chunk_chars))]

    def _open_library(self) -> None:
        settings = self.settings
        self._database = open_database(settings)
        self._keys = KeyStore(self._database)
        if settings.admin_key is not None and self._keys.provision(
            settings.admin_key.get_secret_value()
        ):
            log.info("added the admin key from SPEAKER_ADMIN_KEY")
        self._audit = AuditLog(self._database)
        library_dir = settings.data_dir / "library"
        self._consents = ConsentStore(self._database, library_dir / "consents")
        self._library = VoiceLibrary(
            self._database,
            library_dir / "voices",
            self.engines,
            Transcriber(settings.whisper_model or None),
            IntakeLimits(
                min_seconds=settings.voice_min_seconds,
                max_seconds=settings.voice_max_seconds,
                max_bytes=settings.max_voice_upload_bytes,
            ),
            shared=self.redis,
        )
        imported = self._library.import_folder(settings.resolved_voices_dir)
        if imported:
            log.info(
                "imported %d voice(s) dropped into %s", len(imported), settings.resolved_voices_dir
            )

    def gauges(self) -> ServerGauges:
        """The server's state for a metrics scrape (blocking: it counts jobs in the database)."""
        stats = self.scheduler.stats()
        cache = None
        if self._speech_cache is not None:
            counts = asdict(self._speech_cache.stats())
            backend, entries = counts.pop("backend"), counts.pop("entries")
            cache = CacheCounts(backend, counts, entries, counts.pop("bytes"))
        jobs, items = self._jobs.store.census() if self._jobs is not None else ({}, {})
        return ServerGauges(
            ready=self.ready,
            active_streams=self.scheduler.admission.active,
            stream_slots=self.scheduler.limits().max_streams,
            realtime_capacity=self.scheduler.realtime_capacity(),
            workers=stats.workers,
            busy_workers=stats.busy,
            queued={"interactive": stats.queued - stats.queued_batch, "batch": stats.queued_batch},
            busy_seconds=stats.busy_seconds,
            load_seconds={name: info.load_seconds for name, info in self.engine_infos.items()},
            cache=cache,
            jobs=jobs,
            job_items=items,
        )

    @property
    def draining(self) -> bool:
        """True once shutdown began: readiness is off and new streams are refused."""
        return self._draining.is_set()

    def require_ready(self) -> Runtime:
        """This runtime, or the 503 every protocol gives while loading or shutting down."""
        if self.draining:
            raise shutting_down()
        if not self.ready:
            raise OverloadedError(
                "the server is starting: engines are still loading"
                if self.load_error is None
                else f"start-up failed: {self.load_error}",
                code="not_ready",
                suggestion="retry in a few seconds; GET /ready tells when the server is ready",
                headers={"Retry-After": "2"},
            )
        return self

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
        self._trimmer.stop()
        # Before the scheduler: items in synthesis go back to the queue, not fail.
        if self._job_workers is not None:
            self._job_workers.stop(timeout)
        self.scheduler.stop(timeout)
        for engine in self.engines.values():
            engine.close()
        if self._speech_cache is not None:
            self._speech_cache.close()
        if self._database is not None:
            self._database.close()
        redis: Redis | None = self.__dict__.get("redis")
        if redis is not None:
            redis.close()
