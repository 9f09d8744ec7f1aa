"""CSM reports its sub-stages (backbone, depth decoder, codec decode) to whoever records them."""

from __future__ import annotations

import time

from speaker.engines.base import SynthesisParams
from speaker.engines.csm.engine import BUILTIN_VOICE, CsmEngine
from speaker.observability.stages import recording

STAGES = {"backbone", "depth_decoder", "codec_decode"}


def test_whole_chunks_are_timed_by_stage(csm_engine: CsmEngine) -> None:
    session = csm_engine.open_session()
    started = time.perf_counter()
    with recording() as seconds:
        session.synthesize("Hello there, stages.", BUILTIN_VOICE, SynthesisParams())
    wall = time.perf_counter() - started
    assert set(seconds) == STAGES
    assert all(s > 0 for s in seconds.values())
    assert sum(seconds.values()) <= wall


def test_streamed_chunks_are_timed_by_stage(csm_engine: CsmEngine) -> None:
    session = csm_engine.open_session()
    with recording() as seconds:
        pieces = list(
            session.synthesize_stream(
                "Streaming, stage by stage.", BUILTIN_VOICE, SynthesisParams(), lambda: False
            )
        )
    assert pieces
    assert set(seconds) == STAGES
