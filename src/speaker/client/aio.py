"""`AsyncSpeakerClient`: the asyncio client, on `httpx.AsyncClient`."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Literal, TypeVar

import httpx

from speaker.client import _core
from speaker.client._core import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_TIMEOUT,
    UNSET,
    AudioSource,
    ClientOptions,
    Request,
    Unsettable,
    VoiceLike,
)
from speaker.client.errors import APIConnectionError, SpeakerClientError
from speaker.client.models import (
    ApiKey,
    AudioFormat,
    AuditPage,
    BatchItem,
    Consent,
    ConsentPage,
    CreatedApiKey,
    Deleted,
    Job,
    JobPage,
    JobState,
    Model,
    SpeechChunk,
    SpeechDone,
    Status,
    Voice,
)
from speaker.client.ws import AsyncSpeechSession

T = TypeVar("T")


class _Transport:
    """Sends requests with retries; the decisions are `ClientOptions`'."""

    def __init__(self, options: ClientOptions, http: httpx.AsyncClient | None) -> None:
        self.options = options
        self._owned = http is None
        self.http = http or httpx.AsyncClient(timeout=options.http_timeout())

    async def send(self, request: Request, *, stream: bool = False) -> httpx.Response:
        """The first successful answer; the last error once retries are spent or pointless."""
        attempt = 0
        while True:
            error: SpeakerClientError
            try:
                with _core.translated_errors():
                    response = await self.http.send(
                        request.build(self.http, self.options), stream=stream
                    )
                    if response.is_success or request.any_status:
                        return response
                    await response.aread()
                error = _core.failure(response)
            except SpeakerClientError as exc:
                error = exc
            wait = (
                None
                if request.any_status
                else self.options.retry_wait(attempt, error, idempotent=request.idempotent)
            )
            if wait is None:
                raise error
            await asyncio.sleep(wait)
            attempt += 1

    async def call(self, call: _core.Call[T]) -> T:
        """Send a call's request and read its answer."""
        return call.parse(await self.send(call.request))

    @contextlib.asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[httpx.Response]:
        """The open answer of a streamed request (retried only until its status line is in)."""
        response = await self.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def close(self) -> None:
        """Close the connection pool, unless the caller brought it."""
        if self._owned:
            await self.http.aclose()


class AsyncVoices:
    """The native voice library: `/v1/voices`."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    async def create(
        self,
        audio: AudioSource,
        *,
        name: str,
        transcript: str | None = None,
        language: str = "en",
        gender: str | None = None,
        tags: Iterable[str] = (),
        description: str = "",
        consent: str | None = None,
        filename: str | None = None,
    ) -> Voice:
        """Clone a voice from a file path or bytes (3–30 s of speech; transcribed if no text)."""
        return await self._transport.call(
            _core.create_voice(
                audio,
                name=name,
                transcript=transcript,
                language=language,
                gender=gender,
                tags=tags,
                description=description,
                consent=consent,
                filename=filename,
            )
        )

    async def list(
        self,
        *,
        language: str | None = None,
        tag: str | None = None,
        engine: str | None = None,
        query: str | None = None,
        type: str | None = None,
    ) -> list[Voice]:
        """Voices, built-in and cloned, filtered by language prefix, tag, engine, name or type."""
        return await self._transport.call(
            _core.list_voices(language=language, tag=tag, engine=engine, query=query, type=type)
        )

    async def get(self, voice_id: str) -> Voice:
        """One voice, with its quality report and transcript when cloned."""
        return await self._transport.call(_core.get_voice(voice_id))

    async def update(
        self,
        voice_id: str,
        *,
        name: str | Unsettable = UNSET,
        language: str | Unsettable = UNSET,
        gender: str | Unsettable | None = UNSET,
        tags: Sequence[str] | Unsettable = UNSET,
        description: str | Unsettable | None = UNSET,
        transcript: str | Unsettable = UNSET,
        shared: bool | Unsettable = UNSET,
    ) -> Voice:
        """Change a cloned voice's metadata: fields not given stay; `gender=None` clears it."""
        changes = {
            "name": name,
            "language": language,
            "gender": gender,
            "tags": tags if tags is UNSET else list(tags),
            "description": description,
            "transcript": transcript,
            "shared": shared,
        }
        return await self._transport.call(_core.update_voice(voice_id, changes))

    async def delete(self, voice_id: str) -> Deleted:
        """Remove a cloned voice and everything stored for it."""
        return await self._transport.call(_core.delete_voice(voice_id))

    async def preview(self, voice_id: str, *, format: AudioFormat = "mp3") -> bytes:
        """A short sample of the voice."""
        return await self._transport.call(_core.voice_preview(voice_id, format))

    async def reference_audio(self, voice_id: str) -> bytes:
        """The WAV recording a cloned voice was made from."""
        return await self._transport.call(_core.voice_audio(voice_id))

    async def export(self, ids: Sequence[str] | None = None) -> bytes:
        """A zip of cloned voices (those in `ids`, else all you may see), to import elsewhere."""
        return await self._transport.call(_core.export_voices(ids))

    async def import_archive(self, archive: AudioSource) -> builtins.list[Voice]:
        """Voices from an `export` zip (a path or its bytes), re-checked, each with a new id."""
        return await self._transport.call(_core.import_voices(archive))


