import gc
import io
import itertools
import struct
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import soxr

from speaker.audio import OUTPUT_SAMPLE_RATE, AudioFormat, create_encoder, to_int16

SR = OUTPUT_SAMPLE_RATE
DURATION = 2.3
CODEC_FORMATS = [AudioFormat.MP3, AudioFormat.OPUS, AudioFormat.AAC, AudioFormat.FLAC]
FILE_FORMATS = [*CODEC_FORMATS, AudioFormat.WAV]


def _tone(seconds: float = DURATION, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    return (0.5 * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _encode_chunked(fmt: AudioFormat, x: np.ndarray) -> tuple[bytes, list[bytes]]:
    """Encode in uneven chunks the way a streamed response arrives."""
    cuts = np.cumsum([round(0.2 * SR), round(1.1 * SR), round(0.05 * SR)])
    encoder = create_encoder(fmt)
    parts = [encoder.encode(chunk) for chunk in np.split(x, cuts)]
    parts.append(encoder.finish())
    return b"".join(parts), parts


def _decode(data: bytes) -> tuple[np.ndarray, int, int]:
    """Return (mono samples, decoded rate, channel count) via PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels
        frames = [
            f.to_ndarray().astype(np.float64).reshape(channels, -1)
            for f in container.decode(stream)
        ]
        rate = stream.codec_context.sample_rate
    return np.concatenate([np.zeros((channels, 0)), *frames], axis=1)[0], rate, channels


def _mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """Walk MPEG audio frames after the ID3v2 tag: (sample rate, channels, offset) each."""
    assert data[:3] == b"ID3"
    size = 0
    for b in data[6:10]:
        size = (size << 7) | b
    pos = 10 + size
    mpeg2_l3_kbps = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    mpeg2_rates = [22050, 24000, 16000]
    frames = []
    while pos < len(data):
        (header,) = struct.unpack(">I", data[pos : pos + 4])
        assert header >> 21 == 0x7FF, f"lost MPEG sync at byte {pos}"
        assert (header >> 19) & 3 == 2, "not MPEG-2"
        assert (header >> 17) & 3 == 1, "not layer III"
        rate = mpeg2_rates[(header >> 10) & 3]
        bitrate = mpeg2_l3_kbps[(header >> 12) & 0xF] * 1000
        padding = (header >> 9) & 1
        channels = 1 if (header >> 6) & 3 == 3 else 2
        frames.append((rate, channels, pos))
        pos += 72 * bitrate // rate + padding
    assert pos == len(data)
    return frames


def _adts_frames(data: bytes) -> list[tuple[int, int]]:
    """Walk ADTS frames: (sampling frequency index, channel config) each."""
    pos = 0
    frames = []
    while pos < len(data):
        h = data[pos : pos + 7]
        assert (h[0] << 4) | (h[1] >> 4) == 0xFFF, f"lost ADTS sync at byte {pos}"
        freq_index = (h[2] >> 2) & 0xF
        channels = ((h[2] & 1) << 2) | (h[3] >> 6)
        length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
        frames.append((freq_index, channels))
        pos += length
    assert pos == len(data)
    return frames


def _ogg_pages(data: bytes) -> list[tuple[int, bytes]]:
    """Walk Ogg pages: (header type flags, payload) each."""
    pos = 0
    pages = []
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS", f"lost Ogg sync at byte {pos}"
        flags = data[pos + 5]
        nseg = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + nseg]
        start = pos + 27 + nseg
        end = start + sum(lacing)
        pages.append((flags, data[start:end]))
        pos = end
    assert pos == len(data)
    return pages


def _check_single_header(fmt: AudioFormat, data: bytes) -> None:
    if fmt is AudioFormat.MP3:
        frames = _mp3_frames(data)
        assert data.count(b"ID3") == 1
        assert b"Xing" not in data
        assert b"Info" not in data
        assert {(rate, ch) for rate, ch, _ in frames} == {(SR, 1)}
    elif fmt is AudioFormat.AAC:
        assert set(_adts_frames(data)) == {(6, 1)}  # index 6 is 24000 Hz
    elif fmt is AudioFormat.OPUS:
        pages = _ogg_pages(data)
        assert sum(flags & 0x02 for flags, _ in pages) == 2  # one beginning-of-stream page
        assert pages[-1][0] & 0x04  # end-of-stream on the last page only
        assert not any(flags & 0x04 for flags, _ in pages[:-1])
        assert data.count(b"OpusHead") == 1
        assert data.count(b"OpusTags") == 1
        head = pages[0][1]
        assert head[:8] == b"OpusHead"
        assert head[9] == 1  # channels
        assert struct.unpack("<I", head[12:16])[0] == SR  # declared input rate
    elif fmt is AudioFormat.FLAC:
        assert data[:4] == b"fLaC"
        assert data.count(b"fLaC") == 1
        info = int.from_bytes(data[18:21], "big")
        assert info >> 4 == SR
        assert ((info >> 1) & 7) + 1 == 1
    elif fmt is AudioFormat.WAV:
        assert data[:4] == b"RIFF"
        assert data.count(b"RIFF") == 1
        assert data.count(b"WAVE") == 1
    else:
        pytest.fail(f"no header check for {fmt}")


def _dominant_frequency(y: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum)) * rate / y.size


def _best_correlation(x: np.ndarray, y: np.ndarray, max_lag: int = 3000) -> float:
    """Peak normalized correlation of y against x over decoder delays 0..max_lag."""
    n = x.size
    best = 0.0
    for lag in range(max_lag + 1):
        seg = y[lag : lag + n]
        if seg.size < n - max_lag:
            break
        m = seg.size
        c = float(np.dot(x[:m], seg) / (np.linalg.norm(x[:m]) * np.linalg.norm(seg) + 1e-12))
        best = max(best, c)
    return best


@pytest.mark.parametrize("fmt", FILE_FORMATS, ids=str)
def test_streamed_file_decodes_as_one_file(fmt: AudioFormat) -> None:
    x = _tone()
    data, parts = _encode_chunked(fmt, x)
    assert len(parts) == 5
    _check_single_header(fmt, data)

    y, rate, channels = _decode(data)
    assert channels == 1
    # FFmpeg always decodes Opus at 48 kHz; the stream's own rate is checked in the header.
    assert rate == (48000 if fmt is AudioFormat.OPUS else SR)
    assert abs(y.size / rate - x.size / SR) < 0.1
    assert abs(_dominant_frequency(y, rate) - 440) < 3
    y24 = soxr.resample(y, rate, SR) if rate != SR else y
    assert _best_correlation(x.astype(np.float64), y24) > 0.97


@pytest.mark.parametrize("fmt", CODEC_FORMATS, ids=str)
def test_audio_is_playable_as_soon_as_it_is_encoded(fmt: AudioFormat) -> None:
    # Nothing may sit in a muxer or I/O buffer while the engine works on the next chunk.
    encoder = create_encoder(fmt)
    sent = b""
    for i, chunk in enumerate(np.split(_tone(2.0), 4), start=1):
        sent += encoder.encode(chunk)
        y, rate, _ = _decode(sent)
        assert i * 0.5 - y.size / rate < 0.15


def test_pcm_is_exact_s16le() -> None:
    x = np.array([0.0, 0.25, -0.25, 1.0, -1.0, 2.0, -3.0, np.nan, 1e-5], dtype=np.float32)
    encoder = create_encoder(AudioFormat.PCM)
    data = encoder.encode(x[:4]) + encoder.encode(x[4:]) + encoder.finish()
    assert len(data) == 2 * x.size
    assert data == struct.pack("<9h", 0, 8192, -8192, 32767, -32767, 32767, -32767, 0, 0)


def test_pcm_length_and_values_for_a_long_signal() -> None:
    x = _tone()
    data, _ = _encode_chunked(AudioFormat.PCM, x)
    assert len(data) == 2 * x.size
    decoded = np.frombuffer(data, dtype="<i2")
    np.testing.assert_array_equal(decoded, np.rint(x * 32767).astype(np.int16))


def test_to_int16_clips_and_rounds() -> None:
    out = to_int16(np.array([0.5, 1.5, -1.5, 0.00002], dtype=np.float32))
    assert out.dtype == np.int16
    assert out.tolist() == [16384, 32767, -32767, 1]


def test_wav_header_is_streaming_pcm() -> None:
    data, _ = _encode_chunked(AudioFormat.WAV, _tone())
    fields = struct.unpack("<4sI4s4sIHHIIHH4sI", data[:44])
    assert fields == (
        b"RIFF",
        0xFFFFFFFF,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        SR,
        2 * SR,
        2,
        16,
        b"data",
        0xFFFFFFFF,
    )


def test_wav_reads_fully_with_wave_module(tmp_path: Path) -> None:
    x = _tone()
    data, _ = _encode_chunked(AudioFormat.WAV, x)
    expected = np.rint(x * 32767).astype(np.int16)
    path = tmp_path / "out.wav"
    path.write_bytes(data)
    for source in (io.BytesIO(data), str(path)):
        with wave.open(source) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SR)
            first = w.readframes(1000)
            rest = w.readframes(w.getnframes())
            assert w.readframes(10) == b""
        got = np.frombuffer(first + rest, dtype="<i2")
        np.testing.assert_array_equal(got, expected)


def test_wav_decodes_exactly_with_pyav() -> None:
    x = _tone()
    data, _ = _encode_chunked(AudioFormat.WAV, x)
    y, rate, channels = _decode(data)
    assert (rate, channels) == (SR, 1)
    np.testing.assert_array_equal(np.rint(y), np.rint(x * 32767))


def test_flac_is_lossless() -> None:
    x = _tone()
    data, _ = _encode_chunked(AudioFormat.FLAC, x)
    y, _, _ = _decode(data)
    np.testing.assert_array_equal(y, to_int16(x).astype(np.float64))


@pytest.mark.parametrize("fmt", list(AudioFormat), ids=str)
def test_zero_audio_response_is_valid(fmt: AudioFormat) -> None:
    encoder = create_encoder(fmt)
    data = encoder.encode(np.zeros(0, dtype=np.float32)) + encoder.finish()
    assert encoder.finish() == b""
    if fmt is AudioFormat.PCM:
        assert data == b""
        return
    _check_single_header(fmt, data)
    y, _, channels = _decode(data)
    assert channels == 1
    assert np.max(np.abs(y), initial=0.0) < 1e-3
    assert y.size / SR < 0.1


@pytest.mark.parametrize("fmt", list(AudioFormat), ids=str)
def test_encode_after_finish_is_an_error(fmt: AudioFormat) -> None:
    encoder = create_encoder(fmt)
    encoder.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        encoder.encode(np.zeros(10, dtype=np.float32))


@pytest.mark.parametrize("fmt", CODEC_FORMATS, ids=str)
def test_abandoned_encoder_is_released_quietly(fmt: AudioFormat) -> None:
    # A client that disconnects mid-stream leaves an encoder that is never finished.
    encoder = create_encoder(fmt)
    assert encoder.encode(_tone(0.3))
    del encoder
    gc.collect()


@pytest.mark.parametrize("fmt", CODEC_FORMATS, ids=str)
def test_tiny_chunks_keep_timestamps_monotonic(fmt: AudioFormat) -> None:
    x = _tone(1.0)
    encoder = create_encoder(fmt)
    data = b"".join(encoder.encode(c) for c in np.array_split(x, 97)) + encoder.finish()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        pts = [p.pts for p in container.demux(stream) if p.pts is not None]
    assert len(pts) > 10
    assert all(b > a for a, b in itertools.pairwise(pts))
    y, rate, _ = _decode(data)
    assert abs(y.size / rate - 1.0) < 0.1
