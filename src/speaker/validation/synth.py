"""Speech to validate, made in this process or by a running server, behind one small interface."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import numpy as np

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS
from speaker.engines.base import Samples
from speaker.errors import SpeakerError
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.voices.intake import decode_audio

# Long corpus lines make long files; decoding refuses past this, well beyond any sane case.
_MAX_AUDIO_SECONDS = 600.0
# An overloaded server answers 429/503 with Retry-After; a validation run waits its turn.
_RETRY_STATUSES = {429, 503}
_RETRIES = 3
_MAX_RETRY_WAIT_S = 10.0


class SynthesisError(RuntimeError):
    """Speech could not be made (unknown voice, server unreachable, refused request…)."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at a sample rate."""

    samples: Samples
    sample_rate: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Synthesis:
    """The audio of one case and the wall-clock seconds it took to make."""

    audio: Audio
    seconds: float

    @property
    def rtf(self) -> float:
        """Real-time factor: seconds of synthesis per second of audio (below 1 is faster)."""
        # Decoding refuses files without samples, so the audio always has a duration.
        return self.seconds / self.audio.seconds


class Synthesizer(Protocol):
    """Makes speech for a voice and model, and finds the reference recording of cloned voices."""

    @property
    def target(self) -> str:
        """What is being validated, for reports: a server URL or "in-process"."""
        ...

    def synthesize(self, text: str, *, voice: str | None, model: str) -> Synthesis:
        """Speak `text`; raises SynthesisError when no audio can be had."""
        ...

    def reference(self, voice: str | None) -> Audio | None:
        """The recording a cloned voice was made from; None for voices that have none."""
        ...


def _decode(data: bytes) -> Audio:
    try:
        samples, rate, _ = decode_audio(data, max_seconds=_MAX_AUDIO_SECONDS)
    except SpeakerError as exc:
        raise SynthesisError(f"unreadable audio: {exc.message}") from None
    return Audio(np.asarray(samples, dtype=np.float32), rate)


class LocalSynthesizer:
    """Speech from a loaded runtime in this process, as `speaker say` makes it."""

    target = "in-process"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def synthesize(self, text: str, *, voice: str | None, model: str) -> Synthesis:
        """Speak `text` through the speech service (WAV, so nothing is lost to a codec)."""
        order = SpeechOrder(text=text, model=model, voice=voice, fmt=AudioFormat.WAV)
        start = time.perf_counter()
        try:
            data = asyncio.run(self._runtime.service.synthesize(order))
        except SpeakerError as exc:
            hint = f" ({exc.suggestion})" if exc.suggestion else ""
            raise SynthesisError(f"{exc.message}{hint}") from None
        return Synthesis(_decode(data), time.perf_counter() - start)

    def reference(self, voice: str | None) -> Audio | None:
        """The stored reference of a cloned voice named by id or name."""
        record = self._runtime.catalog.cloned(voice, ANONYMOUS)
        if record is None:
            return None
        path = self._runtime.library.reference_path(record.id, viewer=ANONYMOUS)
        return _decode(path.read_bytes())


class RemoteSynthesizer:
    """Speech from a running server's `POST /v1/audio/speech`, as any client gets it."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.target = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.target, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(_RETRIES + 1):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise SynthesisError(f"{method} {self.target}{path} failed: {exc}") from None
            if response.status_code not in _RETRY_STATUSES or attempt == _RETRIES:
                break
            time.sleep(_retry_after(response))
        if response.is_error:
            raise SynthesisError(f"{method} {path}: {_error_message(response)}")
        return response

    def synthesize(self, text: str, *, voice: str | None, model: str) -> Synthesis:
        """Speak `text` as a WAV file (lossless: a codec's artefacts would count as the voice's)."""
        body: dict[str, Any] = {"model": model, "input": text, "response_format": "wav"}
        if voice is not None:
            body["voice"] = voice
        start = time.perf_counter()
        response = self._request("POST", "/v1/audio/speech", json=body)
        return Synthesis(_decode(response.content), time.perf_counter() - start)

    def reference(self, voice: str | None) -> Audio | None:
        """The reference recording of a cloned voice the key may see, by id or name."""
        if voice is None:
            return None
        listed = self._request("GET", "/v1/voices", params={"type": "cloned"}).json()["data"]
        wanted = voice.strip().lower()
        match = next(
            (v for v in listed if wanted in (v["id"].lower(), v["name"].lower())),
            None,
        )
        if match is None:
            return None
        return _decode(self._request("GET", f"/v1/voices/{match['id']}/audio").content)


def _retry_after(response: httpx.Response) -> float:
    try:
        wait = float(response.headers.get("retry-after", "1"))
    except ValueError:
        wait = 1.0
    return min(max(wait, 0.0), _MAX_RETRY_WAIT_S)


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