class AsyncConsents:
    """Recorded consents to be cloned: `/v1/audio/voice_consents` (as OpenAI's)."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    async def create(self, recording: AudioSource, *, name: str, language: str = "en") -> Consent:
        """Store a recording of the speaker consenting; voices may then name it."""
        return await self._transport.call(
            _core.create_consent(recording, name=name, language=language)
        )

    async def list(self, *, after: str | None = None, limit: int = 20) -> ConsentPage:
        """Consents newest first; `after=page.last_id` for the next page."""
        return await self._transport.call(_core.list_consents(after=after, limit=limit))

    async def get(self, consent_id: str) -> Consent:
        """One consent."""
        return await self._transport.call(_core.get_consent(consent_id))

    async def rename(self, consent_id: str, name: str) -> Consent:
        """Change a consent's label."""
        return await self._transport.call(_core.rename_consent(consent_id, name))

    async def delete(self, consent_id: str) -> Deleted:
        """Remove a consent and its recording."""
        return await self._transport.call(_core.delete_consent(consent_id))


class AsyncKeys:
    """API keys (an admin key is needed): `/v1/keys`."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    async def create(
        self,
        name: str,
        *,
        role: Literal["readonly", "user", "admin"] = "user",
        owner: str | None = None,
        requests_per_minute: int | None = None,
        chars_per_minute: int | None = None,
    ) -> CreatedApiKey:
        """A new key; its `secret` is in this answer and never shown again."""
        call = _core.create_key(
            name,
            role=role,
            owner=owner,
            requests_per_minute=requests_per_minute,
            chars_per_minute=chars_per_minute,
        )
        return await self._transport.call(call)

    async def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, without secrets."""
        return await self._transport.call(_core.list_keys())

    async def get(self, key_id: str) -> ApiKey:
        """One key."""
        return await self._transport.call(_core.get_key(key_id))

    async def revoke(self, key_id: str) -> ApiKey:
        """Stop a key from working, at once and for good."""
        return await self._transport.call(_core.revoke_key(key_id))


class AsyncAudit:
    """The audit log (an admin key is needed): `/v1/audit`."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    async def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        cursor: int | None = None,
    ) -> AuditPage:
        """Entries newest first; `action` may be a family (`voice`); page with `cursor`."""
        call = _core.read_audit(
            action=action, actor=actor, since=since, until=until, limit=limit, cursor=cursor
        )
        return await self._transport.call(call)


class AsyncJobs:
    """Batch jobs: `POST /v1/tts/batch` and `/v1/jobs`."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    async def submit(
        self,
        items: Sequence[str | BatchItem],
        *,
        voice: VoiceLike = None,
        model: str = "tts-1",
        format: AudioFormat = "mp3",
        speed: float = 1.0,
        priority: int = 5,
        webhook_url: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Job:
        """Queue texts for synthesis; bare strings get `voice`, `model`, `format` and `speed`."""
        batch = [
            _core.batch_item(item, voice=voice, model=model, format=format, speed=speed)
            for item in items
        ]
        return await self._transport.call(
            _core.submit_job(batch, priority=priority, webhook_url=webhook_url, metadata=metadata)
        )

    async def get(self, job_id: str) -> Job:
        """A job with every item's state."""
        return await self._transport.call(_core.get_job(job_id))

    async def list(
        self,
        *,
        state: JobState | None = None,
        since: float | None = None,
        until: float | None = None,
        after: str | None = None,
        limit: int = 20,
    ) -> JobPage:
        """A page of your jobs, newest first; `after=page.last_id` gives the next."""
        return await self._transport.call(
            _core.list_jobs(state=state, since=since, until=until, after=after, limit=limit)
        )

    async def watch(
        self,
        job_id: str,
        *,
        interval: float = 0.25,
        max_interval: float = 5.0,
    ) -> AsyncIterator[Job]:
        """Snapshots of a job until it finishes (the last one is finished), polling less often."""
        poller = _core.Poller(None, interval, max_interval)
        while True:
            job = await self.get(job_id)
            yield job
            if job.finished:
                return
            await asyncio.sleep(poller.next_wait(job))

    async def wait(
        self,
        job_id: str,
        *,
        on_progress: Callable[[Job], object] | None = None,
        interval: float = 0.25,
        max_interval: float = 5.0,
    ) -> Job:
        """The finished job; `on_progress` sees every snapshot. Bound it with `asyncio.timeout`."""
        async for job in self.watch(job_id, interval=interval, max_interval=max_interval):
            if on_progress is not None:
                on_progress(job)
            if job.finished:
                return job
        raise AssertionError("watch() ends with a finished job")

    async def download_item(self, job_id: str, n: int) -> bytes:
        """One item's audio (an unfinished item is waited for, within the retries)."""
        return await self._transport.call(_core.job_item(job_id, n))

    async def download_results(self, job_id: str) -> bytes:
        """A zip of every finished item's audio plus `job.json`."""
        return await self._transport.call(_core.job_results(job_id))

    async def cancel(self, job_id: str) -> Job:
        """Cancel the items not yet done; finished ones keep their audio."""
        return await self._transport.call(_core.cancel_job(job_id))


