"""The schema of the metadata database."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, Text

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
