"""Reference audio for voice cloning: decode an upload, trim it to the speech, judge its quality.

Status codes for bad uploads, so clients can tell "send another format" from "send other audio":

* 415 ``unsupported_audio``: nothing FFmpeg recognises as audio (a text file, an image, random
  bytes), or a file with no audio track.
* 422 ``corrupt_audio``: an empty upload; a file whose first bytes name an audio container
  (``RIFF``, ``OggS``, ``fLaC``, ``ID3``, ``ftyp``, EBML, an MPEG sync word) but which FFmpeg
  cannot open, such as a WAV with a truncated header (random bytes that happen to begin with an
  MPEG sync word land here too); a file that stops decoding partway, such as an MP3 with a
  damaged stretch; one with no samples in it; or one that takes longer than
  ``DECODE_TIMEOUT_S`` to decode.
* 422 ``audio_too_long``, ``audio_too_short``, ``no_speech``: audio that decodes but is unusable.
"""

from __future__ import annotations

import io
import math
import time
import wave
from dataclasses import asdict, dataclass

import av
import av.logging
import numpy as np
import soxr
from av.audio.frame import AudioFrame
from faster_whisper.vad import VadOptions, get_speech_timestamps

from speaker.audio.encoder import to_int16
from speaker.engines.base import Samples
from speaker.errors import SpeakerError, UnprocessableError, UnsupportedMediaError

DEFAULT_PARAM = "audio_sample"
FORMATS = "wav, mp3, flac, ogg/opus, m4a/aac or webm"
# Wall-clock budget for one decode. Two minutes of any normal codec decode in well under a
# second, so running out means a pathological file; it is checked between frames.
DECODE_TIMEOUT_S = 10.0
# Beyond studio rates, a high rate only inflates memory (the limit is in seconds, not samples).
MAX_SAMPLE_RATE = 192_000

# Silero VAD runs at 16 kHz. Speech bursts under 250 ms (a click, a cough, a door) at either end
# do not count as the start or end of speech; gaps under 500 ms join segments.
_VAD_RATE = 16_000
_VAD_OPTIONS = VadOptions(
    threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=500, speech_pad_ms=0
)
# Silence kept around the speech so the first and last phonemes are not clipped.
_TRIM_PAD_S = 0.15

# Report thresholds. Frames of 20 ms resolve the pauses between words, whose quietest tenth is
# the background; speech itself sits around -20 dBFS in a well-levelled recording.
_FRAME_S = 0.02
_NOISE_PERCENTILE = 10.0
_DB_FLOOR = -100.0
_NEAR_FULL_SCALE = 0.98
_CLIPPING_WARN_RATIO = 0.001
_QUIET_DBFS = -35.0
_NOISY_SNR_DB = 20.0
_LOW_RATE = 16_000

# First bytes of the containers FFmpeg would read, so a broken one is reported as corrupt
# rather than as an unknown format.
_AUDIO_MAGIC = (b"RIFF", b"RF64", b"FORM", b"OggS", b"fLaC", b"ID3", b"\x1a\x45\xdf\xa3")

# PyAV installs a silent FFmpeg log callback unless told otherwise; pin that, so every bad upload
# does not write FFmpeg's complaints to stderr (the raised errors still say what failed).
av.logging.set_level(None)


