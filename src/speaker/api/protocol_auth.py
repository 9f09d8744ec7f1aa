"""Wire models of the admin endpoints: API keys and the audit log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from speaker.auth.audit import AuditEntry
from speaker.auth.keys import ApiKeyRecord
from speaker.auth.principal import Role


class KeyCreate(BaseModel):
    """Body of `POST /v1/keys`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, description="What the key is for.")
    role: Role = Field(default=Role.USER, description="readonly, user or admin.")
    owner: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Whose voices and consents the key makes and sees (default: the name).",
    )
    requests_per_minute: int | None = Field(
        default=None, ge=0, description="Own limit; absent: SPEAKER_RATE_LIMIT_RPM; 0: none."
    )
    chars_per_minute: int | None = Field(
        default=None, ge=0, description="Own limit; absent: SPEAKER_RATE_LIMIT_CPM; 0: none."
    )


class KeyObject(BaseModel):
    """An API key as listed: never its secret."""

    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    prefix: str
    role: Role
    owner: str
    created_at: int
    revoked_at: int | None
    last_used_at: int | None
    requests_per_minute: int | None
    chars_per_minute: int | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> KeyObject:
        """From a stored key."""
        return cls.model_validate(record, from_attributes=True)


class KeyCreated(KeyObject):
    """A new key with its secrets, shown in this answer only."""

    secret: str = Field(description="The bearer token; it cannot be shown again.")
    webhook_secret: str = Field(description="Signs this key's webhooks; not shown again either.")


class KeyList(BaseModel):
    """Every key, revoked ones included."""

    object: Literal["list"] = "list"
    data: list[KeyObject]


class AuditEntryObject(BaseModel):
    """One audit log entry."""

    id: int
    object: Literal["audit.entry"] = "audit.entry"
    at: float
    actor: str | None = Field(description="The key that acted; null with auth off or the CLI.")
    owner: str | None
    action: str
    target: str | None
    address: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryObject:
        """From a stored entry."""
        return cls.model_validate(entry, from_attributes=True)


class AuditList(BaseModel):
    """A page of audit entries, newest first."""

    object: Literal["list"] = "list"
    data: list[AuditEntryObject]
    has_more: bool
    next_cursor: int | None = Field(description="Pass as `cursor` for the next (older) page.")
