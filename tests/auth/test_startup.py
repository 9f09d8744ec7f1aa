"""Secure by default, and the `speaker keys` / `speaker audit` commands on the database."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speaker.auth.startup import ExposedWithoutKeysError, check_exposure, is_loopback
from speaker.cli import app
from speaker.observability.logs import configure_logging


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "speaker.example", ""):
        assert not is_loopback(host), host


def test_only_loopback_may_serve_without_keys() -> None:
    assert check_exposure("127.0.0.1", "auto", 0) is None
    assert check_exposure("0.0.0.0", "auto", 1) is None
    assert check_exposure("0.0.0.0", "on", 2) is None
    for auth in ("auto", "on"):
        with pytest.raises(ExposedWithoutKeysError, match=r"refusing to listen on 0\.0\.0\.0"):
            check_exposure("0.0.0.0", auth, 0)
    warning = check_exposure("0.0.0.0", "off", 0)
    assert warning is not None
    assert "SPEAKER_AUTH=off" in warning
    lonely = check_exposure("127.0.0.1", "on", 0)
    assert lonely is not None
    assert "speaker keys create" in lonely


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEAKER_DATA_DIR", str(tmp_path / "data"))
    for name in ("SPEAKER_AUTH", "SPEAKER_HOST", "SPEAKER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return {**os.environ, "SPEAKER_DATA_DIR": str(tmp_path / "data")}


def test_serve_refuses_a_public_address_without_keys(env: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "speaker", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "speaker keys create" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


def test_keys_and_audit_commands(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = ["keys", "create", "--name", "deploy", "--role", "admin", "--rpm", "5"]
    made = runner.invoke(app, created)
    assert made.exit_code == 0, made.output
    secret = next(w for w in made.stdout.split() if w.startswith("spk-"))
    assert "whsec_" in made.stdout
    assert "not shown again" in made.stderr
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "deploy" in listed.stdout
    assert "admin" in listed.stdout
    assert secret[:12] in listed.stdout
    assert secret not in listed.stdout
    key_id = next(w for w in made.stderr.split() if w.startswith("key_"))
    revoked = runner.invoke(app, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(app, ["keys", "revoke", "key_nope"]).exit_code == 1
    audit = runner.invoke(app, ["audit", "--action", "key"])
    assert audit.exit_code == 0, audit.output
    assert "key.create" in audit.stdout
    assert "key.revoke" in audit.stdout
    assert secret not in audit.stdout


def test_logs_never_show_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    secret = "spk-" + "A1b2_C3d4-" * 4
    try:
        configure_logging("info")
        logging.getLogger("uvicorn.error").warning(
            '%s - "WebSocket %s" [accepted]', "10.0.0.9", f"/v1/tts/ws?api_key={secret}&x=1"
        )
        logging.getLogger("speaker").warning("a key pasted as text: %s", secret)
    finally:
        root.handlers[:], root.level = kept[0], kept[1]
    logged = capsys.readouterr().err
    assert secret not in logged
    assert secret[:12] not in logged
    assert "/v1/tts/ws?api_key=[redacted]&x=1" in logged
    assert "a key pasted as text: [redacted]" in logged
