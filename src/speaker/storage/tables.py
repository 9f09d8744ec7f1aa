"""The schema of the metadata database."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

consents = Table(
    "voice_consents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("language", String(35), nullable=False),
    Column("created_at", Integer, nullable=False, index=True),
    Column("owner", String(128), nullable=True, index=True),
    Column("recording", String(64), nullable=False),
    Column("seconds", Float, nullable=False),
)

voices = Table(
    "voices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("language", String(35), nullable=False),
    Column("gender", String(32), nullable=True),
    Column("tags", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("engines", JSON, nullable=False),
    Column("created_at", Integer, nullable=False, index=True),
    Column("updated_at", Integer, nullable=False),
    Column("owner", String(128), nullable=True, index=True),
    Column("shared", Boolean, nullable=False, default=False),
    Column("transcript", Text, nullable=False),
    Column("transcript_source", String(16), nullable=False),
    Column("quality", JSON, nullable=False),
    Column("consent_id", String(64), nullable=True),
    Column("source", String(16), nullable=False),
    Column("source_key", String(512), nullable=True, unique=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("prefix", String(32), nullable=False),
    # A SHA-256 of the secret: keys are 256-bit random, so no slow hash is needed, and the
    # lookup by hash is one indexed read.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("owner", String(128), nullable=False, index=True),
    Column("created_at", Integer, nullable=False),
    Column("revoked_at", Integer, nullable=True),
    Column("last_used_at", Integer, nullable=True),
    Column("requests_per_minute", Integer, nullable=True),
    Column("chars_per_minute", Integer, nullable=True),
    Column("webhook_secret", String(128), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("actor", String(64), nullable=True, index=True),
    Column("owner", String(128), nullable=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(128), nullable=True),
    Column("address", String(64), nullable=True),
    Column("detail", JSON, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("priority", Integer, nullable=False),
    Column("owner", String(128), nullable=True, index=True),
    Column("key_id", String(64), nullable=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("item_count", Integer, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("webhook_url", String(2048), nullable=True),
    Column("webhook_state", String(16), nullable=True, index=True),
    Column("webhook_attempts", Integer, nullable=False, default=0),
    Column("webhook_next_at", Float, nullable=True),
)

job_items = Table(
    "job_items",
    metadata,
    Column("job_id", String(64), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("queued_at", Float, nullable=False),
    Column("request", JSON, nullable=False),
    # Copied out of `request` so listing a job's items never loads their (long) texts.
    Column("format", String(8), nullable=False),
    Column("characters", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("error", JSON, nullable=True),
    Column("result", String(128), nullable=True),
    Column("audio_seconds", Float, nullable=True),
    Column("bytes", Integer, nullable=True),
    Index("ix_job_items_claim", "state", "priority", "queued_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), ForeignKey("jobs.id", ondelete="CASCADE"), index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("event", String(32), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
)
