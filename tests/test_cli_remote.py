"""The command line's server-facing commands, through the SDK, against a live server."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speaker.cli import app
from tests.conftest import LiveServer
from tests.helpers import decode, free_port, voiced_seconds


@pytest.fixture(autouse=True)
def no_ambient_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # The commands read these too: a developer's own settings must not steer the tests.
    monkeypatch.delenv("SPEAKER_URL", raising=False)
    monkeypatch.delenv("SPEAKER_API_KEY", raising=False)


def test_say_streams_from_the_server_into_a_file(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "hello.opus"
    text = "Hello from the server. This came through the SDK."
    result = CliRunner().invoke(app, ["say", text, "-o", str(out), "--url", server.url])
    assert result.exit_code == 0, result.output
    audio = decode(out.read_bytes(), "opus")
    assert audio.codec == "opus"
    assert voiced_seconds(audio.samples, audio.sample_rate) > 1.5


def test_say_takes_the_url_from_the_environment(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "env.wav"
    result = CliRunner().invoke(
        app, ["say", "Configured once.", "-o", str(out)], env={"SPEAKER_URL": server.url}
    )
    assert result.exit_code == 0, result.output
    assert decode(out.read_bytes(), "wav").duration > 0.5


def test_server_errors_print_code_message_and_hint(server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "x.mp3"
    result = CliRunner().invoke(
        app, ["say", "Hi.", "-o", str(out), "--voice", "nobody", "--url", server.url]
    )
    assert result.exit_code == 1
    assert "voice_not_found" in result.output
    assert "hint:" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_server_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["say", "Hi.", "-o", str(tmp_path / "x.mp3"), "--url", url])
    assert result.exit_code == 1
    assert f"cannot reach {url}" in result.output
    assert "Traceback" not in result.output


def test_voices_and_status_from_the_server(server: LiveServer) -> None:
    voices = CliRunner().invoke(app, ["voices", "--url", server.url])
    assert voices.exit_code == 0, voices.output
    assert "en_US-joe-medium" in voices.output
    status = CliRunner().invoke(app, ["status", "--url", server.url])
    assert status.exit_code == 0, status.output
    assert "ready" in status.output
    assert "piper" in status.output


def test_jobs_submit_wait_and_download(server: LiveServer, tmp_path: Path) -> None:
    texts = tmp_path / "chapters.txt"
    texts.write_text("Chapter one begins.\n\nChapter two follows.\n", encoding="utf-8")
    runner = CliRunner()
    submitted = runner.invoke(
        app, ["jobs", "submit", str(texts), "--format", "wav", "--wait", "--url", server.url]
    )
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip().splitlines()[0]
    assert job_id.startswith("job_")
    assert "succeeded" in submitted.output
    waited = runner.invoke(app, ["jobs", "wait", job_id, "--url", server.url])
    assert waited.exit_code == 0, waited.output
    out = tmp_path / "results.zip"
    downloaded = runner.invoke(
        app, ["jobs", "download", job_id, "-o", str(out), "--url", server.url]
    )
    assert downloaded.exit_code == 0, downloaded.output
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as archive:
        audio = [n for n in archive.namelist() if n.endswith(".wav")]
        assert len(audio) == 2
        assert decode(archive.read(audio[0]), "wav").duration > 0.5


def test_jobs_wait_fails_for_an_unknown_job(server: LiveServer) -> None:
    result = CliRunner().invoke(app, ["jobs", "wait", "job_doesnotexist", "--url", server.url])
    assert result.exit_code == 1
    assert "not_found" in result.output or "job_not_found" in result.output
