"""Fixtures of the job tests: the job store on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from speaker.jobs.store import JobStore
from speaker.storage.database import Database, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "speaker.db")
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    db = Database(url)
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> JobStore:
    return JobStore(database, lease_s=30, max_attempts=2)
