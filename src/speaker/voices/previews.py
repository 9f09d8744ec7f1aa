"""Short samples of each voice, synthesized once and kept on disk."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import Principal
from speaker.engines.base import EngineInfo
from speaker.errors import InvalidRequestError, NotFoundError
from speaker.service import SpeechOrder, SpeechService
from speaker.voices.catalog import VoiceCatalog

PREVIEW_TEXT = "Hello! This is {name}. Here is how I sound reading a sentence aloud."


@dataclass(frozen=True)
class Preview:
    """A preview's audio and how it was made."""

    data: bytes
    fmt: AudioFormat
    kind: str
    """`synthesized`, or `reference` when no loaded engine can speak the voice."""


class VoicePreviews:
    """Renders a preview per voice, engine version and format; later requests read the file."""

    def __init__(
        self,
        root: Path,
        service: SpeechService,
        catalog: VoiceCatalog,
        engine_infos: Mapping[str, EngineInfo],
    ) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)
        self._service = service
        self._catalog = catalog
        self._infos = engine_infos

    async def render(self, voice_id: str, fmt: AudioFormat, viewer: Principal) -> Preview:
        """The preview in `fmt` of a voice `viewer` may see, synthesized on first use."""
        library = self._catalog.library
        cloned = library.find(voice_id, viewer=viewer) if library is not None else None
        builtin = self._catalog.get(voice_id)
        if cloned is None and builtin is None:
            raise NotFoundError(
                f"voice {voice_id!r} does not exist",
                code="voice_not_found",
                param="voice_id",
                suggestion="list voices with GET /v1/voices",
            )
        name = cloned.name if cloned is not None else builtin.name if builtin else voice_id
        version = str(cloned.updated_at) if cloned is not None else "builtin"
        # An OpenAI model name lets a cloned voice go to whichever loaded engine can clone.
        model = builtin.engine if builtin is not None else "tts-1"
        order = SpeechOrder(
            text=PREVIEW_TEXT.format(name=name), model=model, voice=voice_id, fmt=fmt, viewer=viewer
        )
        try:
            engine, _ = self._service.resolve(order)
        except InvalidRequestError as exc:
            if cloned is None or exc.code != "voice_requires_cloning_engine" or library is None:
                raise
            # Nothing here can speak this voice yet; its own recording is the honest preview.
            return Preview(
                library.reference_path(voice_id, viewer=viewer).read_bytes(),
                AudioFormat.WAV,
                "reference",
            )
        info = self._infos.get(engine)
        key = "|".join(
            [voice_id, version, engine, info.version if info else "", fmt.value, order.text]
        )
        path = self._root / f"{hashlib.sha256(key.encode()).hexdigest()}.{fmt.value}"
        if path.exists():
            return Preview(path.read_bytes(), fmt, "synthesized")
        data = await self._service.synthesize(order)
        await asyncio.to_thread(_write_atomic, path, data)
        return Preview(data, fmt, "synthesized")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
