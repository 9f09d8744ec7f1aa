"""The small interface every engine implements; nothing here knows about HTTP or scheduling."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VoiceInfo:
    """A voice an engine can speak with."""

    id: str
    name: str
    engine: str
    language: str
    sample_rate: int
    gender: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    source: str = "builtin"


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, so the scheduler and API can plan around it."""

    cloning: bool = False
    instructions: bool = False
    max_batch_size: int = 1
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class VoiceReference:
    """A cloned voice as an engine receives it: the conditioning that engine computed for it."""

    voice_id: str
    transcript: str
    conditioning: Mapping[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class SynthesisParams:
    """Per-request knobs an engine honours."""

    speed: float = 1.0
    instructions: str | None = None
    reference: VoiceReference | None = None
    """Set when the voice is a cloned one; only cloning engines receive it."""


@dataclass(frozen=True)
class AudioSegment:
    """Mono float32 audio in [-1, 1] at its sample rate."""

    samples: Samples
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class EngineInfo:
    """Identity of a loaded engine, for `/status` and cache keys."""

    name: str
    model: str
    version: str
    device: str
    load_seconds: float
    realtime_factor: float = 1.0
    """Audio seconds one worker makes per second of compute, measured at load."""
    details: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class EngineSession(Protocol):
    """One worker's handle on an engine; used by a single thread at a time."""

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        """Speak already-normalized text with a voice."""
        ...

    def close(self) -> None:
        """Release what this session holds."""
        ...


@runtime_checkable
class StreamingEngineSession(EngineSession, Protocol):
    """A session that can hand out audio while it is still generating the rest of a chunk."""

    def synthesize_stream(
        self,
        text: str,
        voice_id: str,
        params: SynthesisParams,
        cancelled: Callable[[], bool],
    ) -> Iterator[AudioSegment]:
        """Yield consecutive pieces of one chunk's audio; stop early once `cancelled()` is true."""
        ...


@dataclass(frozen=True)
class SynthesisTask:
    """One piece of text to speak, as a batch carries it."""

    text: str
    voice_id: str
    params: SynthesisParams


@runtime_checkable
class BatchEngineSession(EngineSession, Protocol):
    """A session of an engine that gains from batches (declares `max_batch_size` > 1)."""

    def synthesize_batch(self, tasks: list[SynthesisTask]) -> list[AudioSegment]:
        """Speak several texts in one pass; results in the order of `tasks`."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A loaded model family: lists voices and opens sessions for workers."""

    name: str
    capabilities: EngineCapabilities

    def load(self) -> EngineInfo:
        """Load weights and prepare voices; called once before any session opens."""
        ...

    def voices(self) -> list[VoiceInfo]:
        """Every voice this engine can speak with."""
        ...

    def open_session(self) -> EngineSession:
        """A new session for one worker thread."""
        ...

    def close(self) -> None:
        """Release everything the engine holds."""
        ...


@runtime_checkable
class FingerprintedEngine(Engine, Protocol):
    """An engine whose voices are files that can be replaced under the same voice id."""

    def voice_fingerprint(self, voice_id: str) -> str:
        """Changes whenever the model behind `voice_id` changes (for cache keys)."""
        ...


@runtime_checkable
class CloningEngine(Engine, Protocol):
    """An engine that speaks in a voice given by reference audio and its transcript."""

    conditioning_version: str
    """Names the model and method; conditioning stored under another version is recomputed."""

    def condition(
        self, samples: Samples, sample_rate: int, transcript: str
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Pre-compute what speaking with this reference needs, as arrays safe to store."""
        ...
