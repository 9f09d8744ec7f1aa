"""The `speaker` command, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from speaker.cli import app
from tests.helpers import decode, free_port, wait_ready

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEAKER_DATA_DIR", str(tmp_path / "data"))
    return {**os.environ, "SPEAKER_DATA_DIR": str(tmp_path / "data")}


def test_say_writes_the_requested_format(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "hello.flac"
    result = CliRunner().invoke(app, ["say", "Hello from the command line.", "-o", str(out)])
    assert result.exit_code == 0, result.output
    decoded = decode(out.read_bytes(), "flac")
    assert decoded.sample_rate == 24000
    assert decoded.duration > 1.0


def test_say_reads_a_file_with_speed_and_voice(env: dict[str, str], tmp_path: Path) -> None:
    text = tmp_path / "story.txt"
    text.write_text("One sentence. Two sentences. Three sentences, all from a file.")
    out = tmp_path / "story.wav"
    result = CliRunner().invoke(
        app, ["say", "-f", str(text), "-o", str(out), "--voice", "nova", "--speed", "1.5"]
    )
    assert result.exit_code == 0, result.output
    assert decode(out.read_bytes(), "wav").duration > 1.0


def test_say_reports_a_bad_voice(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["say", "Hi.", "-o", str(tmp_path / "x.mp3"), "--voice", "zz"])
    assert result.exit_code == 1
    assert "voice 'zz' does not exist" in result.output
    assert "en_US-joe-medium" in result.output


def test_voices_lists_the_builtin_voice(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["voices"])
    assert result.exit_code == 0, result.output
    assert "en_US-joe-medium" in result.output
    assert "alloy" in result.output


def test_bad_config_exits_with_advice(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_PORT", "0")
    result = CliRunner().invoke(app, ["voices"])
    assert result.exit_code == 2
    assert "SPEAKER_PORT" in result.output


def test_serve_starts_and_speaks(env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "speaker", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        response = httpx.post(
            f"{url}/v1/audio/speech",
            json={"model": "tts-1", "voice": "alloy", "input": "Ready.", "response_format": "wav"},
            timeout=30,
        )
        assert response.status_code == 200
        assert decode(response.content, "wav").duration > 0.3
    finally:
        process.terminate()
        process.wait(15)


def test_serve_exits_when_the_default_voice_does_not_exist(env: dict[str, str]) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "speaker", "serve", "--port", str(free_port())],
        env={**env, "SPEAKER_DEFAULT_VOICE": "nobody"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert "SPEAKER_DEFAULT_VOICE='nobody' is not a voice" in process.stderr
    assert "en_US-joe-medium" in process.stderr


def test_sigterm_drains_streams_in_flight(env: dict[str, str]) -> None:
    import signal
    import threading

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "speaker", "serve", "--port", str(port)],
        env={**env, "SPEAKER_DRAIN_TIMEOUT_S": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    text = " ".join(f"Sentence {i} is part of a stream that must finish." for i in range(25))
    received: dict[str, object] = {}

    def listen() -> None:
        with httpx.stream(
            "POST",
            f"{url}/v1/audio/speech",
            json={"model": "tts-1", "voice": "alloy", "input": text, "response_format": "wav"},
            timeout=120,
        ) as response:
            received["status"] = response.status_code
            data = b""
            for piece in response.iter_bytes():
                data += piece
                received.setdefault("first", True)
            received["data"] = data

    try:
        wait_ready(url)
        listener = threading.Thread(target=listen)
        listener.start()
        while "first" not in received and listener.is_alive():
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # Still serving: readiness is off and new work is refused with a retry hint.
        ready = httpx.get(f"{url}/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["status"] == "draining"
        refused = httpx.post(
            f"{url}/v1/audio/speech",
            json={"model": "tts-1", "voice": "alloy", "input": "Too late."},
            timeout=5,
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "shutting_down"
        assert refused.headers["retry-after"]
        listener.join(120)
        # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
        assert process.wait(60) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    assert received["status"] == 200
    audio = decode(received["data"], "wav")  # type: ignore[arg-type]
    assert audio.duration > 25  # the whole text, not a cut-off stream
