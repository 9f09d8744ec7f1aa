"""The Piper engine with the real shipped voice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from speaker.engines.base import Engine, SynthesisParams
from speaker.engines.piper import PiperEngine, builtin_voice, discover_voices
from speaker.errors import NotFoundError
from speaker.runtime import Runtime
from tests.helpers import voiced_seconds


def test_builtin_voice_ships_with_the_package() -> None:
    files = builtin_voice()
    assert files.voice_id == "en_US-joe-medium"
    assert files.model_path.stat().st_size > 10_000_000
    assert files.config_path.is_file()


def test_engine_satisfies_the_interface(runtime: Runtime) -> None:
    engine = runtime.engines["piper"]
    assert isinstance(engine, Engine)
    assert engine.capabilities.cloning is False
    assert engine.capabilities.max_batch_size == 1
    voice = next(v for v in engine.voices() if v.id == "en_US-joe-medium")
    assert voice.language == "en_US"
    assert voice.sample_rate == 22050


def test_synthesis_levels_are_steady_across_sentences(runtime: Runtime) -> None:
    session = runtime.engines["piper"].open_session()
    peaks = []
    for text in ("Hi.", "This is a much longer sentence with many more words in it.", "Okay then."):
        audio = session.synthesize(text, "en_US-joe-medium", SynthesisParams())
        assert audio.sample_rate == 22050
        assert audio.samples.dtype == np.float32
        peaks.append(float(np.abs(audio.samples).max()))
    # One calibrated gain per voice, not per-sentence normalization: peaks differ naturally
    # but stay in a sane band and never clip hard.
    assert all(0.3 < p <= 1.0 for p in peaks)


def test_speed_changes_length_in_the_model(runtime: Runtime) -> None:
    session = runtime.engines["piper"].open_session()
    text = "Speed is a length scale inside the model, and a longer sentence evens out the noise."

    def voiced(speed: float) -> float:
        audio = session.synthesize(text, "en_US-joe-medium", SynthesisParams(speed=speed))
        return voiced_seconds(audio.samples, audio.sample_rate)

    normal, fast, slow = voiced(1.0), voiced(2.0), voiced(0.5)
    assert 0.4 < fast / normal < 0.62
    assert 1.7 < slow / normal < 2.4


def test_unknown_voice_is_not_found(runtime: Runtime) -> None:
    session = runtime.engines["piper"].open_session()
    with pytest.raises(NotFoundError) as caught:
        session.synthesize("Hello.", "nobody", SynthesisParams())
    assert "en_US-joe-medium" in (caught.value.suggestion or "")


def test_dropped_in_voice_is_picked_up(tmp_path: Path) -> None:
    files = builtin_voice()
    (tmp_path / "en_US-copy-medium.onnx").symlink_to(files.model_path)
    shutil.copy(files.config_path, tmp_path / "en_US-copy-medium.onnx.json")
    (tmp_path / "orphan.onnx").write_bytes(b"no config beside me")
    assert [v.voice_id for v in discover_voices(tmp_path)] == ["en_US-copy-medium"]
    engine = PiperEngine(tmp_path)
    engine.load()
    ids = [v.id for v in engine.voices()]
    assert ids == ["en_US-joe-medium", "en_US-copy-medium"]
    audio = engine.open_session().synthesize("Hello.", "en_US-copy-medium", SynthesisParams())
    assert audio.duration > 0.3
    engine.close()


def test_session_plans_no_memory_pattern_per_shape(runtime: Runtime) -> None:
    # Each text length is a new input shape; a kept plan per shape made RSS climb for hours.
    engine = runtime.engines["piper"]
    assert isinstance(engine, PiperEngine)
    loaded, _ = engine.voice("en_US-joe-medium")
    config = loaded.voice.session.get_session_options()
    assert config.enable_mem_pattern is False
    assert config.enable_cpu_mem_arena is True
    assert config.intra_op_num_threads == 1


def test_memory_arena_can_be_switched_off() -> None:
    engine = PiperEngine(memory_arena=False)
    engine.load()
    loaded, _ = engine.voice("en_US-joe-medium")
    config = loaded.voice.session.get_session_options()
    assert config.enable_cpu_mem_arena is False
    audio = engine.open_session().synthesize(
        "Memory goes back.", "en_US-joe-medium", SynthesisParams()
    )
    assert audio.duration > 0.5
    engine.close()
