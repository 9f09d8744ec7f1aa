"""Joining consecutive engine chunks without clicks, dead air or long sentence pauses."""

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def _raised_cosine(n: int) -> FloatArray:
    """Return an ``n``-sample ramp from 0 towards 1 with zero slope at both ends."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 1) / (n + 1))).astype(
        np.float32
    )


class SeamSmoother:
    """Per-response state that trims and caps silence between chunks and softens hard edges."""

    def __init__(
        self,
        sample_rate: int,
        *,
        max_pause_s: float = 0.25,
        lead_s: float = 0.05,
        tail_s: float = 0.1,
        threshold_dbfs: float = -45.0,
        window_s: float = 0.01,
        fade_s: float = 0.004,
    ) -> None:
        """Configure for chunks at ``sample_rate``; durations are in seconds."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if min(max_pause_s, lead_s, tail_s, fade_s) < 0 or window_s <= 0:
            raise ValueError("durations must be non-negative and window_s positive")
        self._max_pause = round(max_pause_s * sample_rate)
        self._lead = round(lead_s * sample_rate)
        self._tail = round(tail_s * sample_rate)
        self._window = max(1, round(window_s * sample_rate))
        self._ramp = _raised_cosine(max(1, round(fade_s * sample_rate)))
        # Mean-square power of a full-scale-relative level: dBFS / 10, not / 20.
        self._power_threshold = 10.0 ** (threshold_dbfs / 10.0)
        # An edge sample above this leaves an audible step when butted against anything else.
        self._edge_threshold = 10.0 ** (threshold_dbfs / 20.0)
        self._reset()

    def _reset(self) -> None:
        self._started = False
        # Silence seen since the last speech (or since the start), held until we know whether
        # it is a sentence pause, the lead-in, or the tail of the response.
        self._gap: FloatArray = np.zeros(0, dtype=np.float32)

    def process(
        self, chunk: npt.ArrayLike, *, last: bool, opens: bool = True, closes: bool = True
    ) -> FloatArray:
        """Return the audio ready to emit for ``chunk``; ``last`` ends the response.

        A piece of a chunk that the engine streams has an edge that is not a seam: ``opens``
        is false where it continues the previous piece, ``closes`` where more of it follows,
        and no fade is put at such an edge.
        """
        x = np.asarray(chunk, dtype=np.float32).reshape(-1)
        span = self._speech_span(x)
        x = self._soften_edges(x, opens, closes)
        if span is None:
            # Bounded so a run of silent chunks cannot grow the buffer or the pause.
            self._gap = self._bound_gap(np.concatenate((self._gap, x)))
            out = np.zeros(0, dtype=np.float32)
        else:
            start, end = span
            gap = self._bound_gap(np.concatenate((self._gap, x[:start])))
            out = np.concatenate((gap, x[start:end]))
            self._started = True
            self._gap = self._cap(x[end:].copy(), self._max_pause)
        if last:
            if self._started:
                out = np.concatenate((out, self._keep_start(self._gap, self._tail)))
            self._reset()
        return out

    def _bound_gap(self, gap: FloatArray) -> FloatArray:
        """Cap a pause between speech, or trim the lead-in before the first speech."""
        return self._cap(gap, self._max_pause) if self._started else self._keep_end(gap, self._lead)

    def _speech_span(self, x: FloatArray) -> tuple[int, int] | None:
        """Return [start, end) from the first to the last window above the threshold."""
        n = x.size
        if n == 0:
            return None
        w = self._window
        windows = -(-n // w)
        power = np.zeros(windows * w, dtype=np.float32)
        power[:n] = x * x
        sums = power.reshape(windows, w).sum(axis=1)
        counts = np.full(windows, w, dtype=np.float32)
        counts[-1] = n - (windows - 1) * w
        loud = np.flatnonzero(sums / counts > self._power_threshold)
        if loud.size == 0:
            return None
        return int(loud[0]) * w, min(n, (int(loud[-1]) + 1) * w)

    def _soften_edges(self, x: FloatArray, opens: bool, closes: bool) -> FloatArray:
        """Fade in/out a chunk edge that does not start or end near zero."""
        if x.size == 0:
            return x
        fade_in = opens and abs(float(x[0])) > self._edge_threshold
        fade_out = closes and abs(float(x[-1])) > self._edge_threshold
        if not (fade_in or fade_out):
            return x
        x = x.copy()
        if fade_in:
            self._fade_in(x)
        if fade_out:
            self._fade_out(x)
        return x

    def _fade_in(self, x: FloatArray) -> None:
        n = min(self._ramp.size, x.size)
        x[:n] *= self._ramp[:n]

    def _fade_out(self, x: FloatArray) -> None:
        n = min(self._ramp.size, x.size)
        x[x.size - n :] *= self._ramp[:n][::-1]

    def _keep_end(self, x: FloatArray, n: int) -> FloatArray:
        """Keep the last ``n`` samples, fading in where the cut was made."""
        if x.size <= n:
            return x
        kept = x[x.size - n :].copy()
        self._fade_in(kept)
        return kept

    def _keep_start(self, x: FloatArray, n: int) -> FloatArray:
        """Keep the first ``n`` samples, fading out where the cut was made."""
        if x.size <= n:
            return x
        kept = x[:n].copy()
        self._fade_out(kept)
        return kept

    def _cap(self, x: FloatArray, n: int) -> FloatArray:
        """Shorten a pause to ``n`` samples by cutting out its middle."""
        if x.size <= n:
            return x
        # Keeping both ends preserves the decay of one sentence and the onset of the next.
        head = n // 2
        return np.concatenate((self._keep_start(x, head), self._keep_end(x, n - head)))
