"""Cache keys: every input that shapes the audio is in the key, nothing else splits entries."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS
from speaker.cache import SpeechKeys
from speaker.engines.base import VoiceInfo
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.storage.database import Database, sqlite_url
from speaker.voices.library import VoiceLibrary
from speaker.voices.transcribe import Transcriber

TEXT = "Keys are made of everything that shapes the audio, and 12 more things."
BASE = SpeechOrder(text=TEXT, model="tts-1", voice="alloy")


def _keys(runtime: Runtime, library: VoiceLibrary | None = None, version: str = "1") -> SpeechKeys:
    return SpeechKeys(
        runtime.engines, runtime.engine_infos, library or runtime.library, 250, version
    )


def _key(runtime: Runtime, order: SpeechOrder, keys: SpeechKeys | None = None) -> str:
    speech = asyncio.run(runtime.service.prepare(order))
    return (keys or _keys(runtime)).key(order, speech)


def test_the_same_request_has_the_same_key_for_every_client(runtime: Runtime) -> None:
    first = _key(runtime, BASE)
    assert len(first) == 64
    assert _key(runtime, dataclasses.replace(BASE, client="10.0.0.9")) == first
    # Another OpenAI name for the same voice is the same voice.
    assert _key(runtime, dataclasses.replace(BASE, voice="en_US-joe-medium")) == first
    # Piper cannot use instructions, so they do not split entries.
    assert _key(runtime, dataclasses.replace(BASE, instructions="cheerful")) == first


@pytest.mark.parametrize(
    "change",
    [
        {"text": TEXT + " "},
        {"speed": 1.1},
        {"fmt": AudioFormat.OPUS},
        {"normalize": False},
        {"first_chunk_chars": 20},
        {"max_chunk_chars": 60},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_synthesis_input_changes_the_key(runtime: Runtime, change: dict[str, object]) -> None:
    assert _key(runtime, dataclasses.replace(BASE, **change)) != _key(runtime, BASE)


def test_a_new_speaker_version_changes_every_key(runtime: Runtime) -> None:
    assert _key(runtime, BASE, _keys(runtime, version="2")) != _key(runtime, BASE)


def test_editing_a_cloned_voice_changes_its_key(runtime: Runtime, tmp_path: Path) -> None:
    wav = asyncio.run(
        runtime.service.synthesize(
            SpeechOrder(
                text="This reference recording is long enough to clone a voice from it, "
                "more or less.",
                model="piper",
                fmt=AudioFormat.WAV,
            )
        )
    )
    db = Database(sqlite_url(tmp_path / "speaker.db"))
    library = VoiceLibrary(db, tmp_path / "voices", {}, Transcriber())
    voice = library.create(wav, name="cached", transcript="words")
    keys = _keys(runtime, library)
    speech = asyncio.run(runtime.service.prepare(BASE))
    cloned = dataclasses.replace(
        speech,
        voice=VoiceInfo(voice.id, voice.name, "piper", "en", 24_000, source="cloned"),
    )
    before = keys.key(BASE, cloned)
    assert keys.fields(BASE, cloned)["voice_updated_at"] == voice.updated_at
    # `updated_at` counts whole seconds: wait for the next one, as a later edit would.
    time.sleep(1.02 - time.time() % 1)
    library.update(voice.id, {"description": "brighter"}, viewer=ANONYMOUS)
    assert keys.key(BASE, cloned) != before
    db.close()
