"""Streaming encoders that turn float PCM chunks into one continuous file per response."""

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream

from speaker.audio.formats import OUTPUT_SAMPLE_RATE, AudioFormat

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float32]

# Length fields of a WAV whose size is unknown when the header goes out; see _wav_header.
_WAV_UNKNOWN_SIZE = 0xFFFFFFFF


def to_int16(samples: npt.ArrayLike) -> Int16Array:
    """Convert float samples in [-1, 1] to int16, clipping out-of-range values."""
    x = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    # Scaling by 32767 keeps +1.0 representable; 32768 would wrap it to -32768.
    out: Int16Array = np.rint(x * 32767.0).astype(np.int16)
    return out


def _as_mono_float(pcm: npt.ArrayLike) -> FloatArray:
    x = np.asarray(pcm, dtype=np.float32).reshape(-1)
    # A NaN from the model would become an arbitrary int16 or poison a codec's filter state.
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)


class StreamEncoder(ABC):
    """Encodes one response: call ``encode`` per chunk, then ``finish`` once."""

    @abstractmethod
    def encode(self, pcm: npt.ArrayLike) -> bytes:
        """Take float32 mono samples in [-1, 1]; return the bytes that are ready (maybe b"")."""

    @abstractmethod
    def finish(self) -> bytes:
        """Flush buffered audio and return the remaining bytes, trailer included."""


class _PcmEncoder(StreamEncoder):
    """Raw little-endian s16 with no header."""

    def __init__(self) -> None:
        self._finished = False

    def encode(self, pcm: npt.ArrayLike) -> bytes:
        """Return the chunk as s16le bytes."""
        if self._finished:
            raise RuntimeError("encode() called after finish()")
        # The wire format is little-endian whatever the host's byte order.
        return to_int16(_as_mono_float(pcm)).astype("<i2", copy=False).tobytes()

    def finish(self) -> bytes:
        """Return nothing: raw PCM has no trailer."""
        self._finished = True
        return b""


def _wav_header(sample_rate: int) -> bytes:
    """Build a 44-byte PCM s16 mono WAVE header for a stream of unknown length."""
    # 0xFFFFFFFF is what ffmpeg writes to a pipe and what browsers, ffmpeg and libsndfile read
    # as "until end of file". Python's wave module takes it literally as ~2**31 frames, yet its
    # reads stop at end of file, so readframes() still returns exactly the audio that is there.
    # 0 would make wave (and some players) treat the file as empty.
    channels, bits = 1, 16
    block_align = channels * bits // 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        _WAV_UNKNOWN_SIZE,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        sample_rate,
        sample_rate * block_align,
        block_align,
        bits,
        b"data",
        _WAV_UNKNOWN_SIZE,
    )


