"""Test helpers: decode what the server sends, measure it, compare transcripts."""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import httpx
import numpy as np

if TYPE_CHECKING:
    from speaker.runtime import Runtime


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


def wait_idle(runtime: Runtime, timeout: float = 20.0) -> None:
    """Block until the scheduler has nothing queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = runtime.scheduler.stats()
        if stats.busy == 0 and stats.queued == 0:
            return
        time.sleep(0.05)
    raise AssertionError("scheduler did not go idle")


def wait_ready(url: str, timeout: float = 60.0) -> None:
    """Block until a server at `url` answers `/ready` with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
