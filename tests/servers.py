"""Real Redis and PostgreSQL servers for tests, each in a temporary directory on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import free_port

_PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def require_binary(name: str, path: str | None) -> str:
    """The binary's path; a missing one fails in CI (which installs it) and skips elsewhere."""
    if path and Path(path).exists():
        return path
    message = f"{name} is not installed (apt-get install redis-server postgresql)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class RedisServer:
    """`redis-server` on a free loopback port, persisting nothing."""

    def __init__(self, workdir: Path) -> None:
        binary = require_binary("redis-server", shutil.which("redis-server"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for(lambda: _redis_ping(self.url), "redis-server")

    def flush(self) -> None:
        """Forget every key, so each test starts from an empty Redis."""
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def stop(self) -> None:
        """Stop the server."""
        self._process.terminate()
        self._process.wait(10)


class PostgresServer:
    """A fresh PostgreSQL cluster (`initdb`) on a free loopback port, run as user postgres."""

    def __init__(self) -> None:
        bin_dir = _PG_BIN[-1] if _PG_BIN else None
        require_binary("postgres", str(bin_dir / "postgres") if bin_dir else None)
        assert bin_dir is not None
        self.port = free_port()
        self._run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # Its own directory under /tmp: pytest's are private to root, and initdb refuses root.
        workdir = self._workdir = Path(tempfile.mkdtemp(prefix="speaker-pg-"))
        self._data = workdir / "pgdata"
        if self._run_as:
            shutil.chown(workdir, "postgres")
        subprocess.run(
            [
                *self._run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(self._data),
                "-U",
                "speaker",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._process = subprocess.Popen(
            [
                *self._run_as,
                str(bin_dir / "postgres"),
                "-D",
                str(self._data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(workdir),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._bin = bin_dir
        self._counter = 0
        _wait_for(self._accepts, "postgres")

    def _accepts(self) -> bool:
        result = subprocess.run(
            [str(self._bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        )
        return result.returncode == 0

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._counter += 1
        name = f"speaker_{os.getpid()}_{self._counter}"
        subprocess.run(
            [
                str(self._bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "speaker",
                name,
            ],
            check=True,
        )
        return f"postgresql+psycopg://speaker@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server."""
        self._process.terminate()
        self._process.wait(20)
        shutil.rmtree(self._workdir, ignore_errors=True)


def _redis_ping(url: str) -> bool:
    import redis

    try:
        with redis.Redis.from_url(url) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


def _wait_for(check: object, what: str, timeout: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout} s")