class _WavEncoder(_PcmEncoder):
    """s16 PCM behind a streaming RIFF/WAVE header."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self._header = _wav_header(sample_rate)

    def encode(self, pcm: npt.ArrayLike) -> bytes:
        """Return the header (first call only) followed by the chunk as s16le bytes."""
        data = super().encode(pcm)
        header, self._header = self._header, b""
        return header + data

    def finish(self) -> bytes:
        """Return the header if no audio was ever encoded, so the file is still valid."""
        super().finish()
        header, self._header = self._header, b""
        return header


class _Sink:
    """Write-only byte buffer that PyAV sees as a pipe."""

    # Without seek()/tell() PyAV registers the output as non-seekable, so no muxer goes back to
    # patch a header (FLAC STREAMINFO, MP3 Xing) into bytes that have already been sent.

    def __init__(self) -> None:
        self._buf = bytearray()

    def write(self, data: bytes) -> int:
        """Append muxer output."""
        self._buf += data
        return len(data)

    def drain(self) -> bytes:
        """Return and forget everything written so far."""
        out = bytes(self._buf)
        self._buf.clear()
        return out


@dataclass(frozen=True)
class _CodecSpec:
    muxer: str
    codec: str
    sample_format: str
    bit_rate: int | None = None
    codec_options: dict[str, str] = field(default_factory=dict)
    muxer_options: dict[str, str] = field(default_factory=dict)


_CODECS: dict[AudioFormat, _CodecSpec] = {
    # LAME's default -q 3 takes ~2x the CPU of -q 5 with no audible gain for speech at 128k.
    AudioFormat.MP3: _CodecSpec("mp3", "libmp3lame", "fltp", 128_000, {"compression_level": "5"}),
    AudioFormat.OPUS: _CodecSpec(
        "ogg",
        "libopus",
        "flt",
        32_000,
        # Complexity 10 (the default) costs ~3x the CPU of 5 for no audible gain on speech.
        codec_options={"compression_level": "5"},
        # Ogg collects a full second per page by default, which would hold audio back from the
        # client; 100 ms pages cost ~0.3 kbit/s of page headers.
        muxer_options={"page_duration": "100000"},
    ),
    # ADTS repeats a tiny header per frame and needs no moov atom, so it can be streamed.
    # The "fast" coder is ~5x quicker than the default two-loop search at similar quality.
    AudioFormat.AAC: _CodecSpec("adts", "aac", "fltp", 64_000, {"aac_coder": "fast"}),
    # The 8 KiB PADDING block only serves in-place tag edits, which a stream never gets.
    AudioFormat.FLAC: _CodecSpec(
        "flac", "flac", "s16", muxer_options={"metadata_header_padding": "0"}
    ),
}


class _AvEncoder(StreamEncoder):
    """A PyAV codec and muxer writing into a non-seekable sink that is drained per call."""

    def __init__(self, spec: _CodecSpec, sample_rate: int) -> None:
        self._spec = spec
        self._rate = sample_rate
        self._time_base = Fraction(1, sample_rate)
        self._sink = _Sink()
        self._container = av.open(
            self._sink,
            mode="w",
            format=spec.muxer,
            # FFmpeg's "auto" already flushes per packet on non-seekable output; pinned so audio
            # can never wait in PyAV's 32 KiB I/O buffer while the engine works on the next chunk.
            container_options={"flush_packets": "1", **spec.muxer_options},
        )
        # Every codec in _CODECS is an audio codec, which is all the cast asserts.
        self._stream = cast(
            AudioStream,
            self._container.add_stream(
                spec.codec, rate=sample_rate, options=dict(spec.codec_options)
            ),
        )
        self._stream.layout = "mono"
        self._stream.format = spec.sample_format
        if spec.bit_rate is not None:
            self._stream.bit_rate = spec.bit_rate
        # Opens the codec (which fixes frame_size) and writes the one container header.
        self._container.start_encoding()
        frame_size = self._stream.codec_context.frame_size
        # frame_size 0 means the codec takes any length; frames of ~50 ms keep calls cheap.
        self._frame_size: int = frame_size or 1024
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)
        self._pts = 0
        self._finished = False

    def encode(self, pcm: npt.ArrayLike) -> bytes:
        """Encode every whole codec frame available and keep the remainder for later."""
        if self._finished:
            raise RuntimeError("encode() called after finish()")
        samples = _as_mono_float(pcm)
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size - samples.size % self._frame_size
        for start in range(0, whole, self._frame_size):
            self._encode_frame(samples[start : start + self._frame_size])
        self._pending = samples[whole:].copy()
        return self._sink.drain()

    def finish(self) -> bytes:
        """Encode the final partial frame, flush the codec and write the trailer."""
        if self._finished:
            return b""
        self._finished = True
        if self._pts == 0 and not self._pending.size:
            # mp3/ogg/adts demuxers reject a file without a single audio packet; 20 ms of
            # silence keeps an empty response playable everywhere.
            self._pending = np.zeros(self._rate // 50, dtype=np.float32)
        # Every codec used here accepts a short last frame (AV_CODEC_CAP_SMALL_LAST_FRAME), so
        # the true length reaches the container rather than being padded to a frame boundary.
        if self._pending.size:
            self._encode_frame(self._pending)
            self._pending = np.zeros(0, dtype=np.float32)
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._sink.drain()

    def _encode_frame(self, samples: FloatArray) -> None:
        data: npt.NDArray[np.float32] | Int16Array = (
            to_int16(samples) if self._spec.sample_format == "s16" else samples
        )
        frame = av.AudioFrame.from_ndarray(
            data.reshape(1, -1), format=self._spec.sample_format, layout="mono"
        )
        frame.sample_rate = self._rate
        frame.time_base = self._time_base
        frame.pts = self._pts
        self._pts += samples.size
        self._container.mux(self._stream.encode(frame))


def create_encoder(fmt: AudioFormat, sample_rate: int = OUTPUT_SAMPLE_RATE) -> StreamEncoder:
    """Create a fresh encoder for one response in ``fmt`` at ``sample_rate`` Hz."""
    if fmt is AudioFormat.PCM:
        return _PcmEncoder()
    if fmt is AudioFormat.WAV:
        return _WavEncoder(sample_rate)
    return _AvEncoder(_CODECS[fmt], sample_rate)
