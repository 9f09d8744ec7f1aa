"""Finding CSM weights on disk, refusing to download offline, and downloading from a hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speaker.config import Settings
from speaker.engines.csm.engine import CsmEngine
from speaker.engines.csm.errors import WeightsDownloadError, WeightsMissingError
from speaker.engines.csm.weights import (
    CSM_REPO,
    fingerprint,
    installed_models,
    model_directory,
    resolve_weights,
)
from tests.engines.csm.hub import fake_hub


@pytest.fixture(autouse=True)
def _hub_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_a_repo_id_resolves_to_its_last_part_under_the_models_dir(tmp_path: Path) -> None:
    assert model_directory("sesame/csm-1b", tmp_path) == tmp_path / "csm-1b"
    assert model_directory("someone/csm-finetune/", tmp_path) == tmp_path / "csm-finetune"
    with pytest.raises(WeightsMissingError):
        model_directory("sesame/..", tmp_path)


def test_an_installed_checkpoint_is_used_without_the_network(tiny_csm_dir: Path) -> None:
    # No endpoint is reachable here: resolution must not even try.
    assert resolve_weights(CSM_REPO, tiny_csm_dir.parent, offline=False) == tiny_csm_dir


@pytest.mark.parametrize("how", ["setting", "HF_HUB_OFFLINE"])
def test_offline_without_weights_names_the_directory_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsMissingError) as caught:
        resolve_weights(CSM_REPO, tmp_path, offline=how == "setting")
    error = caught.value
    assert error.code == "model_not_installed"
    assert str(tmp_path / "csm-1b") in error.message
    assert error.suggestion is not None
    assert "speaker models pull csm-1b" in error.suggestion
    assert not (tmp_path / "csm-1b").exists()


def test_an_engine_downloads_missing_weights_from_the_hub(
    tiny_csm_dir: Path,
    csm_engine: CsmEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(data_dir=tmp_path, models_offline=False, csm_device="cpu")
    with fake_hub(CSM_REPO, tiny_csm_dir) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        engine = CsmEngine.from_settings(settings)
        info = engine.load()
    target = tmp_path / "models" / "csm-1b"
    assert info.details["weights"] == str(target)
    for source in tiny_csm_dir.iterdir():
        assert (target / source.name).read_bytes() == source.read_bytes()
    assert not target.with_name("csm-1b.partial").exists()
    # Same files, same fingerprint: conditioning made by one is valid for the other.
    assert engine.conditioning_version == csm_engine.conditioning_version
    assert any("/resolve/" in request for request in hub.requests)
    engine.close()


@pytest.mark.parametrize(
    ("mode", "code", "hint"),
    [("gated", "model_gated", "HF_TOKEN"), ("missing", "model_not_found", "SPEAKER_CSM_MODEL")],
)
def test_hub_refusals_become_advice(
    tiny_csm_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    code: str,
    hint: str,
) -> None:
    with fake_hub(CSM_REPO, tiny_csm_dir, mode) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(WeightsDownloadError) as caught:
            resolve_weights(CSM_REPO, tmp_path, offline=False)
    assert caught.value.code == code
    assert hint in (caught.value.suggestion or "")
    assert not (tmp_path / "csm-1b").exists()


def test_an_unreachable_hub_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(WeightsDownloadError) as caught:
        resolve_weights(CSM_REPO, tmp_path, offline=False)
    assert caught.value.code == "model_download_failed"
    assert "SPEAKER_MODELS_OFFLINE" in (caught.value.suggestion or "")


def test_the_fingerprint_follows_the_checkpoint(tiny_csm_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_csm_dir, tmp_path / "csm-1b")
    assert fingerprint(copy) == fingerprint(tiny_csm_dir)
    config = copy / "config.json"
    config.write_text(
        config.read_text().replace('"num_hidden_layers": 2', '"num_hidden_layers": 3')
    )
    assert fingerprint(copy) != fingerprint(tiny_csm_dir)
    assert fingerprint(copy).startswith("csm:")


def test_installed_models_lists_sizes_and_engines(tiny_csm_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "csm-1b.partial").mkdir()
    shutil.copytree(tiny_csm_dir, tmp_path / "csm-1b")
    found = {model.name: model for model in installed_models(tmp_path)}
    assert found["csm-1b"].engine == "csm"
    assert found["csm-1b"].complete
    assert found["csm-1b"].size_bytes == sum(p.stat().st_size for p in tiny_csm_dir.iterdir())
    assert not found["csm-1b.partial"].complete
    assert installed_models(tmp_path / "nowhere") == []
