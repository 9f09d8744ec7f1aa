"""Audio output layer: seam smoothing, resampling to 24 kHz and streaming encoders."""

from speaker.audio.encoder import StreamEncoder, create_encoder, to_int16
from speaker.audio.formats import OUTPUT_SAMPLE_RATE, AudioFormat, content_type
from speaker.audio.resample import StreamResampler
from speaker.audio.seams import SeamSmoother

__all__ = [
    "OUTPUT_SAMPLE_RATE",
    "AudioFormat",
    "SeamSmoother",
    "StreamEncoder",
    "StreamResampler",
    "content_type",
    "create_encoder",
    "to_int16",
]
