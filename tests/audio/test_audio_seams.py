import numpy as np
import pytest

from speaker.audio import SeamSmoother

SR = 22050
LOUD = 0.01  # well above the -45 dBFS silence threshold, well below the tone's level


def _silence(seconds: float, seed: int = 0) -> np.ndarray:
    # A faint noise floor, like a neural vocoder's "silence", rather than digital zero.
    rng = np.random.default_rng(seed)
    return (1e-4 * rng.standard_normal(round(seconds * SR))).astype(np.float32)


def _burst(seconds: float, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    """A speech-like tone burst that starts and ends at zero."""
    n = round(seconds * SR)
    t = np.arange(n) / SR
    envelope = np.sin(np.pi * np.arange(n) / n) ** 0.3
    return (amp * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _cat(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32)


def _run(smoother: SeamSmoother, chunks: list[np.ndarray]) -> np.ndarray:
    out = [smoother.process(c, last=i == len(chunks) - 1) for i, c in enumerate(chunks)]
    return np.concatenate(out)


def _loud_runs(y: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each stretch of the signal above LOUD, merging gaps under 20 ms."""
    idx = np.flatnonzero(np.abs(y) > LOUD)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 0.02 * SR)
    starts = [idx[0], *idx[breaks + 1]]
    ends = [*(idx[breaks] + 1), idx[-1] + 1]
    return list(zip(starts, ends, strict=True))


@pytest.mark.parametrize("max_pause", [0.25, 0.1, 0.4])
def test_long_join_is_capped(max_pause: float) -> None:
    a = _cat(_burst(0.4), _silence(1.0))
    b = _cat(_silence(0.5, seed=1), _burst(0.3))
    y = _run(SeamSmoother(SR, max_pause_s=max_pause), [a, b])
    runs = _loud_runs(y)
    assert len(runs) == 2
    pause = (runs[1][0] - runs[0][1]) / SR
    # The speech-detection windows (10 ms) may keep a little quiet audio on each side.
    assert max_pause - 0.005 <= pause <= max_pause + 0.03


def test_join_over_silent_chunks_is_capped() -> None:
    chunks = [_cat(_burst(0.3), _silence(0.4)), _silence(0.7), _silence(0.0), _silence(0.6)]
    chunks.append(_cat(_silence(0.3), _burst(0.3)))
    y = _run(SeamSmoother(SR, max_pause_s=0.25), chunks)
    runs = _loud_runs(y)
    assert len(runs) == 2
    assert (runs[1][0] - runs[0][1]) / SR <= 0.28


def test_short_joins_pass_through_unchanged() -> None:
    chunks = [
        _cat(_silence(0.03), _burst(0.4), _silence(0.1)),
        _cat(_silence(0.08, seed=2), _burst(0.3), _silence(0.05)),
    ]
    y = _run(SeamSmoother(SR), chunks)
    np.testing.assert_array_equal(y, np.concatenate(chunks))


def test_lead_and_tail_are_trimmed() -> None:
    chunks = [_cat(_silence(2.0), _burst(0.5)), _cat(_burst(0.5), _silence(3.0))]
    y = _run(SeamSmoother(SR, lead_s=0.05, tail_s=0.1), chunks)
    runs = _loud_runs(y)
    assert runs[0][0] / SR <= 0.05 + 0.011
    assert (y.size - runs[-1][1]) / SR <= 0.1 + 0.011
    assert y.size / SR < 1.0 + 0.05 + 0.1 + 0.03


def test_leading_silent_chunks_are_trimmed_too() -> None:
    chunks = [_silence(1.0), _silence(1.0, seed=3), _cat(_silence(0.2), _burst(0.3))]
    y = _run(SeamSmoother(SR, lead_s=0.05), chunks)
    assert _loud_runs(y)[0][0] / SR <= 0.061


def test_speech_is_never_removed() -> None:
    chunks = [
        _cat(_silence(0.7), _burst(0.31), _silence(0.6), _burst(0.2, freq=330), _silence(1.2)),
        _silence(0.4),
        _cat(_silence(0.9), _burst(0.05, freq=500), _silence(0.02), _burst(0.4)),
        _cat(_burst(0.25, freq=180), _silence(0.8)),
    ]
    x = np.concatenate(chunks)
    y = _run(SeamSmoother(SR), chunks)
    # Every loud sample survives, in order and bit for bit: only silence was cut.
    np.testing.assert_array_equal(y[np.abs(y) > LOUD], x[np.abs(x) > LOUD])
    assert y.size < x.size


def test_no_clicks_where_chunks_are_cut_mid_waveform() -> None:
    tone = _burst(1.0, amp=0.8)
    # The engine hands over chunks that start and end at full amplitude.
    chunks = [tone[:7000], -tone[3000:9000], tone[5000:12000]]
    y = _run(SeamSmoother(SR), chunks)
    natural = np.max(np.abs(np.diff(tone)))
    assert np.max(np.abs(np.diff(y))) < natural * 1.3
    assert abs(float(y[0])) < 1e-3
    assert abs(float(y[-1])) < 1e-3


def test_no_clicks_where_pauses_are_cut() -> None:
    # A louder noise floor (about -52 dBFS) makes any step at a cut point measurable.
    rng = np.random.default_rng(5)
    floor = (0.0025 * np.sin(2 * np.pi * 150 * np.arange(SR * 2) / SR)).astype(np.float32)
    floor += (2e-4 * rng.standard_normal(floor.size)).astype(np.float32)
    chunks = [_cat(_burst(0.3), floor[:SR]), _cat(floor[SR // 3 :], _burst(0.3))]
    y = _run(SeamSmoother(SR, max_pause_s=0.2), chunks)
    runs = _loud_runs(y)
    gap = y[runs[0][1] : runs[1][0]]
    assert gap.size < 0.25 * SR
    # Away from the bursts' own slopes; the cut sits in the middle of the pause.
    gap = gap[round(0.03 * SR) : -round(0.03 * SR)]
    natural = np.max(np.abs(np.diff(floor)))
    assert np.max(np.abs(np.diff(gap))) < natural * 1.5


def test_all_silent_response_yields_nothing() -> None:
    smoother = SeamSmoother(SR)
    assert smoother.process(_silence(0.5), last=False).size == 0
    assert smoother.process(np.zeros(0, dtype=np.float32), last=True).size == 0


def test_trailing_silence_is_held_until_the_next_chunk() -> None:
    smoother = SeamSmoother(SR)
    first = smoother.process(_cat(_burst(0.3), _silence(0.5)), last=False)
    assert first.size / SR < 0.32
    rest = smoother.process(_burst(0.2), last=True)
    # Burst, pause capped at the default 0.25 s, burst: the held silence came out capped.
    assert abs((first.size + rest.size) / SR - (0.3 + 0.25 + 0.2)) < 0.015


def test_state_resets_after_last_chunk() -> None:
    smoother = SeamSmoother(SR)
    chunks = [_cat(_silence(0.5), _burst(0.3), _silence(0.5))]
    first = _run(smoother, chunks)
    second = _run(smoother, chunks)
    np.testing.assert_array_equal(first, second)


def test_output_is_float32() -> None:
    y = SeamSmoother(SR).process(np.array([0.0, 0.5, 0.0]), last=True)
    assert y.dtype == np.float32


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        SeamSmoother(0)
    with pytest.raises(ValueError, match="non-negative"):
        SeamSmoother(SR, max_pause_s=-1.0)
