"""Test helpers: decode what the server sends, measure it, compare transcripts."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np


@dataclass
class Decoded:
    """Audio decoded by FFmpeg (PyAV), as a person's player would."""

    samples: np.ndarray
    sample_rate: int
    container: str
    codec: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(data: bytes, fmt: str) -> Decoded:
    """Decode an encoded file; raw PCM is 24 kHz s16le by contract."""
    if fmt == "pcm":
        pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768
        return Decoded(pcm, 24000, "raw", "pcm_s16le")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = []
        for frame in container.decode(stream):
            array = frame.to_ndarray()
            scale = 32768.0 if array.dtype.kind == "i" else 1.0
            frames.append(array.reshape(-1)[:: frame.layout.nb_channels] / scale)
        rate = stream.codec_context.sample_rate
        samples = np.concatenate(frames).astype(np.float32) if frames else np.zeros(0, np.float32)
        return Decoded(samples, rate, container.format.name, stream.codec_context.name)


def voiced_seconds(samples: np.ndarray, rate: int, threshold: float = 0.02) -> float:
    """Seconds of audio above a level: a length measure that ignores padding and silence."""
    window = max(1, rate // 100)
    usable = len(samples) // window * window
    frames = np.abs(samples[:usable]).reshape(-1, window).max(axis=1)
    return float((frames > threshold).sum() * window / rate)
