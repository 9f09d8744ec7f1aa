"""One response's audio path: seam smoothing, resampling to 24 kHz, one encoder."""

from __future__ import annotations

import numpy as np

from speaker.audio.encoder import create_encoder
from speaker.audio.formats import OUTPUT_SAMPLE_RATE, AudioFormat
from speaker.audio.resample import StreamResampler
from speaker.audio.seams import SeamSmoother


class AudioPipeline:
    """Turns engine chunks into the bytes of one continuous file in the requested format."""

    def __init__(self, fmt: AudioFormat, engine_rate: int, max_pause_s: float) -> None:
        self._smoother = SeamSmoother(engine_rate, max_pause_s=max_pause_s)
        self._resampler = StreamResampler(engine_rate, OUTPUT_SAMPLE_RATE)
        self._encoder = create_encoder(fmt, OUTPUT_SAMPLE_RATE)
        self.samples_out = 0
        self._closed = False

    def feed(
        self, samples: np.ndarray, *, last: bool, opens: bool = True, closes: bool = True
    ) -> bytes:
        """Encode one engine chunk (or a piece of one); with `last`, also close the file."""
        smoothed = self._smoother.process(samples, last=last, opens=opens, closes=closes)
        resampled = self._resampler.process(smoothed)
        self.samples_out += len(resampled)
        data = self._encoder.encode(resampled)
        if last:
            data += self.close()
        return data

    def close(self) -> bytes:
        """Flush the resampler and encoder once, returning the file's last bytes."""
        if self._closed:
            return b""
        self._closed = True
        tail = self._resampler.flush()
        self.samples_out += len(tail)
        return self._encoder.encode(tail) + self._encoder.finish()

    @property
    def seconds_out(self) -> float:
        """Audio written so far, in seconds."""
        return self.samples_out / OUTPUT_SAMPLE_RATE
