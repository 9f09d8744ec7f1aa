"""Units of work the scheduler hands to engine workers."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from speaker.engines.base import AudioSegment, SynthesisParams
from speaker.observability.timing import ChunkTiming

_sequence = itertools.count()

# Lower sorts first. Every chunk a listener waits for is interactive; batch jobs' chunks have
# nobody listening yet, so they sort after every interactive chunk and never delay a listener.
INTERACTIVE = 0
BATCH = 1


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
    audio_estimate: float = 0.0
    """Seconds of audio the text is expected to give, before it exists."""
    enqueued_at: float = field(default_factory=time.monotonic)
    sequence: int = field(default_factory=lambda: next(_sequence))
    future: Future[AudioSegment] = field(default_factory=Future)
    on_piece: Callable[[AudioSegment], None] | None = None
    """Receives audio while the chunk is still generating, from engines that can stream it."""
    abandoned: threading.Event = field(default_factory=threading.Event)
    """Set when the listener left: a streaming engine stops mid-chunk."""
    started_at: float | None = None
    """When a worker took the item (monotonic clock)."""
    finished_at: float | None = None
    stages: Mapping[str, float] = field(default_factory=dict)
    """The engine's sub-stage seconds, set once the item is finished."""

    def timing(self, until: float) -> ChunkTiming:
        """Time queued, and in the engine until `until` (its first audio, or its end)."""
        started = self.started_at if self.started_at is not None else until
        stages = self.stages if self.finished_at is not None and until >= self.finished_at else {}
        return ChunkTiming(
            queue=max(0.0, started - self.enqueued_at),
            inference=max(0.0, until - started),
            stages=stages,
        )

    def cancel(self) -> None:
        """Drop the item if queued, or ask a streaming engine to stop if it is running."""
        self.future.cancel()
        self.abandoned.set()

    @property
    def sort_key(self) -> tuple[int, float, int]:
        """Priority order: tier, then earliest deadline first, then arrival."""
        return (self.tier, self.deadline, self.sequence)
