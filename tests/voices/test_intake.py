"""Reference-audio intake with real Piper speech encoded by FFmpeg into every accepted format."""

from __future__ import annotations

import io
import json
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import numpy as np
import pytest
import soxr

from speaker.engines.base import SynthesisParams
from speaker.engines.piper import PiperEngine
from speaker.errors import SpeakerError, UnprocessableError, UnsupportedMediaError
from speaker.voices import intake
from speaker.voices.intake import ReferenceAudio, decode_audio, encode_wav, prepare_reference

TEXT = (
    "The quick brown fox jumps over the lazy dog. A reference recording should be clear, "
    "steady, and spoken by one person in a quiet room."
)
# prepare_reference keeps this much silence on each side of the speech.
TRIM_PAD_S = 0.15
LEAD_S, TAIL_S = 1.5, 2.0
VOICED = 0.02

# (test id, container, codec, encoding rate or None for the speech's own rate)
FORMATS = [
    ("wav", "wav", "pcm_s16le", None),
    ("mp3", "mp3", "libmp3lame", None),
    ("flac", "flac", "flac", None),
    ("ogg-opus", "ogg", "libopus", 48000),
    ("m4a-aac", "ipod", "aac", None),
    ("webm-opus", "webm", "libopus", 48000),
]


@dataclass(frozen=True)
class Speech:
    """Piper speech, its voiced length, and a padded copy as a person's recording would be."""

    samples: np.ndarray
    rate: int
    voiced_s: float
    padded: np.ndarray


def pad(samples: np.ndarray, rate: int, noise: float = 0.001, seed: int = 0) -> np.ndarray:
    """Silence before and after, and a noise floor throughout (-60 dBFS by default)."""
    lead, tail = np.zeros(round(LEAD_S * rate)), np.zeros(round(TAIL_S * rate))
    padded = np.concatenate([lead, samples, tail])
    return (padded + np.random.default_rng(seed).normal(0, noise, len(padded))).astype(np.float32)


