"""Cache keys: a SHA-256 of everything that shapes a response's bytes, as canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speaker.audio.formats import OUTPUT_SAMPLE_RATE
from speaker.engines.base import CloningEngine, Engine, EngineInfo, FingerprintedEngine
from speaker.service import PreparedSpeech, SpeechOrder
from speaker.voices.library import VoiceLibrary

CACHE_SCHEMA = 1
"""Bumped whenever what a key covers or how an entry is stored changes."""


def digest(fields: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of fields as canonical JSON: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class SpeechKeys:
    """Computes the cache key of a prepared request from the loaded engines and voices."""

    engines: Mapping[str, Engine]
    engine_infos: Mapping[str, EngineInfo]
    library: VoiceLibrary | None
    max_pause_ms: int
    version: str
    """Speaker's own version: joining, resampling and encoding are its code."""

    def fields(self, order: SpeechOrder, speech: PreparedSpeech) -> dict[str, Any]:
        """What the key covers; blocking (it may read a voice's row or stat its model files)."""
        engine = self.engines[speech.engine]
        info = self.engine_infos[speech.engine]
        voice = speech.voice
        fields: dict[str, Any] = {
            "schema": CACHE_SCHEMA,
            "speaker": self.version,
            "text": order.text,
            # The request's own choices, then what they made of the text: the chunks cover the
            # server defaults, the voice's language and the normalizer's version too.
            "normalize": order.normalize,
            "first_chunk_chars": order.first_chunk_chars,
            "max_chunk_chars": order.max_chunk_chars,
            "chunks": speech.chunks,
            "engine": speech.engine,
            "engine_model": info.model,
            "engine_version": info.version,
            "engine_details": info.details,
            "voice": voice.id,
            "voice_source": voice.source,
            "voice_sample_rate": voice.sample_rate,
            "speed": speech.params.speed,
            "instructions": (
                speech.params.instructions if engine.capabilities.instructions else None
            ),
            "format": speech.fmt.value,
            "sample_rate": OUTPUT_SAMPLE_RATE,
            "max_pause_ms": self.max_pause_ms,
        }
        if isinstance(engine, FingerprintedEngine) and voice.source != "cloned":
            fields["voice_fingerprint"] = engine.voice_fingerprint(voice.id)
        if isinstance(engine, CloningEngine):
            fields["conditioning_version"] = engine.conditioning_version
        if voice.source == "cloned" and self.library is not None:
            record = self.library.find(voice.id, viewer=order.viewer)
            fields["voice_updated_at"] = record.updated_at if record else None
        if speech.params.reference is not None:
            fields["transcript"] = speech.params.reference.transcript
        return fields

    def key(self, order: SpeechOrder, speech: PreparedSpeech) -> str:
        """The cache key of a prepared request; blocking, like `fields`."""
        return digest(self.fields(order, speech))
