"""Alembic migrations of the metadata schema; `Database` applies them at start-up."""
