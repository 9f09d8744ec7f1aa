"""Per-engine conditioning of cloned voices, computed once and kept as safetensors.

With Redis configured the safetensors bytes are kept there too, so that a replica which did not
compute a voice's conditioning reads it instead of running the model again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from redis import Redis, RedisError
from safetensors import safe_open
from safetensors.numpy import load, save

from speaker.engines.base import CloningEngine, Samples, VoiceReference
from speaker.storage.files import FileStore

log = logging.getLogger(__name__)

Arrays = dict[str, npt.NDArray[np.generic]]


def file_name(engine: str) -> str:
    """Where an engine's conditioning lives inside a voice's folder."""
    return f"conditioning-{engine}.safetensors"


def shared_key(voice_id: str) -> str:
    """The Redis hash holding a voice's conditioning, one field per engine, version, transcript."""
    return f"speaker:conditioning:{voice_id}"


def _shared_field(engine: CloningEngine, transcript: str) -> str:
    # The transcript is part of the field: a replica that missed an edit never reads stale codes.
    spoken = hashlib.sha256(transcript.encode()).hexdigest()[:16]
    return f"{engine.name}:{engine.conditioning_version}:{spoken}"


class ConditioningCache:
    """Loads conditioning from disk (or computes and stores it) and keeps recent ones in memory.

    Stored files carry the engine's `conditioning_version`; a file made by another model version
    is recomputed, so swapping checkpoints never feeds a model another model's codes. Files are
    read with safetensors only: nothing here can execute code from a file.
    """

    def __init__(self, files: FileStore, capacity: int = 64, shared: Redis | None = None) -> None:
        self._files = files
        self._capacity = capacity
        self._shared = shared
        self._memory: OrderedDict[tuple[str, str, str], VoiceReference] = OrderedDict()
        self._lock = threading.Lock()

    def compute(
        self,
        engine: CloningEngine,
        voice_id: str,
        samples: Samples,
        sample_rate: int,
        transcript: str,
    ) -> Arrays:
        """Run the engine's conditioning and store it in the voice's folder."""
        arrays = engine.condition(samples, sample_rate, transcript)
        metadata = {"engine": engine.name, "version": engine.conditioning_version}
        data = save(arrays, metadata=metadata)
        self._files.write(voice_id, file_name(engine.name), data)
        if self._shared is not None:
            try:
                self._shared.hset(shared_key(voice_id), _shared_field(engine, transcript), data)
            except RedisError as exc:
                log.warning("could not share the conditioning of %s: %s", voice_id, exc)
        return arrays

    def _fetch(self, voice_id: str, engine: CloningEngine, transcript: str) -> Arrays | None:
        """The conditioning another replica computed, if Redis holds it."""
        if self._shared is None:
            return None
        try:
            data = self._shared.hget(shared_key(voice_id), _shared_field(engine, transcript))
        except RedisError as exc:
            log.warning("could not read shared conditioning of %s: %s", voice_id, exc)
            return None
        if not isinstance(data, bytes):
            return None
        arrays: Arrays = load(data)
        return arrays

    def _read(self, voice_id: str, engine: CloningEngine) -> Arrays | None:
        path = self._files.path(voice_id) / file_name(engine.name)
        if not path.exists():
            return None
        with safe_open(str(path), framework="np") as handle:
            stored = (handle.metadata() or {}).get("version")
            if stored != engine.conditioning_version:
                log.info("conditioning of %s for %s is stale; recomputing", voice_id, engine.name)
                return None
            return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118

    def reference(
        self,
        engine: CloningEngine,
        voice_id: str,
        transcript: str,
        load_audio: Callable[[], tuple[Samples, int]],
    ) -> VoiceReference:
        """The voice's conditioning for an engine, from memory, disk, Redis, or computed now."""
        key = (voice_id, engine.name, engine.conditioning_version)
        with self._lock:
            cached = self._memory.get(key)
            if cached is not None:
                self._memory.move_to_end(key)
                return cached
        arrays = self._read(voice_id, engine)
        if arrays is None:
            arrays = self._fetch(voice_id, engine, transcript)
        if arrays is None:
            samples, rate = load_audio()
            arrays = self.compute(engine, voice_id, samples, rate, transcript)
        reference = VoiceReference(voice_id=voice_id, transcript=transcript, conditioning=arrays)
        with self._lock:
            self._memory[key] = reference
            while len(self._memory) > self._capacity:
                self._memory.popitem(last=False)
        return reference

    def forget(self, voice_id: str) -> None:
        """Drop a voice from memory and Redis (after delete or a transcript change)."""
        with self._lock:
            for key in [k for k in self._memory if k[0] == voice_id]:
                del self._memory[key]
        if self._shared is not None:
            try:
                self._shared.delete(shared_key(voice_id))
            except RedisError as exc:
                log.warning("could not drop shared conditioning of %s: %s", voice_id, exc)
