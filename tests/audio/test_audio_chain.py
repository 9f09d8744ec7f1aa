import io

import av
import numpy as np
import pytest

from speaker.audio import (
    OUTPUT_SAMPLE_RATE,
    AudioFormat,
    SeamSmoother,
    StreamResampler,
    create_encoder,
)

ENGINE_RATE = 22050


def _sentence(seconds: float, lead: float, trail: float, freq: float) -> np.ndarray:
    t = np.arange(round(seconds * ENGINE_RATE)) / ENGINE_RATE
    voiced = 0.4 * np.sin(np.pi * t / seconds) * np.sin(2 * np.pi * freq * t)
    pad = [np.zeros(round(s * ENGINE_RATE)) for s in (lead, trail)]
    return np.concatenate([pad[0], voiced, pad[1]]).astype(np.float32)


@pytest.mark.parametrize("fmt", [AudioFormat.MP3, AudioFormat.OPUS, AudioFormat.WAV], ids=str)
def test_engine_chunks_become_one_tight_file(fmt: AudioFormat) -> None:
    # Three sentences padded the way peer servers leave them: long silences at every seam.
    chunks = [
        _sentence(0.8, lead=0.6, trail=1.0, freq=200),
        _sentence(0.5, lead=0.5, trail=1.0, freq=300),
        _sentence(0.7, lead=0.5, trail=1.5, freq=250),
    ]
    smoother = SeamSmoother(ENGINE_RATE, max_pause_s=0.25, lead_s=0.05, tail_s=0.1)
    resampler = StreamResampler(ENGINE_RATE, OUTPUT_SAMPLE_RATE)
    encoder = create_encoder(fmt)
    data = b""
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        data += encoder.encode(resampler.process(smoother.process(chunk, last=last)))
    data += encoder.encode(resampler.flush()) + encoder.finish()

    with av.open(io.BytesIO(data)) as container:
        seconds = sum(f.samples / f.sample_rate for f in container.decode(audio=0))
    speech = 0.8 + 0.5 + 0.7
    # Lead 0.05 + two capped pauses + tail 0.1, plus codec delay: nowhere near the 5.1 s input.
    assert speech + 0.05 + 2 * 0.25 + 0.1 - 0.03 < seconds < speech + 0.05 + 2 * 0.25 + 0.1 + 0.1
