"""The metadata database: migrations on SQLite and a real PostgreSQL, and upgrades of old files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine, inspect, text

from speaker.storage.database import Database, DatabaseDriverMissingError, sqlite_url
from speaker.storage.migrations.versions import r0001_voices
from tests.servers import PostgresServer

TABLES = {
    "alembic_version",
    "api_keys",
    "audit_log",
    "job_items",
    "jobs",
    "voice_consents",
    "voices",
    "webhook_deliveries",
}


def _head(database: Database) -> str:
    with database.begin() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())


def test_a_new_sqlite_file_gets_the_whole_schema(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "speaker.db"))
    try:
        with database.begin() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES
        assert _head(database) == "0002"
    finally:
        database.close()


def test_a_database_from_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    # Stop 2 created the voice tables with create_all and no alembic_version table.
    path = tmp_path / "old.db"
    engine = create_engine(sqlite_url(path))
    with engine.begin() as connection:
        with Operations.context(MigrationContext.configure(connection)):
            r0001_voices.upgrade()
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        connection.execute(
            text(
                "INSERT INTO voice_consents (id, name, language, created_at, recording, seconds)"
                " VALUES ('cons_1', 'Ann', 'en', 1, 'consent.wav', 4.0)"
            )
        )
    engine.dispose()
    database = Database(sqlite_url(path))
    try:
        assert _head(database) == "0002"
        with database.begin() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES
            names = connection.execute(text("SELECT name FROM voice_consents")).scalars().all()
        assert names == ["Ann"]
    finally:
        database.close()


@pytest.mark.slow
def test_replicas_migrating_one_postgres_at_once_take_turns(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.new_database()
    errors: list[BaseException] = []
    opened: list[Database] = []

    def open_one() -> None:
        try:
            opened.append(Database(url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert len(opened) == 3
        assert opened[0].dialect == "postgresql"
        assert _head(opened[0]) == "0002"
        with opened[0].begin() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES
    finally:
        for database in opened:
            database.close()


def test_a_missing_driver_names_the_extra_to_install() -> None:
    with pytest.raises(DatabaseDriverMissingError, match=r"speaker-tts\[postgres\]"):
        Database("mysql+pymysql://speaker@127.0.0.1/speaker")
