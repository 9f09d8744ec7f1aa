"""The metadata database: SQLite under the data directory by default, any SQLAlchemy URL else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from speaker.storage.tables import metadata


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


class Database:
    """A connection pool and the schema; every write happens in one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = create_engine(url, future=True)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        metadata.create_all(self._engine)

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