@dataclass(frozen=True)
class QualityReport:
    """Measurements of a trimmed reference recording, with warnings a person can act on."""

    duration_s: float
    original_duration_s: float
    sample_rate: int
    channels: int
    rms_dbfs: float
    peak_dbfs: float
    clipping_ratio: float
    noise_dbfs: float
    snr_db: float
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready values."""
        body: dict[str, object] = asdict(self)
        body["warnings"] = list(self.warnings)
        return body


@dataclass(frozen=True)
class ReferenceAudio:
    """A reference recording ready for cloning: trimmed mono float32 at the target rate."""

    samples: Samples
    sample_rate: int
    report: QualityReport


class _TooLongError(Exception):
    """Decoding passed its limit; callers word the refusal for their own limit."""


def decode_audio(
    data: bytes, *, max_seconds: float = 120.0, param: str = DEFAULT_PARAM
) -> tuple[Samples, int, int]:
    """Decode any container PyAV reads to mono float32; returns (samples, sample_rate, channels)."""
    try:
        return _decode(data, max_seconds, param)
    except _TooLongError:
        raise UnprocessableError(
            f"the recording is longer than {max_seconds:g} seconds",
            code="audio_too_long",
            param=param,
            suggestion=f"upload at most {max_seconds:g} seconds of audio",
            extra={"max_seconds": max_seconds},
        ) from None


def prepare_reference(
    data: bytes,
    *,
    min_seconds: float = 3.0,
    max_seconds: float = 30.0,
    sample_rate: int = 24000,
    param: str = DEFAULT_PARAM,
) -> ReferenceAudio:
    """Decode, downmix, trim to the speech with Silero VAD, check its length and measure it."""
    suggestion = f"upload {min_seconds:g}–{max_seconds:g} seconds of one person speaking"
    # Leading and trailing silence is trimmed, so the file may be longer than the speech; past a
    # few times the limit no trimming could bring it under, and decoding on is wasted work.
    decode_limit = max(4.0 * max_seconds, 60.0)
    try:
        mono, upload_rate, channels = _decode(data, decode_limit, param)
    except _TooLongError:
        raise UnprocessableError(
            f"the recording is longer than {decode_limit:g} seconds; a voice reference needs "
            f"at most {max_seconds:g} seconds of speech",
            code="audio_too_long",
            param=param,
            suggestion=suggestion,
            extra={"max_seconds": max_seconds, "decode_limit_seconds": decode_limit},
        ) from None
    bounds = _speech_bounds(mono, upload_rate)
    if bounds is None:
        raise UnprocessableError(
            "no speech was found in the recording",
            code="no_speech",
            param=param,
            suggestion=suggestion,
            extra={"seconds": round(len(mono) / upload_rate, 3)},
        )
    clip = mono[bounds[0] : bounds[1]]
    seconds = round(len(clip) / upload_rate, 3)
    if seconds < min_seconds:
        raise UnprocessableError(
            f"the recording has only {seconds:.1f} seconds of speech; at least "
            f"{min_seconds:g} are needed",
            code="audio_too_short",
            param=param,
            suggestion=suggestion,
            extra={"seconds": seconds, "min_seconds": min_seconds},
        )
    if seconds > max_seconds:
        raise UnprocessableError(
            f"the recording has {seconds:.1f} seconds of speech; at most {max_seconds:g} "
            "are allowed",
            code="audio_too_long",
            param=param,
            suggestion=suggestion,
            extra={"seconds": seconds, "max_seconds": max_seconds},
        )
    report = _measure(clip, upload_rate, channels, original_samples=len(mono))
    samples = _resample(clip, upload_rate, sample_rate)
    # The resampling filter overshoots near full scale; the contract is [-1, 1].
    return ReferenceAudio(np.clip(samples, -1.0, 1.0), sample_rate, report)


def encode_wav(samples: Samples, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV, for storing a prepared reference."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(to_int16(samples).astype("<i2", copy=False).tobytes())
    return buffer.getvalue()


def _decode(data: bytes, limit_s: float, param: str) -> tuple[Samples, int, int]:
    if not data:
        raise UnprocessableError(
            "the uploaded audio file is empty",
            code="corrupt_audio",
            param=param,
            suggestion=f"upload a recording as {FORMATS}",
        )
    deadline = time.monotonic() + DECODE_TIMEOUT_S
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise _unreadable(data, param) from exc
    chunks: list[Samples] = []
    rate = channels = total = 0
    with container:
        if not container.streams.audio:
            raise UnsupportedMediaError(
                "the uploaded file has no audio track",
                code="unsupported_audio",
                param=param,
                suggestion=f"upload a recording as {FORMATS}",
                extra={"detected_format": container.format.name},
            )
        try:
            for frame in container.decode(container.streams.audio[0]):
                if not rate:
                    rate, channels = frame.sample_rate, frame.layout.nb_channels
                    if not 0 < rate <= MAX_SAMPLE_RATE:
                        raise UnsupportedMediaError(
                            f"a sample rate of {rate} Hz is not supported",
                            code="unsupported_audio",
                            param=param,
                            suggestion=f"upload audio at up to {MAX_SAMPLE_RATE} Hz",
                        )
                chunk = _to_mono(frame)
                # Chained Ogg streams may change rate midway; keep one rate for the whole file.
                if frame.sample_rate != rate:
                    chunk = _resample(chunk, frame.sample_rate, rate)
                chunks.append(chunk)
                total += len(chunk)
                if total > limit_s * rate:
                    raise _TooLongError
                if time.monotonic() > deadline:
                    raise _corrupt(f"decoding took longer than {DECODE_TIMEOUT_S:g} seconds", param)
        except av.FFmpegError as exc:
            raise _corrupt("the audio stops decoding partway", param) from exc
    if not total:
        raise _corrupt("the file holds no audio samples", param)
    mono = np.concatenate(chunks)
    # Float WAVs may carry NaN or values past full scale; the rest of the pipeline assumes neither.
    return np.clip(np.nan_to_num(mono, nan=0.0), -1.0, 1.0), rate, channels


def _to_mono(frame: AudioFrame) -> Samples:
    array = frame.to_ndarray()
    channels = frame.layout.nb_channels
    # Packed formats interleave channels in one row; planar ones give a row per channel.
    planes = array if frame.format.is_planar else array.reshape(-1, channels).T
    if planes.dtype.kind == "u":  # u8 is the only unsigned sample format, centred on 128
        scaled = (planes.astype(np.float32) - 128.0) / 128.0
    elif planes.dtype.kind == "i":
        scaled = planes.astype(np.float32) / float(2 ** (planes.dtype.itemsize * 8 - 1))
    else:
        scaled = planes.astype(np.float32)
    mono: Samples = scaled.mean(axis=0, dtype=np.float32)
    return mono


def _unreadable(data: bytes, param: str) -> SpeakerError:
    head = data[:12]
    looks_like_audio = (
        head.startswith(_AUDIO_MAGIC)
        or head[4:8] == b"ftyp"
        # An MPEG audio frame (MP3, or AAC in ADTS) starts with an 11-bit sync word.
        or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    )
    if looks_like_audio:
        return _corrupt("the audio file is damaged or truncated and cannot be read", param)
    return UnsupportedMediaError(
        "the uploaded file is not audio in a format Speaker can read",
        code="unsupported_audio",
        param=param,
        suggestion=f"upload a recording as {FORMATS}",
    )


def _corrupt(message: str, param: str) -> UnprocessableError:
    return UnprocessableError(
        message,
        code="corrupt_audio",
        param=param,
        suggestion=f"export the recording again as {FORMATS} and upload that file",
    )


def _resample(samples: Samples, in_rate: int, out_rate: int) -> Samples:
    if in_rate == out_rate:
        return samples
    out: Samples = soxr.resample(samples, in_rate, out_rate).astype(np.float32, copy=False)
    return out


def _speech_bounds(mono: Samples, rate: int) -> tuple[int, int] | None:
    """Sample indices (at `rate`) from the first to the last speech, padded; None if no speech."""
    if not np.any(mono):
        return None
    stamps = get_speech_timestamps(
        _resample(mono, rate, _VAD_RATE), _VAD_OPTIONS, sampling_rate=_VAD_RATE
    )
    if not stamps:
        return None
    start_s = stamps[0]["start"] / _VAD_RATE - _TRIM_PAD_S
    end_s = stamps[-1]["end"] / _VAD_RATE + _TRIM_PAD_S
    return max(0, round(start_s * rate)), min(len(mono), round(end_s * rate))


def _db(value: float) -> float:
    return max(_DB_FLOOR, 20.0 * math.log10(value)) if value > 0 else _DB_FLOOR


def _measure(clip: Samples, rate: int, channels: int, *, original_samples: int) -> QualityReport:
    magnitude = np.abs(clip)
    rms_dbfs = _db(float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)))))
    peak_dbfs = _db(float(magnitude.max()))
    clipping_ratio = float(np.mean(magnitude >= _NEAR_FULL_SCALE))
    frame = max(1, min(len(clip), round(_FRAME_S * rate)))
    usable = len(clip) // frame * frame
    frames = clip[:usable].reshape(-1, frame).astype(np.float64)
    frame_rms = np.sqrt(np.mean(np.square(frames), axis=1))
    noise_dbfs = _db(float(np.percentile(frame_rms, _NOISE_PERCENTILE)))
    snr_db = rms_dbfs - noise_dbfs
    warnings = []
    if rms_dbfs < _QUIET_DBFS:
        warnings.append(
            f"quiet recording ({rms_dbfs:.1f} dBFS): speak closer to the microphone "
            "or raise the input level"
        )
    if clipping_ratio > _CLIPPING_WARN_RATIO:
        warnings.append(
            f"clipping ({clipping_ratio:.2%} of samples at full scale): lower the input level"
        )
    if snr_db < _NOISY_SNR_DB:
        warnings.append(
            f"noisy background (signal-to-noise {snr_db:.1f} dB): record in a quieter place"
        )
    if rate < _LOW_RATE:
        warnings.append(
            f"low sample rate ({rate} Hz): the cloned voice may sound muffled; "
            f"record at {_LOW_RATE} Hz or more"
        )
    return QualityReport(
        duration_s=round(len(clip) / rate, 3),
        original_duration_s=round(original_samples / rate, 3),
        sample_rate=rate,
        channels=channels,
        rms_dbfs=round(rms_dbfs, 2),
        peak_dbfs=round(peak_dbfs, 2),
        clipping_ratio=round(clipping_ratio, 5),
        noise_dbfs=round(noise_dbfs, 2),
        snr_db=round(snr_db, 2),
        warnings=tuple(warnings),
    )
