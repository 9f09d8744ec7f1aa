"""Prometheus metrics: what the scheduler, the service and the HTTP layer report, plus gauges
read from the running server at each scrape.

Every runtime owns its own registry, so several servers in one process (tests, benchmarks)
never mix their numbers. With metrics disabled every recording call returns at once.
"""

from __future__ import annotations

import statistics
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
REFUSAL_REASONS = (
    "overloaded",
    "too_many_streams",
    "rate_limit_exceeded",
    "shutting_down",
    "not_ready",
)
"""Shown at zero from the start, so that a rate() over them never lacks a series."""
CLONED_VOICE_LABEL = "cloned"
"""Every cloned voice is one label value: a library of thousands would otherwise be thousands
of time series."""


@dataclass(frozen=True)
class CacheCounts:
    """The audio cache's counters since start (backend `off`: all zero)."""

    backend: str
    events: Mapping[str, int]
    entries: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class ServerGauges:
    """What the running server looks like at the moment of a scrape."""

    ready: bool
    active_streams: int
    stream_slots: int
    realtime_capacity: float
    workers: int
    busy_workers: int
    queued: Mapping[str, int]
    """Chunks waiting for a worker, by tier (`interactive`, `batch`)."""
    busy_seconds: float
    load_seconds: Mapping[str, float] = field(default_factory=dict)
    cache: CacheCounts | None = None
    jobs: Mapping[str, int] = field(default_factory=dict)
    job_items: Mapping[str, int] = field(default_factory=dict)


