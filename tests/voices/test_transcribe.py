"""Automatic transcripts of reference audio with the shipped Whisper tiny.en."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from speaker.engines.base import SynthesisParams
from speaker.engines.piper import PiperEngine
from speaker.voices import transcribe
from speaker.voices.intake import ReferenceAudio, encode_wav, prepare_reference
from speaker.voices.transcribe import Transcriber

TEXT = (
    "Please call Stella and ask her to bring these things with her from the store: "
    "six spoons of fresh snow peas and a big toy frog for the kids."
)


def word_error_rate(reference: str, heard: str) -> float:
    """WER after Whisper's English normalization, so spelling and punctuation do not count."""
    normalizer = EnglishTextNormalizer()
    return float(jiwer.wer(normalizer(reference), normalizer(heard)))


@pytest.fixture(scope="module")
def reference() -> ReferenceAudio:
    engine = PiperEngine()
    engine.load()
    audio = engine.open_session().synthesize(TEXT, "en_US-joe-medium", SynthesisParams())
    engine.close()
    # Through intake as an upload would go: 22.05 kHz WAV in, trimmed 24 kHz mono out.
    return prepare_reference(encode_wav(audio.samples * np.float32(0.7), audio.sample_rate))


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber(threads=2)


def test_transcript_matches_the_spoken_sentence(
    transcriber: Transcriber, reference: ReferenceAudio
) -> None:
    heard = transcriber.transcribe(reference.samples, reference.sample_rate)
    assert word_error_rate(TEXT, heard) < 0.3, heard
    assert heard == heard.strip()
    assert "  " not in heard


def test_no_audio_is_no_text(transcriber: Transcriber) -> None:
    assert transcriber.transcribe(np.zeros(0, dtype=np.float32), 24000) == ""
    assert transcriber.transcribe(np.zeros(3 * 16000, dtype=np.float32), 16000) == ""


def test_model_loads_once_on_first_use(
    monkeypatch: pytest.MonkeyPatch, reference: ReferenceAudio
) -> None:
    loads: list[str] = []
    gate = threading.Barrier(3)

    class CountingModel:
        def __init__(self, path: str, **kwargs: object) -> None:
            loads.append(path)
            assert kwargs == {"device": "cpu", "compute_type": "int8", "cpu_threads": 1}

        def transcribe(self, audio: np.ndarray, **kwargs: object) -> tuple[object, None]:
            assert audio.dtype == np.float32
            assert len(audio) == pytest.approx(len(reference.samples) * 16000 / 24000, abs=2)
            assert kwargs["beam_size"] == 5
            assert kwargs["vad_filter"] is False
            segments = [
                SimpleNamespace(text=" [Music] Hello,"),
                SimpleNamespace(text=" (laughs)  world. "),
            ]
            return iter(segments), None

    monkeypatch.setattr(transcribe, "WhisperModel", CountingModel)
    lazy = Transcriber("/models/whisper", threads=1)
    assert loads == []

    def run() -> str:
        gate.wait()
        return lazy.transcribe(reference.samples, reference.sample_rate)

    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(lambda _: run(), range(3)))
    assert loads == ["/models/whisper"]
    # Sounds Whisper annotates are not words the speaker said.
    assert texts == ["Hello, world."] * 3
