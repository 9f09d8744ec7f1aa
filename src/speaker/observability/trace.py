"""One speech request's timeline: its stage times for `Server-Timing`, metrics and a log line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from speaker.observability.metrics import Metrics
from speaker.observability.timing import ChunkTiming

log = logging.getLogger("speaker.speech")


def _entry(name: str, seconds: float, description: str = "") -> str:
    described = f';desc="{description}"' if description else ""
    return f"{name};dur={seconds * 1000:.1f}{described}"


@dataclass
class SpeechTrace:
    """Follows a speech request from its arrival (`started`, perf-counter seconds) to its end."""

    metrics: Metrics
    route: str
    started: float = field(default_factory=time.perf_counter)
    engine: str = ""
    voice: str = ""
    characters: int = 0
    prepare: float = 0.0
    chunks: int = 0
    first: ChunkTiming | None = None
    first_audio: float | None = None
    cache: str | None = None
    cache_seconds: float = 0.0
    """Time spent computing the cache key and looking it up."""
    _done: bool = False

    def prepared(self, engine: str, voice: str, characters: int, seconds: float) -> None:
        """The request was resolved and its text chunked in `seconds`."""
        self.engine, self.voice, self.characters, self.prepare = engine, voice, characters, seconds

    def began(self, chunks: int, timing: ChunkTiming | None, cache: str | None) -> None:
        """The first audio is ready to leave (timing None: replayed from the cache)."""
        self.chunks = chunks
        self.first = timing
        self.cache = cache
        self.first_audio = time.perf_counter() - self.started
        self.metrics.spoke(self.engine, self.first_audio)

    def server_timing(self) -> str:
        """The `Server-Timing` value: stages up to the first audio, then `total`.

        `prepare`, `cache`, `queue`, `inference` and `encode` follow one another, so their sum is
        at most `total`; `inference.<stage>` entries are parts of `inference`. When more chunks
        follow, the stages are those of the first chunk and `total` is the time to first audio.
        """
        entries = [_entry("prepare", self.prepare)]
        if self.cache is not None:
            entries.append(_entry("cache", self.cache_seconds, self.cache))
        first = self.first
        if first is not None:
            entries.append(_entry("queue", first.queue))
            entries.append(_entry("inference", first.inference))
            entries.extend(_entry(f"inference.{n}", s) for n, s in first.stages.items())
            entries.append(_entry("encode", first.encode))
        whole = self.chunks <= 1 or self.cache == "hit"
        total = self.first_audio if self.first_audio is not None else 0.0
        entries.append(_entry("total", total, "" if whole else "to first audio"))
        return ", ".join(entries)

    def finished(self, audio_seconds: float, outcome: str) -> None:
        """The response ended (`ok`, `disconnected` or `error`); record it once."""
        if self._done:
            return
        self._done = True
        total = time.perf_counter() - self.started
        self.metrics.finished(self.engine, total, outcome)
        ttfa_ms = round(self.first_audio * 1000, 1) if self.first_audio is not None else None
        log.info(
            "%s %s voice=%s chars=%d audio=%.2fs ttfa=%sms total=%.0fms %s",
            self.route,
            self.engine,
            self.voice,
            self.characters,
            audio_seconds,
            ttfa_ms,
            total * 1000,
            outcome,
            extra={
                "route": self.route,
                "engine": self.engine,
                "voice": self.voice,
                "characters": self.characters,
                "audio_seconds": round(audio_seconds, 3),
                "ttfa_ms": ttfa_ms,
                "total_ms": round(total * 1000, 1),
                "outcome": outcome,
                "cache": self.cache,
            },
        )
