"""What the voice library stores about a cloned voice and a consent recording."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any


def new_id(prefix: str) -> str:
    """A fresh server-made id such as `voice_3f9a…`; never derived from user input."""
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class ConsentRecord:
    """A recorded statement by the speaker that allows their voice to be cloned."""

    id: str
    name: str
    language: str
    created_at: int
    seconds: float
    owner: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's `audio.voice_consent` object."""
        return {
            "id": self.id,
            "object": "audio.voice_consent",
            "name": self.name,
            "language": self.language,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class VoiceRecord:
    """A cloned voice: reference audio on disk, these facts in the database."""

    id: str
    name: str
    language: str
    created_at: int
    updated_at: int
    transcript: str
    transcript_source: str
    quality: dict[str, Any]
    source: str
    gender: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    engines: tuple[str, ...] = ()
    owner: str | None = None
    shared: bool = False
    consent_id: str | None = None
    source_key: str | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        """Seconds of reference audio kept after trimming."""
        return float(self.quality.get("duration_s", 0.0))

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's `audio.voice` object."""
        return {
            "id": self.id,
            "object": "audio.voice",
            "name": self.name,
            "created_at": self.created_at,
            "type": "audio_sample",
        }


@dataclass(frozen=True)
class VoiceFilter:
    """What a voice listing asks for; a criterion left as None matches every voice."""

    language: str | None = None
    """A language prefix: `en` matches `en-US` and `en_GB`."""
    tag: str | None = None
    engine: str | None = None
    query: str | None = None
    """Searched in the name and description, ignoring case."""

    def accepts(
        self,
        *,
        name: str,
        description: str,
        language: str,
        tags: Collection[str],
        engines: Collection[str],
    ) -> bool:
        """True when a voice with these facts meets every given criterion."""
        return (
            (self.language is None or language.lower().startswith(self.language.lower()))
            and (self.tag is None or self.tag in tags)
            and (self.engine is None or self.engine in engines)
            and (self.query is None or self.query.lower() in f"{name} {description}".lower())
        )
