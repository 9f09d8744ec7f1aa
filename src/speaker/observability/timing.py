"""Where the time of one chunk of speech went, from the queue to encoded bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ChunkTiming:
    """Seconds one chunk spent queued, in the engine (with the engine's own sub-stages), and
    being encoded."""

    queue: float
    inference: float
    encode: float = 0.0
    stages: Mapping[str, float] = field(default_factory=dict)
    """Sub-stages of inference the engine reported (e.g. `backbone`, `codec_decode`); empty
    for audio handed out while the chunk was still generating."""

    def encoded(self, seconds: float) -> ChunkTiming:
        """The same timing with its encoding time."""
        return replace(self, encode=seconds)
