"""The audit log: who changed keys, voices and consents, what, when and from where."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from speaker.auth.principal import Principal
from speaker.storage.database import Database
from speaker.storage.tables import audit_log


class Action(StrEnum):
    """The operations the audit log records."""

    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    VOICE_CREATE = "voice.create"
    VOICE_UPDATE = "voice.update"
    VOICE_SHARE = "voice.share"
    VOICE_UNSHARE = "voice.unshare"
    VOICE_DELETE = "voice.delete"
    VOICE_IMPORT = "voice.import"
    CONSENT_CREATE = "consent.create"
    CONSENT_DELETE = "consent.delete"


@dataclass(frozen=True)
class AuditEntry:
    """One recorded operation."""

    id: int
    at: float
    """Unix time of the operation."""
    actor: str | None
    """The API key that acted; None when auth was off or on the server's own command line."""
    owner: str | None
    """The owner of that key."""
    action: str
    target: str | None
    """The id of the key, voice or consent acted on."""
    address: str | None
    """The client's address, or `cli` for the `speaker` command."""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditQuery:
    """Which entries to read, newest first; every criterion left as None matches all."""

    action: str | None = None
    """An action (`voice.delete`) or a family of them (`voice`)."""
    actor: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    cursor: int | None = None
    """Read entries older than this entry id (the `next_cursor` of the previous page)."""


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        owner=row.owner,
        action=row.action,
        target=row.target,
        address=row.address,
        detail=dict(row.detail),
    )


class AuditLog:
    """Appends entries to the `audit_log` table and reads them back for admins."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(
        self,
        principal: Principal,
        action: Action,
        *,
        target: str | None = None,
        address: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry; `detail` holds names and counts, never secrets."""
        entry = AuditEntry(
            id=0,
            at=time.time(),
            actor=principal.key_id,
            owner=principal.owner,
            action=action.value,
            target=target,
            address=address,
            detail=detail or {},
        )
        values = {k: v for k, v in asdict(entry).items() if k != "id"}
        with self._db.begin() as conn:
            key = conn.execute(audit_log.insert().values(**values)).inserted_primary_key
        assert key is not None
        return replace(entry, id=int(key[0]))

    def query(self, wanted: AuditQuery) -> tuple[list[AuditEntry], bool]:
        """A page of entries, newest first; True when older ones follow."""
        query = select(audit_log).order_by(audit_log.c.id.desc())
        if wanted.action is not None:
            query = query.where(
                audit_log.c.action == wanted.action
                if "." in wanted.action
                else audit_log.c.action.startswith(f"{wanted.action}.", autoescape=True)
            )
        if wanted.actor is not None:
            query = query.where(audit_log.c.actor == wanted.actor)
        if wanted.since is not None:
            query = query.where(audit_log.c.at >= wanted.since)
        if wanted.until is not None:
            query = query.where(audit_log.c.at < wanted.until)
        if wanted.cursor is not None:
            query = query.where(audit_log.c.id < wanted.cursor)
        with self._db.begin() as conn:
            rows = conn.execute(query.limit(wanted.limit + 1)).all()
        return [_entry(r) for r in rows[: wanted.limit]], len(rows) > wanted.limit
