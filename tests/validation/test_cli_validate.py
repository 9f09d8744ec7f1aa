"""`speaker validate` from the command line: exit statuses CI can gate on, and its reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speaker.cli import app
from tests.conftest import LiveServer
from tests.helpers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEAKER_DATA_DIR", str(tmp_path / "data"))


def _corpus(tmp_path: Path, *rows: dict[str, str]) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    return str(path)


def test_a_wrong_case_fails_with_exit_1_and_writes_both_reports(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path,
        {"id": "right", "text": "The weather today is sunny with a light breeze."},
        {"id": "wrong", "text": "The ticket cost $47.50.", "expected": "I like green apples."},
    )
    out = tmp_path / "reports"
    args = ["validate", "--corpus", corpus, "--max-wer", "0.3", "--max-case-wer", "0.5"]
    args += ["--json", str(out / "r.json"), "--html", str(out / "r.html")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    assert "wrong" in result.output
    data = json.loads((out / "r.json").read_text())
    assert data["passed"] is False
    assert [c["case"] for c in data["cases"]] == ["right", "wrong"]
    assert data["cases"][0]["wer"] < 0.34 < 0.75 <= data["cases"][1]["wer"]
    page = (out / "r.html").read_text()
    assert page.count("<svg") == 2
    assert 'id="case-right"' in page
    assert 'id="case-wrong"' in page
    assert "I like green apples." in page


def test_a_server_that_speaks_well_passes_with_exit_0(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPEAKER_API_KEY", "sk-unused")
    corpus = tmp_path / "lines.txt"
    corpus.write_text("The ticket cost $47.50 and the poster was $12.\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["validate", "--corpus", str(corpus), "--url", server.url, "--max-wer", "0.2"]
    )
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    assert server.url in result.output


def test_nothing_to_validate_against_is_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["validate", "--corpus", str(tmp_path / "none.txt")])
    assert missing.exit_code == 2
    assert "no corpus" in missing.output
    url = f"http://127.0.0.1:{free_port()}"
    unreachable = CliRunner().invoke(app, ["validate", "--url", url])
    assert unreachable.exit_code == 2
    assert "POST" in unreachable.output
    assert url in unreachable.output
    whisper = CliRunner().invoke(app, ["validate", "--whisper-model", str(tmp_path)])
    assert whisper.exit_code == 2
    assert "cannot load a Whisper model" in whisper.output


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jiwer", None)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 2
    assert 'pip install "speaker-tts[validate]"' in result.output
    assert "Traceback" not in result.output
