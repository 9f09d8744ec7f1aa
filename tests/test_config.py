"""Configuration: defaults, environment variables and the advice on bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from speaker.config import SettingsError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEAKER_DATA_DIR", str(tmp_path / "d"))
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8012
    assert settings.max_input_chars == 4096
    assert settings.resolved_voices_dir == tmp_path / "d" / "voices"
    assert settings.resolved_models_dir == tmp_path / "d" / "models"
    assert settings.worker_count >= 1


def test_env_file_and_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text('SPEAKER_PORT=9001\nSPEAKER_VOICE_MAP={"nova": "x"}\n')
    monkeypatch.setenv("SPEAKER_MAX_INPUT_CHARS", "100")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.voice_map == {"nova": "x"}
    assert settings.max_input_chars == 100


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SPEAKER_PORT", "99999", "SPEAKER_PORT"),
        ("SPEAKER_WORKERS", "many", "SPEAKER_WORKERS"),
        ("SPEAKER_VOICE_MAP", '{"robot": "x"}', "unknown OpenAI voice name"),
        ("SPEAKER_LOG_LEVEL", "loud", "SPEAKER_LOG_LEVEL"),
        ("SPEAKER_FIRST_CHUNK_CHARS", "900", "must not exceed SPEAKER_MAX_CHUNK_CHARS"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert ".env.example" in str(caught.value)
