"""Units of work the scheduler hands to engine workers."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from speaker.engines.base import AudioSegment, SynthesisParams

_sequence = itertools.count()

# Lower sorts first. Every chunk a listener waits for is interactive; the tier leaves room for
# work nobody is listening to yet (batch jobs), which must never delay a listener.
INTERACTIVE = 0


@dataclass
class WorkItem:
    """One text chunk to synthesize for one stream."""

    engine: str
    text: str
    voice_id: str
    params: SynthesisParams
    stream_id: int
    index: int
    deadline: float
    tier: int = INTERACTIVE
    enqueued_at: float = field(default_factory=time.monotonic)
    sequence: int = field(default_factory=lambda: next(_sequence))
    future: Future[AudioSegment] = field(default_factory=Future)

    @property
    def sort_key(self) -> tuple[int, float, int]:
        """Priority order: tier, then earliest deadline first, then arrival."""
        return (self.tier, self.deadline, self.sequence)
