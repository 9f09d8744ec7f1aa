"""The voice library: cloned voices checked on intake, stored safely, conditioned once."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from speaker.auth.principal import ANONYMOUS, Principal
from speaker.engines.base import CloningEngine, Engine, Samples, VoiceReference
from speaker.errors import (
    EngineError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    SpeakerError,
    UnprocessableError,
)
from speaker.storage.database import Database
from speaker.storage.files import FileStore
from speaker.storage.tables import voices
from speaker.voices.conditioning import ConditioningCache, file_name
from speaker.voices.intake import ReferenceAudio, decode_audio, encode_wav, prepare_reference
from speaker.voices.records import VoiceFilter, VoiceRecord, new_id
from speaker.voices.transcribe import Transcriber

log = logging.getLogger(__name__)

REFERENCE = "reference.wav"
SAMPLE_RATE = 24_000
EXPORT_FORMAT = "speaker-voices"
_MAX_IMPORT_VOICES = 200
_EDITABLE = frozenset({"name", "language", "gender", "tags", "description", "transcript", "shared"})


@dataclass(frozen=True)
class IntakeLimits:
    """How long reference audio may be after trimming, and how large an upload."""

    min_seconds: float = 3.0
    max_seconds: float = 30.0
    max_bytes: int = 10 * 1024 * 1024


def _record(row: Any) -> VoiceRecord:
    return VoiceRecord(
        id=row.id,
        name=row.name,
        language=row.language,
        created_at=row.created_at,
        updated_at=row.updated_at,
        transcript=row.transcript,
        transcript_source=row.transcript_source,
        quality=dict(row.quality),
        source=row.source,
        gender=row.gender,
        tags=tuple(row.tags),
        description=row.description,
        engines=tuple(row.engines),
        owner=row.owner,
        shared=row.shared,
        consent_id=row.consent_id,
        source_key=row.source_key,
    )


def check_name(name: str, param: str = "name") -> str:
    """A display name, trimmed; it is only ever shown, never used as a path."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 256 or any(ord(c) < 32 for c in cleaned):
        raise InvalidRequestError(
            "a voice name must be 1 to 256 printable characters",
            code="invalid_name",
            param=param,
            suggestion="give the voice a short descriptive name",
        )
    return cleaned


