"""`speaker models list` and `speaker models pull`, run through typer's test runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speaker.cli import app
from speaker.engines.csm.weights import CSM_REPO
from tests.engines.csm.hub import fake_hub


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEAKER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPEAKER_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "models"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_list_shows_installed_checkpoints_with_size_and_engine(
    models_dir: Path, tiny_csm_dir: Path
) -> None:
    shutil.copytree(tiny_csm_dir, models_dir / "csm-1b")
    (models_dir / "other.partial").mkdir()
    code, output = run("models", "list")
    assert code == 0, output
    row = next(line for line in output.splitlines() if "csm-1b" in line)
    assert "csm" in row.replace("csm-1b", "")
    assert "kB" in row
    assert "installed" in row
    assert "incomplete" in next(line for line in output.splitlines() if "other.partial" in line)


def test_list_offers_to_pull_what_is_missing(models_dir: Path) -> None:
    code, output = run("models", "list")
    assert code == 0, output
    assert "speaker models pull csm-1b" in output


def test_pull_downloads_with_the_hub_client(
    models_dir: Path, tiny_csm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_hub(CSM_REPO, tiny_csm_dir) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, output = run("models", "pull", "csm-1b")
        assert code == 0, output
        assert f"installed {CSM_REPO}" in output
        assert (models_dir / "csm-1b" / "model.safetensors").is_file()
        code, output = run("models", "pull", "csm-1b")
    assert code == 0, output
    assert "already installed" in output


def test_pull_explains_a_gated_model(
    models_dir: Path, tiny_csm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_hub(CSM_REPO, tiny_csm_dir, "gated") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, output = run("models", "pull")
    assert code == 1
    assert "gated" in output
    assert "HF_TOKEN" in output
    assert not (models_dir / "csm-1b").exists()


def test_pull_without_network_fails_clearly(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    code, output = run("models", "pull", "csm-1b")
    assert code == 1
    assert "could not download" in output
    assert "check the network" in output


def test_pull_refuses_an_unknown_short_name(models_dir: Path) -> None:
    code, output = run("models", "pull", "tacotron")
    assert code == 2
    assert "unknown model 'tacotron'" in output
