"""Speaker similarity of generated speech to a cloned voice's reference (resemblyzer)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from speaker.validation.extras import import_optional
from speaker.validation.synth import Audio

Embedding = npt.NDArray[np.float32]
_ENCODER_RATE = 16_000


class SpeakerSimilarity:
    """Cosine similarity of speaker embeddings (GE2E, resemblyzer): 1.0 is the same voice."""

    def __init__(self) -> None:
        resemblyzer = import_optional("resemblyzer", "similarity", "speaker similarity")
        self._preprocess = resemblyzer.preprocess_wav
        self._encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)

    def embed(self, audio: Audio) -> Embedding:
        """The unit-length speaker embedding of a recording."""
        samples = np.asarray(audio.samples, dtype=np.float32).reshape(-1)
        if audio.sample_rate != _ENCODER_RATE:
            samples = soxr.resample(samples, audio.sample_rate, _ENCODER_RATE).astype(np.float32)
        # preprocess_wav evens out loudness and shortens long silences, as in training.
        embedding = self._encoder.embed_utterance(self._preprocess(samples))
        return np.asarray(embedding, dtype=np.float32)

    def score(self, reference: Embedding, audio: Audio) -> float:
        """How alike the voice in `audio` is to the reference embedding, from -1 to 1."""
        embedding = self.embed(audio)
        norms = float(np.linalg.norm(reference) * np.linalg.norm(embedding))
        return float(np.dot(reference, embedding) / norms) if norms else 0.0
