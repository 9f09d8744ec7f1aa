"""Streaming sample-rate conversion from the engine's rate to the output rate."""

import numpy as np
import numpy.typing as npt
import soxr

FloatArray = npt.NDArray[np.float32]


class StreamResampler:
    """Resamples float32 mono audio chunk by chunk with no seams between chunks."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        """Create a resampler from ``in_rate`` to ``out_rate`` Hz."""
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        # One filter state for the whole response: restarting per chunk would ring at every join.
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, "float32")
        )

    def process(self, chunk: npt.ArrayLike) -> FloatArray:
        """Resample the next chunk; output lags input by the filter delay until ``flush``."""
        samples = np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1)
        if self._stream is None:
            return samples
        out: FloatArray = self._stream.resample_chunk(samples, last=False)
        return out

    def flush(self) -> FloatArray:
        """Return the samples still held in the filter at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        out: FloatArray = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return out