# A `_created` series beside every counter and histogram doubles the exposition for a value
# that dashboards never use.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _ServerCollector(Collector):
    """Reads the server's gauges at scrape time."""

    def __init__(self, gauges: Callable[[], ServerGauges | None]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Yield one family per gauge."""
        now = self._gauges()
        if now is None:
            return
        yield _gauge("speaker_ready", "1 once engines are loaded and workers run", now.ready)
        yield _gauge("speaker_active_streams", "Real-time streams in synthesis", now.active_streams)
        yield _gauge(
            "speaker_stream_slots", "Streams admitted at most at once now", now.stream_slots
        )
        yield _gauge(
            "speaker_realtime_capacity",
            "Listeners the workers can keep fed in real time, measured",
            now.realtime_capacity,
        )
        yield _gauge("speaker_workers", "Engine worker threads", now.workers)
        yield _gauge("speaker_workers_busy", "Engine workers synthesizing now", now.busy_workers)
        busy = CounterMetricFamily(
            "speaker_worker_busy_seconds",
            "Seconds engine workers spent synthesizing (rate / workers = busy fraction)",
        )
        busy.add_metric([], now.busy_seconds)
        yield busy
        yield _labelled(
            "speaker_queue_depth", "Chunks waiting for a worker", "tier", now.queued.items()
        )
        yield _labelled(
            "speaker_model_load_seconds",
            "Seconds each engine took to load",
            "engine",
            now.load_seconds.items(),
        )
        if now.cache is not None:
            yield from _cache_families(now.cache)
        yield _labelled(
            "speaker_jobs", "Batch jobs by state (shared by replicas)", "state", now.jobs.items()
        )
        yield _labelled(
            "speaker_job_items",
            "Batch job items by state (shared by replicas)",
            "state",
            now.job_items.items(),
        )
        yield from _gpu_families()


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _labelled(
    name: str, documentation: str, label: str, values: Iterable[tuple[str, float]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values:
        family.add_metric([key], float(value))
    return family


def _cache_families(cache: CacheCounts) -> Iterator[Metric]:
    events = CounterMetricFamily(
        "speaker_cache_events",
        "Audio cache lookups and writes: hits, misses, bypasses, stores, evictions...",
        labels=["backend", "event"],
    )
    for event, count in cache.events.items():
        events.add_metric([cache.backend, event], count)
    yield events
    if cache.entries is not None:
        yield _gauge("speaker_cache_entries", "Responses the audio cache holds", cache.entries)
    if cache.bytes is not None:
        yield _gauge("speaker_cache_bytes", "Bytes the audio cache holds", cache.bytes)


def _gpu_families() -> Iterator[Metric]:
    # Only where an engine already imported torch: a Piper-only server never pays for it.
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return
    allocated = GaugeMetricFamily(
        "speaker_gpu_memory_allocated_bytes", "GPU memory held by tensors", labels=["device"]
    )
    reserved = GaugeMetricFamily(
        "speaker_gpu_memory_reserved_bytes",
        "GPU memory reserved by the caching allocator",
        labels=["device"],
    )
    utilization = GaugeMetricFamily(
        "speaker_gpu_utilization_ratio",
        "Share of the last sample period the GPU was busy",
        labels=["device"],
    )
    for index in range(torch.cuda.device_count()):
        device = str(index)
        allocated.add_metric([device], torch.cuda.memory_allocated(index))
        reserved.add_metric([device], torch.cuda.memory_reserved(index))
        try:
            utilization.add_metric([device], torch.cuda.utilization(index) / 100)
        except Exception:  # noqa: S112 - utilization needs NVML, which may be absent
            continue
    yield from (allocated, reserved, utilization)


@dataclass(frozen=True)
class RecentSummary:
    """Times to first audio of the latest speech requests, for `/status` and the studio."""

    requests: int
    ttfa_ms_p50: float | None
    ttfa_ms_p95: float | None


class RecentFirstAudio:
    """The latest times to first audio (a window, unlike Prometheus' cumulative histograms)."""

    def __init__(self, size: int = 200) -> None:
        self._seconds: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        """Remember one request's time to first audio."""
        with self._lock:
            self._seconds.append(seconds)

    def summary(self) -> RecentSummary:
        """Median and 95th percentile of the window, in milliseconds."""
        with self._lock:
            values = list(self._seconds)
        if not values:
            return RecentSummary(0, None, None)
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
        return RecentSummary(
            len(values), round(statistics.median(values) * 1000, 1), round(p95 * 1000, 1)
        )


class Metrics:
    """The metrics of one server, recorded by the parts that see each event.

    `recent` keeps the latest times to first audio even with metrics disabled: `/status` shows
    them.
    """

    def __init__(self, *, enabled: bool = True, version: str = "") -> None:
        self.enabled = enabled
        self.recent = RecentFirstAudio()
        self.registry = CollectorRegistry(auto_describe=True)
        self._gauges: Callable[[], ServerGauges | None] = lambda: None
        if not enabled:
            return
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        Gauge("speaker_build_info", "Speaker's version", ["version"], registry=registry).labels(
            version
        ).set(1)
        self.requests = Counter(
            "speaker_http_requests",
            "HTTP requests and WebSocket sessions by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "speaker_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_audio = Histogram(
            "speaker_time_to_first_audio_seconds",
            "Time from a speech request's arrival to its first audio bytes",
            ["engine"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.speech_seconds = Histogram(
            "speaker_speech_duration_seconds",
            "Time from a speech request's arrival to its last audio bytes",
            ["engine", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rtf = Histogram(
            "speaker_realtime_factor",
            "Compute seconds per second of audio, per synthesized chunk (below 1: faster than "
            "real time)",
            ["engine", "voice"],
            buckets=RTF_BUCKETS,
            registry=registry,
        )
        self.stage_seconds = Histogram(
            "speaker_stage_seconds",
            "Seconds per stage: prepare (text normalization and chunking), queue, inference and "
            "the engine's sub-stages, encode",
            ["engine", "stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "speaker_batch_size",
            "Chunks synthesized together in one engine call",
            ["engine"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.audio_seconds = Counter(
            "speaker_audio_seconds",
            "Seconds of audio synthesized",
            ["engine"],
            registry=registry,
        )
        self.characters = Counter(
            "speaker_input_characters",
            "Characters of input text accepted for synthesis",
            ["engine"],
            registry=registry,
        )
        self.failures = Counter(
            "speaker_engine_failures",
            "Chunks an engine failed to synthesize",
            ["engine"],
            registry=registry,
        )
        self.refusals = Counter(
            "speaker_refusals",
            "Requests refused with 429 or 503, by reason (the error code)",
            ["reason"],
            registry=registry,
        )
        for reason in REFUSAL_REASONS:
            self.refusals.labels(reason)
        registry.register(_ServerCollector(lambda: self._gauges()))

    def read_gauges_from(self, gauges: Callable[[], ServerGauges | None]) -> None:
        """Where scrape-time gauges come from (the runtime, once it exists)."""
        self._gauges = gauges

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request (or WebSocket session) finished."""
        if self.enabled:
            self.requests.labels(method, route, str(status)).inc()
            self.request_seconds.labels(method, route).observe(seconds)

    def refused(self, reason: str) -> None:
        """A request was refused for load or limits (429/503)."""
        if self.enabled:
            self.refusals.labels(reason).inc()

    def stage(self, engine: str, name: str, seconds: float) -> None:
        """One stage of one request or chunk took `seconds`."""
        if self.enabled:
            self.stage_seconds.labels(engine, name).observe(seconds)

    def accepted(self, engine: str, characters: int) -> None:
        """Text was accepted for synthesis."""
        if self.enabled:
            self.characters.labels(engine).inc(characters)

    def synthesized(
        self,
        engine: str,
        voices: list[str],
        compute_seconds: float,
        audio_seconds: float,
        stages: Mapping[str, float],
    ) -> None:
        """A batch of chunks (one voice label each) came out of an engine call."""
        if not self.enabled:
            return
        self.batch_size.labels(engine).observe(len(voices))
        self.stage_seconds.labels(engine, "inference").observe(compute_seconds)
        for name, seconds in stages.items():
            self.stage_seconds.labels(engine, name).observe(seconds)
        self.audio_seconds.labels(engine).inc(audio_seconds)
        if audio_seconds > 0:
            rtf = compute_seconds / audio_seconds
            for voice in voices:
                self.rtf.labels(engine, voice).observe(rtf)

    def failed(self, engine: str, chunks: int) -> None:
        """An engine call failed for `chunks` chunks."""
        if self.enabled:
            self.failures.labels(engine).inc(chunks)

    def spoke(self, engine: str, first_audio: float) -> None:
        """A speech request's first audio left after `first_audio` seconds."""
        self.recent.add(first_audio)
        if self.enabled:
            self.first_audio.labels(engine).observe(first_audio)

    def finished(self, engine: str, seconds: float, outcome: str) -> None:
        """A speech request ended (`ok`, `disconnected` or `error`) after `seconds`."""
        if self.enabled:
            self.speech_seconds.labels(engine, outcome).observe(seconds)