def voiced_span(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Seconds from the start to the first and to the last sample above the voiced level."""
    loud = np.flatnonzero(np.abs(samples) > VOICED)
    return loud[0] / rate, loud[-1] / rate


def encode(
    samples: np.ndarray, rate: int, fmt: str, codec: str, out_rate: int | None = None
) -> bytes:
    """Encode float audio (one row per channel) with FFmpeg, as a person's recorder would."""
    planes = np.atleast_2d(samples).astype(np.float32)
    out_rate = out_rate or rate
    if out_rate != rate:
        planes = np.stack([soxr.resample(p, rate, out_rate) for p in planes]).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        layout = "stereo" if len(planes) == 2 else "mono"
        stream = container.add_stream(codec, rate=out_rate, layout=layout)
        for start in range(0, planes.shape[1], 1024):
            part = np.ascontiguousarray(planes[:, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(part, format="fltp", layout=layout)
            frame.sample_rate = out_rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def plain_wav(samples: np.ndarray, rate: int) -> bytes:
    """A 16-bit WAV written by the standard library: the canonical 44-byte header."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def speech() -> Speech:
    engine = PiperEngine()
    engine.load()
    audio = engine.open_session().synthesize(TEXT, "en_US-joe-medium", SynthesisParams())
    engine.close()
    # Piper peaks at full scale on this sentence; a real reference has some headroom.
    samples = audio.samples * np.float32(0.7)
    first, last = voiced_span(samples, audio.sample_rate)
    return Speech(samples, audio.sample_rate, last - first, pad(samples, audio.sample_rate))


@pytest.fixture(scope="module")
def uploads(speech: Speech) -> dict[str, bytes]:
    return {name: encode(speech.padded, speech.rate, *spec) for name, *spec in FORMATS}


@pytest.fixture(scope="module")
def reference(uploads: dict[str, bytes]) -> ReferenceAudio:
    return prepare_reference(uploads["wav"])


def refusal(data: bytes, param: str = "audio_sample") -> SpeakerError:
    """The error prepare_reference raises for an upload, checked for what every refusal needs."""
    with pytest.raises(SpeakerError) as caught:
        prepare_reference(data, param=param)
    error = caught.value
    assert error.message
    assert error.suggestion
    assert error.to_dict()["error"]["code"] == error.code
    return error


@pytest.mark.parametrize(("name", "out_rate"), [(f[0], f[3]) for f in FORMATS])
def test_every_format_decodes_and_trims_to_the_speech(
    speech: Speech, uploads: dict[str, bytes], name: str, out_rate: int | None
) -> None:
    ref = prepare_reference(uploads[name])
    assert ref.sample_rate == 24000
    assert ref.samples.dtype == np.float32
    assert ref.samples.ndim == 1
    assert float(np.abs(ref.samples).max()) <= 1.0
    seconds = len(ref.samples) / 24000
    assert seconds == pytest.approx(ref.report.duration_s, abs=0.01)
    assert seconds == pytest.approx(speech.voiced_s + 2 * TRIM_PAD_S, abs=0.3)
    # The leading 1.5 s of silence is gone: speech starts right after the kept padding.
    first, _ = voiced_span(ref.samples, 24000)
    assert first == pytest.approx(TRIM_PAD_S, abs=0.15)
    report = ref.report
    assert report.sample_rate == (out_rate or speech.rate)
    assert report.channels == 1
    assert report.original_duration_s == pytest.approx(len(speech.padded) / speech.rate, abs=0.1)
    assert report.warnings == ()
    assert report.snr_db > 30
    assert -25 < report.rms_dbfs < -15


@pytest.mark.parametrize(
    ("fmt", "codec", "out_rate"), [("ipod", "aac", None), ("webm", "libopus", 48000)]
)
def test_stereo_uploads_become_mono(
    speech: Speech, fmt: str, codec: str, out_rate: int | None
) -> None:
    stereo = np.stack([speech.padded, speech.padded * 0.5])
    ref = prepare_reference(encode(stereo, speech.rate, fmt, codec, out_rate))
    assert ref.samples.ndim == 1
    assert ref.report.channels == 2
    assert len(ref.samples) / 24000 == pytest.approx(speech.voiced_s + 2 * TRIM_PAD_S, abs=0.3)


def test_decode_audio_averages_channels_at_the_upload_rate(speech: Speech) -> None:
    stereo = np.stack([speech.padded, speech.padded * 0.5])
    samples, rate, channels = decode_audio(encode(stereo, speech.rate, "flac", "flac"))
    assert (rate, channels) == (speech.rate, 2)
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, 0.75 * speech.padded, atol=2e-4)


def test_decode_audio_refuses_audio_past_its_limit(uploads: dict[str, bytes]) -> None:
    with pytest.raises(UnprocessableError) as caught:
        decode_audio(uploads["mp3"], max_seconds=5, param="sample")
    assert caught.value.code == "audio_too_long"
    assert caught.value.param == "sample"
    assert caught.value.extra == {"max_seconds": 5}


@pytest.fixture(scope="module")
def unreadable(speech: Speech, uploads: dict[str, bytes]) -> dict[str, bytes]:
    wav = plain_wav(speech.padded, speech.rate)
    mp3 = bytearray(uploads["mp3"])
    mp3[len(mp3) // 3 : len(mp3) // 3 + 2000] = np.random.default_rng(5).bytes(2000)
    return {
        "empty": b"",
        "text": b"This is a note, not a recording.\n" * 40,
        "truncated wav header": wav[:30],
        "wav header without samples": wav[:44],
        # Seeded so they do not start with an MPEG sync word (1 in ~2000 do; those read as a
        # damaged MP3, 422).
        "random bytes": np.random.default_rng(2).bytes(40_000),
        "png image": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        "damaged mp3": bytes(mp3),
        "384 kHz wav": plain_wav(np.zeros(384_000), 384_000),
    }


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("empty", 422, "corrupt_audio"),
        ("text", 415, "unsupported_audio"),
        ("truncated wav header", 422, "corrupt_audio"),
        ("wav header without samples", 422, "corrupt_audio"),
        ("random bytes", 415, "unsupported_audio"),
        ("png image", 415, "unsupported_audio"),
        ("damaged mp3", 422, "corrupt_audio"),
        ("384 kHz wav", 415, "unsupported_audio"),
    ],
)
def test_unreadable_uploads_are_refused(
    unreadable: dict[str, bytes],
    capfd: pytest.CaptureFixture[str],
    name: str,
    status: int,
    code: str,
) -> None:
    data = unreadable[name]
    capfd.readouterr()
    error = refusal(data, param="reference_audio")
    assert (error.status_code, error.code) == (status, code)
    assert isinstance(error, UnsupportedMediaError if status == 415 else UnprocessableError)
    assert error.param == "reference_audio"
    # FFmpeg's complaints about the file must not reach the server's output.
    assert capfd.readouterr() == ("", "")


def test_silence_and_noise_have_no_speech(speech: Speech) -> None:
    silence = refusal(plain_wav(np.zeros(5 * speech.rate), speech.rate))
    hiss = np.random.default_rng(2).normal(0, 0.01, 5 * speech.rate)
    noise = refusal(plain_wav(hiss, speech.rate))
    for error in (silence, noise):
        assert (error.status_code, error.code) == (422, "no_speech")
        assert error.extra["seconds"] == pytest.approx(5.0)


def test_short_speech_is_too_short(speech: Speech) -> None:
    data = encode(
        pad(speech.samples[: round(1.5 * speech.rate)], speech.rate), speech.rate, "flac", "flac"
    )
    error = refusal(data)
    assert (error.status_code, error.code) == (422, "audio_too_short")
    assert error.extra["min_seconds"] == 3.0
    assert 1.2 < error.extra["seconds"] < 2.1
    assert "3–30 seconds" in (error.suggestion or "")


def test_long_speech_is_too_long(speech: Speech) -> None:
    data = plain_wav(pad(np.tile(speech.samples, 6), speech.rate), speech.rate)
    error = refusal(data)
    assert (error.status_code, error.code) == (422, "audio_too_long")
    assert error.extra["max_seconds"] == 30.0
    assert error.extra["seconds"] == pytest.approx(6 * len(speech.samples) / speech.rate, abs=0.5)


def test_two_minutes_of_speech_stop_decoding_early(speech: Speech) -> None:
    repeats = int(127 * speech.rate / len(speech.samples)) + 1
    data = encode(np.tile(speech.samples, repeats), speech.rate, "flac", "flac")
    started = time.perf_counter()
    error = refusal(data)
    elapsed = time.perf_counter() - started
    assert (error.status_code, error.code) == (422, "audio_too_long")
    # Refused at the decoding limit, before any trimming ran.
    assert error.extra == {"max_seconds": 30.0, "decode_limit_seconds": 120.0}
    assert elapsed < 1.5


def test_decoding_is_time_bounded(speech: Speech, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "DECODE_TIMEOUT_S", 0.0)
    error = refusal(plain_wav(speech.padded, speech.rate))
    assert (error.status_code, error.code) == (422, "corrupt_audio")
    assert "longer than" in error.message


def test_clipping_noise_and_level_show_in_the_report(
    speech: Speech, reference: ReferenceAudio
) -> None:
    clean = reference.report
    clipped = prepare_reference(
        plain_wav(pad(np.clip(speech.samples * 4, -1, 1), speech.rate), speech.rate)
    ).report
    noisy = prepare_reference(
        plain_wav(pad(speech.samples, speech.rate, noise=0.03), speech.rate)
    ).report
    quiet = prepare_reference(
        plain_wav(pad(speech.samples * 0.015, speech.rate, noise=0.0001), speech.rate)
    ).report
    narrow = prepare_reference(
        plain_wav(soxr.resample(speech.padded, speech.rate, 8000), 8000)
    ).report

    assert clean.clipping_ratio < 0.001
    assert clean.noise_dbfs == pytest.approx(-60, abs=3)
    assert clipped.clipping_ratio > 0.02
    assert clipped.peak_dbfs == pytest.approx(0, abs=0.01)
    assert noisy.noise_dbfs == pytest.approx(-30, abs=3)
    assert noisy.snr_db < 15
    assert quiet.rms_dbfs < -45
    assert narrow.sample_rate == 8000

    def kinds(warnings: tuple[str, ...]) -> set[str]:
        return {w.split(" (")[0] for w in warnings}

    assert kinds(clean.warnings) == set()
    assert kinds(clipped.warnings) == {"clipping"}
    assert kinds(noisy.warnings) == {"noisy background"}
    assert kinds(quiet.warnings) == {"quiet recording"}
    assert kinds(narrow.warnings) == {"low sample rate"}


def test_report_is_json(reference: ReferenceAudio) -> None:
    body = json.loads(json.dumps(reference.report.to_dict()))
    assert body["duration_s"] == reference.report.duration_s
    assert body["warnings"] == []
    assert set(body) >= {"rms_dbfs", "peak_dbfs", "clipping_ratio", "noise_dbfs", "snr_db"}


def test_encode_wav_round_trips(reference: ReferenceAudio) -> None:
    data = encode_wav(reference.samples, reference.sample_rate)
    with wave.open(io.BytesIO(data)) as stored:
        assert (stored.getnchannels(), stored.getsampwidth()) == (1, 2)
        assert stored.getframerate() == 24000
    samples, rate, channels = decode_audio(data)
    assert (rate, channels) == (24000, 1)
    # Stored as int16: one step of 1/32767, read back as n/32768.
    np.testing.assert_allclose(samples, reference.samples, atol=1e-4)


def test_concurrent_uploads_decode_independently(uploads: dict[str, bytes]) -> None:
    files = list(uploads.values())
    alone = [prepare_reference(data).report for data in files]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda data: prepare_reference(data).report, files * 2))
    assert together == alone * 2
