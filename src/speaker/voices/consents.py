"""Consent recordings: checked as audio, stored as WAV under server-made ids."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from speaker.auth.principal import Principal, Role
from speaker.errors import NotFoundError, PermissionDeniedError, UnprocessableError
from speaker.storage.database import Database
from speaker.storage.files import FileStore
from speaker.storage.paging import newest_first
from speaker.storage.tables import consents
from speaker.voices.intake import decode_audio, encode_wav
from speaker.voices.records import ConsentRecord, new_id

# A consent statement is a sentence or two; shorter is not a statement, longer is not needed.
MIN_CONSENT_SECONDS = 1.0
MAX_CONSENT_SECONDS = 120.0
RECORDING = "recording.wav"


def _record(row: Any) -> ConsentRecord:
    return ConsentRecord(
        id=row.id,
        name=row.name,
        language=row.language,
        created_at=row.created_at,
        seconds=row.seconds,
        owner=row.owner,
    )


class ConsentStore:
    """Create, read, rename, list and delete consent recordings."""

    def __init__(self, db: Database, root: Path) -> None:
        self._db = db
        self._files = FileStore(root)
        self._files.clear_staging()
        self._drop_orphans()

    def _drop_orphans(self) -> None:
        # A crash between publishing files and committing the row leaves a folder nobody owns.
        with self._db.begin() as conn:
            known = set(conn.execute(select(consents.c.id)).scalars())
        self._files.remove_abandoned(known)

    def create(
        self, recording: bytes, *, name: str, language: str, owner: str | None = None
    ) -> ConsentRecord:
        """Check and store a consent recording; the record exists only once fully written."""
        samples, rate, _ = decode_audio(
            recording, max_seconds=MAX_CONSENT_SECONDS, param="recording"
        )
        seconds = len(samples) / rate
        if seconds < MIN_CONSENT_SECONDS:
            raise UnprocessableError(
                f"the consent recording is {seconds:.1f} s long; at least "
                f"{MIN_CONSENT_SECONDS:.0f} s is needed",
                code="audio_too_short",
                param="recording",
                suggestion="record the speaker saying that they agree to have their voice cloned",
                extra={"seconds": round(seconds, 2), "min_seconds": MIN_CONSENT_SECONDS},
            )
        consent_id = new_id("cons")
        staged = self._files.stage()
        try:
            (staged / RECORDING).write_bytes(encode_wav(samples, rate))
            self._files.publish(staged, consent_id)
        except BaseException:
            self._files.discard(staged)
            raise
        record = ConsentRecord(
            id=consent_id,
            name=name,
            language=language,
            created_at=int(time.time()),
            seconds=round(seconds, 3),
            owner=owner,
        )
        try:
            with self._db.begin() as conn:
                conn.execute(
                    consents.insert().values(
                        id=record.id,
                        name=record.name,
                        language=record.language,
                        created_at=record.created_at,
                        owner=record.owner,
                        recording=RECORDING,
                        seconds=record.seconds,
                    )
                )
        except BaseException:
            self._files.remove(consent_id)
            raise
        return record

    def get(self, consent_id: str, *, viewer: Principal) -> ConsentRecord:
        """A consent `viewer` may see by id, or 404 (consents are never shared)."""
        with self._db.begin() as conn:
            row = conn.execute(select(consents).where(consents.c.id == consent_id)).first()
        if row is None or not viewer.sees(row.owner, False):
            raise NotFoundError(
                f"consent {consent_id!r} does not exist",
                code="consent_not_found",
                param="consent",
                suggestion="create one with POST /v1/audio/voice_consents",
            )
        return _record(row)

    def _managed(self, consent_id: str, viewer: Principal) -> ConsentRecord:
        record = self.get(consent_id, viewer=viewer)
        if not viewer.manages(record.owner):
            raise PermissionDeniedError(
                f"consent {consent_id!r} was not recorded under your key's owner",
                code="not_consent_owner",
                param="consent",
                suggestion="only the consent's owner or an admin may change or delete it",
            )
        return record

    def rename(self, consent_id: str, name: str, *, viewer: Principal) -> ConsentRecord:
        """Change a consent's label (its owner or an admin)."""
        self._managed(consent_id, viewer)
        with self._db.begin() as conn:
            conn.execute(update(consents).where(consents.c.id == consent_id).values(name=name))
        return self.get(consent_id, viewer=viewer)

    def page(
        self, *, viewer: Principal, after: str | None = None, limit: int = 20
    ) -> tuple[list[ConsentRecord], bool]:
        """A page of the consents `viewer` may see, newest first; True when more follow."""
        query = select(consents)
        if viewer.role is not Role.ADMIN:
            # Principal.sees for unshared records, as SQL so that pages stay full.
            query = query.where(consents.c.owner.is_(None) | (consents.c.owner == viewer.owner))
        with self._db.begin() as conn:
            rows, more = newest_first(conn, consents, query, after, limit)
        return [_record(r) for r in rows], more

    def delete(self, consent_id: str, *, viewer: Principal) -> ConsentRecord:
        """Remove a consent and its recording (its owner or an admin); returns what was removed."""
        record = self._managed(consent_id, viewer)
        with self._db.begin() as conn:
            conn.execute(delete(consents).where(consents.c.id == consent_id))
        self._files.remove(consent_id)
        return record

    def recording(self, consent_id: str, *, viewer: Principal) -> Path:
        """The stored WAV of a consent `viewer` may see."""
        self.get(consent_id, viewer=viewer)
        return self._files.path(consent_id) / RECORDING