class VoiceLibrary:
    """Create, list, update, delete, export and import cloned voices."""

    def __init__(
        self,
        db: Database,
        root: Path,
        engines: Mapping[str, Engine],
        transcriber: Transcriber,
        limits: IntakeLimits | None = None,
        shared: Redis | None = None,
    ) -> None:
        self._db = db
        self._files = FileStore(root)
        self._engines = engines
        self._transcriber = transcriber
        self.limits = limits or IntakeLimits()
        # With Redis, replicas read each other's conditioning instead of recomputing it.
        self._conditioning = ConditioningCache(self._files, shared=shared)
        self._recover()

    @property
    def cloning_engines(self) -> list[CloningEngine]:
        """Loaded engines that can speak a cloned voice."""
        return [
            e
            for e in self._engines.values()
            if e.capabilities.cloning and isinstance(e, CloningEngine)
        ]

    def _recover(self) -> None:
        # After a crash: half-written uploads are dropped, and a folder whose row never committed
        # was never acknowledged to anyone, so it goes too. A row always has its folder, because
        # the folder is published before the row is written.
        self._files.clear_staging()
        with self._db.begin() as conn:
            known = set(conn.execute(select(voices.c.id)).scalars())
        for orphan in self._files.remove_abandoned(known):
            log.warning("removed voice folder %s left by an interrupted upload", orphan)

    def create(
        self,
        audio: bytes,
        *,
        name: str,
        language: str = "en",
        transcript: str | None = None,
        gender: str | None = None,
        tags: Iterable[str] = (),
        description: str = "",
        consent_id: str | None = None,
        owner: str | None = None,
        source: str = "upload",
        source_key: str | None = None,
        param: str = "audio_sample",
    ) -> VoiceRecord:
        """Check reference audio, store it, condition every cloning engine, then commit."""
        name = check_name(name)
        if len(audio) > self.limits.max_bytes:
            raise UnprocessableError(
                f"the audio file is {len(audio)} bytes; the limit is {self.limits.max_bytes}",
                code="file_too_large",
                param=param,
            )
        reference, spoken = self._intake(audio, transcript, param)
        voice_id = new_id("voice")
        staged = self._files.stage()
        try:
            (staged / REFERENCE).write_bytes(encode_wav(reference.samples, reference.sample_rate))
            self._files.publish(staged, voice_id)
        except BaseException:
            self._files.discard(staged)
            raise
        now = int(time.time())
        try:
            conditioned = self._condition_all(voice_id, reference.samples, spoken)
            row = {
                "id": voice_id,
                "name": name,
                "language": language or "en",
                "gender": gender,
                "tags": sorted({t.strip() for t in tags if t.strip()}),
                "description": description,
                "engines": conditioned,
                "created_at": now,
                "updated_at": now,
                "owner": owner,
                "shared": False,
                "transcript": spoken,
                "transcript_source": "request" if (transcript or "").strip() else "automatic",
                "quality": reference.report.to_dict(),
                "consent_id": consent_id,
                "source": source,
                "source_key": source_key,
            }
            with self._db.begin() as conn:
                conn.execute(voices.insert().values(**row))
        except BaseException:
            self._files.remove(voice_id)
            raise
        return self._get(voice_id)

    def _intake(
        self, audio: bytes, transcript: str | None, param: str
    ) -> tuple[ReferenceAudio, str]:
        # The checked, trimmed reference and what it says: the given transcript, else Whisper's.
        reference = prepare_reference(
            audio,
            min_seconds=self.limits.min_seconds,
            max_seconds=self.limits.max_seconds,
            sample_rate=SAMPLE_RATE,
            param=param,
        )
        given = (transcript or "").strip()
        spoken = given or self._transcriber.transcribe(reference.samples, reference.sample_rate)
        return reference, spoken

    def _condition_all(self, voice_id: str, samples: Samples, transcript: str) -> list[str]:
        done = []
        for engine in self.cloning_engines:
            try:
                self._conditioning.compute(engine, voice_id, samples, SAMPLE_RATE, transcript)
            except Exception as exc:
                log.exception("engine %s could not condition voice %s", engine.name, voice_id)
                raise EngineError(
                    f"engine {engine.name!r} failed to prepare the voice: {exc}",
                    code="conditioning_failed",
                ) from exc
            done.append(engine.name)
        return done

    def _find(self, voice_id: str) -> VoiceRecord | None:
        with self._db.begin() as conn:
            row = conn.execute(select(voices).where(voices.c.id == voice_id)).first()
        return None if row is None else _record(row)

    def find(self, voice_id: str, *, viewer: Principal) -> VoiceRecord | None:
        """A voice by id that `viewer` may see, or None."""
        record = self._find(voice_id)
        if record is None or not viewer.sees(record.owner, record.shared):
            return None
        return record

    def find_by_name(self, name: str, *, viewer: Principal) -> VoiceRecord | None:
        """The newest voice `viewer` may see with this name (case-insensitive), or None."""
        lowered = name.strip().lower()
        matches = [v for v in self.search(viewer=viewer) if v.name.lower() == lowered]
        return matches[0] if matches else None

    def get(self, voice_id: str, *, viewer: Principal) -> VoiceRecord:
        """A voice by id, or 404 (also for one `viewer` may not see: private ids do not leak)."""
        record = self.find(voice_id, viewer=viewer)
        if record is None:
            raise NotFoundError(
                f"voice {voice_id!r} does not exist",
                code="voice_not_found",
                param="voice",
                suggestion="list voices with GET /v1/voices",
            )
        return record

    def _get(self, voice_id: str) -> VoiceRecord:
        return self.get(voice_id, viewer=ANONYMOUS)

    def _managed(self, voice_id: str, viewer: Principal) -> VoiceRecord:
        """The voice, if `viewer` may change it: 404 when unseen, 403 when only shared."""
        record = self.get(voice_id, viewer=viewer)
        if not viewer.manages(record.owner):
            raise PermissionDeniedError(
                f"voice {voice_id!r} belongs to someone else; it is only shared with you",
                code="not_voice_owner",
                param="voice_id",
                suggestion="only the voice's owner or an admin may change or delete it",
            )
        return record

    def search(self, wanted: VoiceFilter | None = None, *, viewer: Principal) -> list[VoiceRecord]:
        """Voices `viewer` may see, newest first, that match a filter (all without one)."""
        wanted = wanted or VoiceFilter()
        with self._db.begin() as conn:
            rows = conn.execute(
                select(voices).order_by(voices.c.created_at.desc(), voices.c.id)
            ).all()
        cloning = [e.name for e in self.cloning_engines]
        records = [_record(r) for r in rows]
        return [
            r
            for r in records
            if viewer.sees(r.owner, r.shared)
            and wanted.accepts(
                name=r.name,
                description=r.description,
                language=r.language,
                tags=r.tags,
                engines=cloning,
            )
        ]

    def update(
        self, voice_id: str, changes: Mapping[str, Any], *, viewer: Principal
    ) -> VoiceRecord:
        """Change a voice's metadata (owner or admin); a new transcript drops its conditioning."""
        record = self._managed(voice_id, viewer)
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise InvalidRequestError(
                f"cannot change {sorted(unknown)}",
                code="invalid_field",
                param=sorted(unknown)[0],
                suggestion=f"editable fields: {', '.join(sorted(_EDITABLE))}",
            )
        values = dict(changes)
        if "name" in values:
            values["name"] = check_name(values["name"])
        if "tags" in values:
            values["tags"] = sorted({t.strip() for t in values["tags"] if t.strip()})
        transcript_changed = "transcript" in values and values["transcript"] != record.transcript
        if transcript_changed:
            values["transcript"] = values["transcript"].strip()
            values["transcript_source"] = "request"
        values["updated_at"] = int(time.time())
        with self._db.begin() as conn:
            conn.execute(update(voices).where(voices.c.id == voice_id).values(**values))
        if transcript_changed:
            self._conditioning.forget(voice_id)
            folder = self._files.path(voice_id)
            for engine in self.cloning_engines:
                (folder / file_name(engine.name)).unlink(missing_ok=True)
        return self._get(voice_id)

    def delete(self, voice_id: str, *, viewer: Principal) -> VoiceRecord:
        """Remove a voice (owner or admin) and return it; the row goes before the files."""
        # Row first: no request can then find a voice whose files are gone.
        record = self._managed(voice_id, viewer)
        with self._db.begin() as conn:
            conn.execute(delete(voices).where(voices.c.id == voice_id))
        self._conditioning.forget(voice_id)
        self._files.remove(voice_id)
        return record

    def reference_path(self, voice_id: str, *, viewer: Principal) -> Path:
        """The stored reference WAV of a voice `viewer` may see."""
        self.get(voice_id, viewer=viewer)
        return self._files.path(voice_id) / REFERENCE

    def _load_reference(self, voice_id: str) -> tuple[Samples, int]:
        samples, rate, _ = decode_audio(self._files.path(voice_id).joinpath(REFERENCE).read_bytes())
        return samples, rate

    def reference(self, voice_id: str, engine: CloningEngine) -> VoiceReference:
        """What `engine` needs to speak the voice, computed at most once per model version."""
        # Visibility was checked when the request's voice was resolved.
        record = self._get(voice_id)
        return self._conditioning.reference(
            engine, voice_id, record.transcript, lambda: self._load_reference(voice_id)
        )

    def adhoc_reference(
        self, audio: bytes, transcript: str | None, engine: CloningEngine, param: str
    ) -> VoiceReference:
        """Conditioning for reference audio sent with one request; nothing is stored."""
        reference, spoken = self._intake(audio, transcript, param)
        arrays = engine.condition(reference.samples, reference.sample_rate, spoken)
        return VoiceReference(voice_id=new_id("ref"), transcript=spoken, conditioning=arrays)

    def export(self, voice_ids: Iterable[str], *, viewer: Principal) -> bytes:
        """A zip of voices: a manifest plus each reference WAV; ids are reissued on import."""
        buffer = io.BytesIO()
        manifest: dict[str, Any] = {"format": EXPORT_FORMAT, "version": 1, "voices": []}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for voice_id in voice_ids:
                record = self.get(voice_id, viewer=viewer)
                entry = f"{record.id}.wav"
                archive.write(self._files.path(voice_id) / REFERENCE, entry)
                manifest["voices"].append(
                    {
                        "file": entry,
                        "name": record.name,
                        "language": record.language,
                        "gender": record.gender,
                        "tags": list(record.tags),
                        "description": record.description,
                        "transcript": record.transcript,
                    }
                )
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        return buffer.getvalue()

    def import_zip(self, data: bytes, *, owner: str | None = None) -> list[VoiceRecord]:
        """Create voices from an export; every voice passes the same checks as an upload."""
        manifest, archive = self._open_export(data)
        created = []
        with archive:
            for entry in manifest:
                info = archive.getinfo(entry["file"])
                if info.file_size > self.limits.max_bytes:
                    raise UnprocessableError(
                        f"{entry['file']} is larger than {self.limits.max_bytes} bytes",
                        code="file_too_large",
                        param="file",
                    )
                created.append(
                    self.create(
                        archive.read(info),
                        name=str(entry.get("name") or "imported voice"),
                        language=str(entry.get("language") or "en"),
                        transcript=entry.get("transcript"),
                        gender=entry.get("gender"),
                        tags=[str(t) for t in entry.get("tags") or []],
                        description=str(entry.get("description") or ""),
                        owner=owner,
                        source="import",
                        param="file",
                    )
                )
        return created

    def _open_export(self, data: bytes) -> tuple[list[dict[str, Any]], zipfile.ZipFile]:
        bad = UnprocessableError(
            "the file is not a Speaker voice export",
            code="invalid_export",
            param="file",
            suggestion="upload a zip made by GET /v1/voices/export",
        )
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            manifest = json.loads(archive.read("manifest.json"))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise bad from exc
        entries = manifest.get("voices") if isinstance(manifest, dict) else None
        names = set(archive.namelist())
        if (
            manifest.get("format") != EXPORT_FORMAT
            or not isinstance(entries, list)
            or len(entries) > _MAX_IMPORT_VOICES
            or not all(isinstance(e, dict) and e.get("file") in names for e in entries)
        ):
            archive.close()
            raise bad
        return entries, archive

    def import_folder(self, folder: Path) -> list[VoiceRecord]:
        """Turn each new `name.wav` (with an optional `name.txt` transcript) into a voice."""
        if not folder.is_dir():
            return []
        with self._db.begin() as conn:
            seen = set(conn.execute(select(voices.c.source_key)).scalars())
        created = []
        for wav in sorted(folder.glob("*.wav")):
            stat = wav.stat()
            key = f"dropin:{wav.name}:{stat.st_size}:{stat.st_mtime_ns}"
            if key in seen:
                continue
            text = wav.with_suffix(".txt")
            try:
                created.append(
                    self.create(
                        wav.read_bytes(),
                        name=wav.stem,
                        transcript=text.read_text(encoding="utf-8") if text.exists() else None,
                        source="dropin",
                        source_key=key,
                    )
                )
            except SpeakerError as exc:
                log.warning("skipping %s: %s", wav.name, exc)
            except IntegrityError:
                # Another replica sharing the folder imported the same file a moment earlier.
                log.info("%s was imported by another replica", wav.name)
        return created
