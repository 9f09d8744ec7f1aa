"""Output formats offered by the speech endpoint and their HTTP media types."""

from enum import StrEnum

OUTPUT_SAMPLE_RATE = 24000
"""Rate of every response: OpenAI's clients assume 24 kHz, and raw ``pcm`` carries no header."""


class AudioFormat(StrEnum):
    """A ``response_format`` value accepted by the OpenAI-compatible speech endpoint."""

    MP3 = "mp3"
    OPUS = "opus"
    AAC = "aac"
    FLAC = "flac"
    WAV = "wav"
    PCM = "pcm"


# Mirrors the Content-Type headers OpenAI's API sends, so clients that switch on it keep working.
_CONTENT_TYPES: dict[AudioFormat, str] = {
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/opus",
    AudioFormat.AAC: "audio/aac",
    AudioFormat.FLAC: "audio/flac",
    AudioFormat.WAV: "audio/wav",
    AudioFormat.PCM: "audio/pcm",
}


def content_type(fmt: AudioFormat) -> str:
    """Return the Content-Type header value for a response in ``fmt``."""
    return _CONTENT_TYPES[fmt]
