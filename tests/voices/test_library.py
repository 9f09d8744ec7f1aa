"""The voice library on disk: atomic writes, recovery after a crash, drop-in voices."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.storage.database import Database, sqlite_url
from speaker.storage.files import SETTLE_SECONDS
from speaker.voices.library import VoiceLibrary
from speaker.voices.transcribe import Transcriber

pytestmark = pytest.mark.slow

TEXT = "This reference recording is long enough to clone a voice from it, more or less."


@pytest.fixture(scope="module")
def wav(runtime: Runtime) -> bytes:
    order = SpeechOrder(text=TEXT, model="piper", fmt=AudioFormat.WAV)
    return asyncio.run(runtime.service.synthesize(order))


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber()


def _open(tmp_path: Path, transcriber: Transcriber) -> tuple[Database, VoiceLibrary]:
    db = Database(sqlite_url(tmp_path / "speaker.db"))
    return db, VoiceLibrary(db, tmp_path / "voices", {}, transcriber)


def test_an_accepted_voice_survives_a_restart(
    tmp_path: Path, wav: bytes, transcriber: Transcriber
) -> None:
    db, library = _open(tmp_path, transcriber)
    voice = library.create(wav, name="kept", transcript="given words")
    db.close()
    db, reopened = _open(tmp_path, transcriber)
    again = reopened.get(voice.id, viewer=ANONYMOUS)
    assert (again.name, again.transcript, again.transcript_source) == (
        "kept",
        "given words",
        "request",
    )
    assert reopened.reference_path(voice.id, viewer=ANONYMOUS).stat().st_size > 10_000
    db.close()


def test_a_crash_mid_upload_leaves_no_half_voice(
    tmp_path: Path, wav: bytes, transcriber: Transcriber
) -> None:
    db, library = _open(tmp_path, transcriber)
    kept = library.create(wav, name="kept", transcript="words")
    db.close()
    voices = tmp_path / "voices"
    # What a kill between the steps of an upload leaves: a staged folder, and a published
    # folder whose database row never committed, both from over an hour ago. Younger ones may
    # be another replica's upload in progress (the folder is shared), so they stay.
    old = time.time() - SETTLE_SECONDS - 60
    stale_stage = voices / ".staging" / "tmpabc"
    stale_stage.mkdir(parents=True)
    (stale_stage / "reference.wav").write_bytes(wav[:100])
    stale_orphan = voices / "voice_0123456789abcdef01234567"
    stale_orphan.mkdir()
    for path in (stale_stage, stale_orphan):
        os.utime(path, (old, old))
    (voices / ".staging" / "tmpnew").mkdir()
    (voices / "voice_fedcba9876543210fedcba98").mkdir()
    db, reopened = _open(tmp_path, transcriber)
    assert [v.id for v in reopened.search(viewer=ANONYMOUS)] == [kept.id]
    assert sorted(p.name for p in voices.iterdir()) == sorted(
        [".staging", kept.id, "voice_fedcba9876543210fedcba98"]
    )
    assert [p.name for p in (voices / ".staging").iterdir()] == ["tmpnew"]
    db.close()


def test_dropped_in_wavs_become_voices_once(
    tmp_path: Path, wav: bytes, transcriber: Transcriber
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "Narrator.wav").write_bytes(wav)
    (drop / "Narrator.txt").write_text("the transcript I typed\n", encoding="utf-8")
    (drop / "Auto.wav").write_bytes(wav)
    (drop / "broken.wav").write_bytes(b"not audio")
    (drop / "notes.txt").write_text("ignored", encoding="utf-8")
    db, library = _open(tmp_path, transcriber)
    created = {v.name: v for v in library.import_folder(drop)}
    assert sorted(created) == ["Auto", "Narrator"]
    assert created["Narrator"].transcript == "the transcript I typed"
    assert created["Auto"].transcript_source == "automatic"
    assert "reference" in created["Auto"].transcript.lower()
    assert {v.source for v in created.values()} == {"dropin"}
    # A second start does not import the same files again.
    assert library.import_folder(drop) == []
    assert len(library.search(viewer=ANONYMOUS)) == 2
    db.close()
