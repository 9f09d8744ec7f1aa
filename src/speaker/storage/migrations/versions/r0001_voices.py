"""Voices and consent recordings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the voice library tables."""
    op.create_table(
        "voice_consents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False, index=True),
        sa.Column("owner", sa.String(128), nullable=True, index=True),
        sa.Column("recording", sa.String(64), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "voices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("gender", sa.String(32), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("engines", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Integer, nullable=False, index=True),
        sa.Column("updated_at", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True, index=True),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("transcript_source", sa.String(16), nullable=False),
        sa.Column("quality", sa.JSON, nullable=False),
        sa.Column("consent_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(512), nullable=True, unique=True),
    )


def downgrade() -> None:
    """Drop the voice library tables."""
    op.drop_table("voices")
    op.drop_table("voice_consents")
