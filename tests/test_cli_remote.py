"""The command line's server-facing commands, through the SDK, against a live server."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speaker.cli import app
from speaker.client import SpeakerClient
from tests.conftest import LiveServer
from tests.helpers import decode, free_port, voiced_seconds

SAMPLE_TEXT = (
    "My voice is my own. I read this short passage so the server can learn how I sound, "
    "and I agree that it may speak in my voice."
)


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


def test_say_streams_to_stdout(server: LiveServer) -> None:
    result = CliRunner().invoke(
        app, ["say", "Straight to a pipe.", "-o", "-", "--format", "wav", "--url", server.url]
    )
    assert result.exit_code == 0, result.stderr
    assert decode(result.stdout_bytes, "wav").duration > 0.5


def test_voices_add_list_and_rm(server: LiveServer, tmp_path: Path) -> None:
    recording = tmp_path / "me.wav"
    with SpeakerClient(server.url, timeout=60) as client:
        recording.write_bytes(client.speech(SAMPLE_TEXT, format="wav"))
    runner = CliRunner()
    args = ["voices", "add", "Narrator CLI", str(recording), "--transcript", SAMPLE_TEXT]
    added = runner.invoke(app, [*args, "--tag", "cli", "--tag", "test", "--url", server.url])
    assert added.exit_code == 0, added.output
    voice_id = added.stdout.strip()
    assert "added" in added.stderr
    with SpeakerClient(server.url) as client:
        voice = client.voices.get(voice_id)
    assert (voice.name, voice.tags, voice.transcript) == (
        "Narrator CLI",
        ["cli", "test"],
        SAMPLE_TEXT,
    )
    listed = runner.invoke(app, ["voices", "--url", server.url])
    assert listed.exit_code == 0, listed.output
    assert voice_id in listed.output
    removed = runner.invoke(app, ["voices", "rm", voice_id, "--url", server.url])
    assert removed.exit_code == 0, removed.output
    assert voice_id not in runner.invoke(app, ["voices", "--url", server.url]).output
    again = runner.invoke(app, ["voices", "rm", voice_id, "--url", server.url])
    assert again.exit_code == 1
    assert "voice_not_found" in again.output
    assert "Traceback" not in again.output


def test_voices_add_refuses_a_missing_file(server: LiveServer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["voices", "add", "Nobody", str(tmp_path / "absent.wav"), "--url", server.url]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_jobs_submit_takes_jsonl_requests(server: LiveServer, tmp_path: Path) -> None:
    requests = tmp_path / "batch.jsonl"
    lines = [
        {"input": "First, in WAV.", "response_format": "wav"},
        {"input": "Second, slower, in MP3.", "response_format": "mp3", "speed": 0.8},
    ]
    requests.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["jobs", "submit", str(requests), "--wait", "--url", server.url]
    )
    assert result.exit_code == 0, result.output
    with SpeakerClient(server.url) as client:
        job = client.jobs.get(result.stdout.strip())
    assert job.counts.succeeded == 2
    # Each request keeps its own format: --format is for plain-text lines only.
    items = job.items or []
    assert [(i.response_format, i.characters) for i in items] == [
        (line["response_format"], len(str(line["input"]))) for line in lines
    ]


def test_jobs_submit_checks_jsonl_before_sending(server: LiveServer, tmp_path: Path) -> None:
    requests = tmp_path / "bad.jsonl"
    requests.write_text('{"input": "fine"}\n{"speed": 2}\n', encoding="utf-8")
    with SpeakerClient(server.url) as client:
        before = len(client.jobs.list(limit=100).data)
    result = CliRunner().invoke(app, ["jobs", "submit", str(requests), "--url", server.url])
    assert result.exit_code == 2
    assert "request 2" in result.output
    assert "Traceback" not in result.output
    with SpeakerClient(server.url) as client:
        assert len(client.jobs.list(limit=100).data) == before


def test_jobs_wait_gives_up_after_its_timeout(server: LiveServer, tmp_path: Path) -> None:
    texts = tmp_path / "many.txt"
    texts.write_text("\n".join(f"Sentence number {n} of a long job." for n in range(40)))
    with SpeakerClient(server.url) as client:
        job = client.jobs.submit(texts.read_text().splitlines(), format="wav")
        try:
            result = CliRunner().invoke(
                app, ["jobs", "wait", job.id, "--timeout", "0.001", "--url", server.url]
            )
        finally:
            client.jobs.cancel(job.id)
    assert result.exit_code == 1
    # A wait that ran out is the client's decision, not an unreachable server.
    assert f"job {job.id} is still" in result.output
    assert "cannot reach" not in result.output


def test_the_api_key_is_sent_and_never_printed(keyed_server: tuple[LiveServer, str]) -> None:
    live, admin = keyed_server
    runner = CliRunner()
    wrong = "sk-not-a-real-key-0123456789"
    refused = runner.invoke(app, ["status", "--url", live.url, "--api-key", wrong])
    assert refused.exit_code == 1
    assert "invalid_api_key" in refused.output
    assert "hint:" in refused.output
    assert wrong not in refused.output
    missing = runner.invoke(app, ["voices", "--url", live.url])
    assert missing.exit_code == 1
    assert "missing_api_key" in missing.output
    listed = runner.invoke(app, ["voices", "--url", live.url], env={"SPEAKER_API_KEY": admin})
    assert listed.exit_code == 0, listed.output
    assert "en_US-joe-medium" in listed.output
    assert admin not in listed.output