class AsyncSpeakerClient:
    """An asyncio client for a Speaker server."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.options = ClientOptions.resolve(
            base_url, api_key, timeout, max_retries, max_retry_delay
        )
        self._transport = _Transport(self.options, http_client)
        self.voices = AsyncVoices(self._transport)
        self.jobs = AsyncJobs(self._transport)
        self.consents = AsyncConsents(self._transport)
        self.keys = AsyncKeys(self._transport)
        self.audit = AsyncAudit(self._transport)

    async def __aenter__(self) -> AsyncSpeakerClient:
        """The client itself, closed on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._transport.close()

    async def speech(
        self,
        text: str,
        *,
        voice: VoiceLike = None,
        model: str = "tts-1",
        format: AudioFormat = "mp3",
        speed: float = 1.0,
        instructions: str | None = None,
        normalize: bool | None = None,
        long: bool = False,
    ) -> bytes:
        """The whole audio file; `long=True` takes up to 100,000 characters (`/v1/tts/long`)."""
        body = _core.speech_body(
            text,
            voice=voice,
            model=model,
            format=format,
            speed=speed,
            instructions=instructions,
            normalize=normalize,
        )
        return await self._transport.call(_core.speech(body, long=long))

    async def stream_speech(
        self,
        text: str,
        *,
        voice: VoiceLike = None,
        model: str = "tts-1",
        format: AudioFormat = "mp3",
        speed: float = 1.0,
        instructions: str | None = None,
        normalize: bool | None = None,
        long: bool = False,
    ) -> AsyncIterator[bytes]:
        """The audio file in pieces as they are synthesized; joined, they are the whole file."""
        body = _core.speech_body(
            text,
            voice=voice,
            model=model,
            format=format,
            speed=speed,
            instructions=instructions,
            normalize=normalize,
        )
        async with self._transport.stream(_core.speech(body, long=long).request) as response:
            with _core.translated_errors():
                async for piece in response.aiter_bytes():
                    yield piece

    async def stream_events(
        self,
        text: str,
        *,
        voice: VoiceLike = None,
        model: str = "tts-1",
        format: AudioFormat = "pcm",
        speed: float = 1.0,
        normalize: bool | None = None,
        first_chunk_chars: int | None = None,
        max_chunk_chars: int | None = None,
    ) -> AsyncIterator[SpeechChunk | SpeechDone]:
        """Server-sent events: each text chunk with its audio, then the `done` summary."""
        body = _core.speech_body(
            text, voice=voice, model=model, format=format, speed=speed, normalize=normalize
        )
        request = _core.sse_stream(body, first_chunk_chars, max_chunk_chars)
        decoder = _core.SSEDecoder()
        async with self._transport.stream(request) as response:
            with _core.translated_errors():
                async for line in response.aiter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event

    def session(
        self,
        voice: VoiceLike = None,
        *,
        model: str = "tts-1",
        format: AudioFormat = "pcm",
        speed: float = 1.0,
        normalize: bool | None = None,
        binary: bool = True,
    ) -> AsyncSpeechSession:
        """A WebSocket session for text that arrives over time; use it in an `async with` block."""
        return AsyncSpeechSession(
            self.options,
            voice=voice,
            model=model,
            format=format,
            speed=speed,
            normalize=normalize,
            binary=binary,
        )

    async def status(self) -> Status:
        """Engines, voices, version, uptime and queue of the server."""
        return await self._transport.call(_core.status())

    async def health(self) -> bool:
        """True while the server process answers."""
        return await self._transport.call(_core.health())

    async def ready(self) -> bool:
        """True once the engines are loaded; false while loading or draining."""
        return await self._transport.call(_core.ready())

    # A deadline rather than `asyncio.timeout`: it also bounds each look, and the error names the
    # server's last state, as the blocking client's does.
    async def wait_ready(
        self,
        timeout: float = 60.0,  # noqa: ASYNC109
        *,
        interval: float = 0.25,
    ) -> None:
        """Return once /ready says so, waiting as it asks; WaitTimeoutError after `timeout` s."""
        waits = _core.ReadyWaits(timeout, interval)
        while True:
            # No look may outlast the deadline: a server that accepts but never answers included.
            call = _core.readiness(min(max(waits.left(), 0.05), self.options.timeout))
            try:
                found = await self._transport.call(call)
            except APIConnectionError as exc:
                # Not listening yet: a server that is still starting.
                found = _core.Readiness(False, f"unreachable, {exc}")
            if found.ready:
                return
            await asyncio.sleep(waits.next_wait(self.options.base_url, found))

    async def models(self) -> list[Model]:
        """Model names the speech endpoint accepts."""
        return await self._transport.call(_core.models())
