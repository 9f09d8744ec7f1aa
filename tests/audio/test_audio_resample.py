import itertools

import numpy as np
import pytest
import soxr

from speaker.audio import StreamResampler


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize(("in_rate", "out_rate"), [(22050, 24000), (16000, 24000), (48000, 24000)])
def test_chunked_equals_whole(in_rate: int, out_rate: int) -> None:
    x = _noise(int(in_rate * 2.7))
    bounds = [0, 1, int(0.2 * in_rate), int(0.2 * in_rate) + 7, int(1.9 * in_rate), x.size]
    chunked = StreamResampler(in_rate, out_rate)
    parts = [chunked.process(x[a:b]) for a, b in itertools.pairwise(bounds)]
    parts.append(chunked.flush())
    y = np.concatenate(parts)

    whole = StreamResampler(in_rate, out_rate)
    z = np.concatenate([whole.process(x), whole.flush()])
    reference = soxr.resample(x, in_rate, out_rate)

    expected = x.size * out_rate / in_rate
    assert abs(y.size - expected) <= 2
    assert y.size == z.size == reference.size
    assert y.dtype == np.float32
    assert np.max(np.abs(y - z)) < 1e-5
    assert np.max(np.abs(y - reference)) < 1e-4


def test_preserves_tone_frequency() -> None:
    t = np.arange(22050) / 22050
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    r = StreamResampler(22050, 24000)
    y = np.concatenate([r.process(x[:5000]), r.process(x[5000:]), r.flush()])
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert abs(np.argmax(spectrum) * 24000 / y.size - 440) < 2


def test_equal_rates_pass_through_untouched() -> None:
    x = _noise(1000)
    r = StreamResampler(24000, 24000)
    y = r.process(x)
    np.testing.assert_array_equal(y, x)
    assert r.flush().size == 0


def test_empty_chunks_are_harmless() -> None:
    r = StreamResampler(22050, 24000)
    assert r.process(np.zeros(0, dtype=np.float32)).size == 0
    assert r.flush().size == 0


def test_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 24000)
