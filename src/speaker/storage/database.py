"""The metadata database: SQLite under the data directory by default, any SQLAlchemy URL else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text

import speaker.storage.migrations

_MIGRATIONS = Path(speaker.storage.migrations.__file__).parent
# The schema as stop 2 created it, before migrations existed; such a database is stamped so.
_FIRST_REVISION = "0001"
# Any constant: replicas starting together take this PostgreSQL advisory lock in turn.
_MIGRATION_LOCK = 0x5BEA4E5


class DatabaseDriverMissingError(RuntimeError):
    """The database URL names a driver that is not installed."""


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


class Database:
    """A connection pool and the schema; every write happens in one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise DatabaseDriverMissingError(
                f"SPEAKER_DATABASE_URL needs the Python driver {exc.name!r}; for PostgreSQL: "
                'pip install "speaker-tts[postgres]"'
            ) from None
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self.migrate()

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name: `sqlite` or `postgresql`."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision; replicas starting together take turns."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            if "voices" in tables and "alembic_version" not in tables:
                command.stamp(config, _FIRST_REVISION)
            command.upgrade(config, "head")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a transaction, committed on success and rolled back on error."""
        with self._engine.begin() as connection:
            yield connection

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # WAL lets readers run beside the one writer, and FULL sync makes a committed voice survive
    # a power cut, not only a process crash.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
