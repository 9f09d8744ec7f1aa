"""The voices a request may name: engine voices plus OpenAI's voice names mapped onto them."""

from __future__ import annotations

from collections.abc import Mapping

from speaker.auth.principal import Principal
from speaker.config import OPENAI_VOICE_NAMES
from speaker.engines.base import Engine, VoiceInfo
from speaker.errors import InvalidRequestError, NotFoundError
from speaker.voices.library import VoiceLibrary
from speaker.voices.records import VoiceRecord


class VoiceCatalog:
    """Resolves the `voice` field of a request to one engine voice."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        default_voice: str,
        voice_map: Mapping[str, str],
        library: VoiceLibrary | None = None,
    ) -> None:
        self._engines = engines
        self.library = library
        self._by_id: dict[str, VoiceInfo] = {}
        for engine in engines.values():
            for voice in engine.voices():
                self._by_id.setdefault(voice.id, voice)
        if default_voice not in self._by_id:
            raise ValueError(
                f"SPEAKER_DEFAULT_VOICE={default_voice!r} is not a voice; "
                f"choose one of {sorted(self._by_id)}"
            )
        missing = {k: v for k, v in voice_map.items() if v not in self._by_id}
        if missing:
            raise ValueError(
                f"SPEAKER_VOICE_MAP names voices that do not exist: {missing}; "
                f"choose from {sorted(self._by_id)}"
            )
        self.default_voice = default_voice
        self.aliases = {name: voice_map.get(name, default_voice) for name in OPENAI_VOICE_NAMES}

    def aliases_of(self, voice_id: str) -> list[str]:
        """The OpenAI voice names that reach a voice."""
        return [alias for alias, target in self.aliases.items() if target == voice_id]

    def voices(self, engine: str | None = None) -> list[VoiceInfo]:
        """Every voice, optionally of one engine."""
        return [v for v in self._by_id.values() if engine is None or v.engine == engine]

    def names(self, engine: str | None = None) -> list[str]:
        """Every value the `voice` field accepts for an engine."""
        return [*self.aliases, *(v.id for v in self.voices(engine))]

    def get(self, voice_id: str) -> VoiceInfo | None:
        """A voice by its id, if it exists."""
        return self._by_id.get(voice_id)

    def cloned(self, requested: str | None, viewer: Principal) -> VoiceRecord | None:
        """The library voice `viewer` may use that a request names (by id, else by name), unless
        a built-in voice matches."""
        if requested is None or self.library is None:
            return None
        key = requested.strip()
        if key in self._by_id or key.lower() in self.aliases:
            return None
        if key.startswith("voice_"):
            return self.library.find(key, viewer=viewer)
        return self.library.find_by_name(key, viewer=viewer)

    def resolve(self, requested: str | None, engine: str, *, by_id: bool = False) -> VoiceInfo:
        """The voice a request means, searched among the engine's voices, ids and aliases.

        A name that matches nothing is a bad parameter (400); an `{"id": ...}` reference to a
        voice that does not exist is a missing resource (404).
        """
        name = requested or self.default_voice
        key = name.strip()
        voice = self._by_id.get(key) or self._by_id.get(self.aliases.get(key.lower(), ""))
        if voice is None:
            lowered = {v.id.lower(): v for v in self._by_id.values()}
            voice = lowered.get(key.lower())
        if voice is None or voice.engine != engine:
            names = self.names(engine)
            error = NotFoundError if by_id else InvalidRequestError
            raise error(
                f"voice {name!r} does not exist for engine {engine!r}",
                code="voice_not_found",
                param="voice",
                suggestion=f"use one of: {', '.join(names)}",
                extra={"available": names},
            )
        return voice
