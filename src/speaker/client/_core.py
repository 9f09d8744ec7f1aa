"""What the sync and async clients share: options, requests, parsing of answers, retry decisions.

Nothing here does I/O; `sync.py` and `aio.py` only send the requests built here and sleep the
waits decided here.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from speaker.client.errors import (
    APIConnectionError,
    APITimeoutError,
    SpeakerAPIError,
    SpeakerClientError,
    error_from_body,
    error_from_response,
    parse_retry_after,
)
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

DEFAULT_URL = "http://127.0.0.1:8012"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_DELAY = 30.0
USER_AGENT = "speaker-python-client"

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# A voice as the speech fields take it: a name or id, or a library voice (sent as `{"id": …}`).
VoiceLike = str | Voice | None
# Reference audio for a new voice: a file path, or the bytes themselves.
AudioSource = str | os.PathLike[str] | bytes


class WaitTimeoutError(SpeakerClientError, TimeoutError):
    """A job did not finish, or a server did not become ready, within the time given."""


class Unset(enum.Enum):
    """The type of `UNSET`."""

    TOKEN = 0


UNSET: Final = Unset.TOKEN
"""An update's default for fields to leave as they are; None, by contrast, clears a field."""
Unsettable = Literal[Unset.TOKEN]


@dataclass(frozen=True)
class ClientOptions:
    """Where the server is, how to authenticate, and how patiently to talk to it."""

    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int
    max_retry_delay: float

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        max_retry_delay: float,
    ) -> ClientOptions:
        """Arguments first, then `SPEAKER_URL` and `SPEAKER_API_KEY`, then the defaults."""
        url = base_url or os.environ.get("SPEAKER_URL") or DEFAULT_URL
        return cls(
            base_url=url.rstrip("/"),
            api_key=api_key or os.environ.get("SPEAKER_API_KEY") or None,
            timeout=timeout,
            max_retries=max(0, max_retries),
            max_retry_delay=max(0.0, max_retry_delay),
        )

    def headers(self) -> dict[str, str]:
        """Headers every request carries."""
        headers = {"user-agent": USER_AGENT}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def http_timeout(self) -> httpx.Timeout:
        """Connecting should be quick; reads may wait for synthesis."""
        return httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))

    def ws_url(self, path: str) -> str:
        """The WebSocket address of a path on this server."""
        if self.base_url.startswith("https://"):
            return "wss://" + self.base_url.removeprefix("https://") + path
        return "ws://" + self.base_url.removeprefix("http://") + path

    def backoff(self, attempt: int) -> float:
        """Wait before retry `attempt` (from 0) when the server named no time: 0.5 s doubling."""
        # Jitter keeps many clients refused together from coming back together.
        return min(0.5 * 2.0**attempt, 8.0) * random.uniform(0.75, 1.0)

    def retry_wait(
        self, attempt: int, error: SpeakerClientError, *, idempotent: bool = True
    ) -> float | None:
        """Seconds to wait before sending again, or None when `error` is final.

        A request that creates something is sent again after a broken connection only if it
        never left: the server may have acted on it.
        """
        if attempt >= self.max_retries:
            return None
        if isinstance(error, SpeakerAPIError):
            if not error.retryable:
                return None
            if error.retry_after is not None:
                return min(error.retry_after, self.max_retry_delay)
        elif not isinstance(error, APIConnectionError) or (error.request_sent and not idempotent):
            return None
        return self.backoff(attempt)


@dataclass(frozen=True)
class Request:
    """One HTTP request, independent of the client that sends it."""

    method: str
    path: str
    params: Mapping[str, str | int | float] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    # `/ready` answers 503 as a normal answer: its status is reported, neither raised nor retried.
    any_status: bool = False
    # False for requests that create something (a voice, a job): see `ClientOptions.retry_wait`.
    idempotent: bool = True
    # Seconds for this request alone, where a caller's deadline is nearer than the client's timeout.
    timeout: float | None = None

    def build(
        self, http: httpx.Client | httpx.AsyncClient, options: ClientOptions
    ) -> httpx.Request:
        """The httpx request, built anew for every attempt."""
        return http.build_request(
            self.method,
            options.base_url + self.path,
            headers=options.headers(),
            params=self.params,
            json=self.json,
            data=self.data,
            files=self.files,
            timeout=httpx.USE_CLIENT_DEFAULT if self.timeout is None else self.timeout,
        )


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request and how to read its successful answer."""

    request: Request
    parse: Callable[[httpx.Response], T]


def connection_error(exc: httpx.TransportError) -> APIConnectionError:
    """The SDK's exception for a transport failure, keeping httpx's as the cause."""
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    error = cls(message, request_sent=not unsent)
    error.__cause__ = exc
    return error


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Turn httpx's transport failures (also in the middle of a stream) into the SDK's."""
    try:
        yield
    except httpx.TransportError as exc:
        raise connection_error(exc) from exc


def failure(response: httpx.Response) -> SpeakerAPIError:
    """The exception for a (read) error answer."""
    return error_from_response(response.status_code, response.headers, response.content)


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def _content(response: httpx.Response) -> bytes:
    return response.content


def _ok(response: httpx.Response) -> bool:
    return response.is_success


_voice_list: TypeAdapter[list[Voice]] = TypeAdapter(list[Voice])
_model_list: TypeAdapter[list[Model]] = TypeAdapter(list[Model])


def _data_of(adapter: TypeAdapter[list[M]]) -> Callable[[httpx.Response], list[M]]:
    return lambda response: adapter.validate_python(response.json()["data"])


def _path(*parts: str) -> str:
    """A path whose variable parts cannot escape their segment."""
    return "/".join(quote(part, safe="") if i else part for i, part in enumerate(parts))


def _drop_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def voice_field(voice: VoiceLike) -> str | dict[str, str] | None:
    """A voice as the API takes it: a library voice by id, so a missing one is a 404."""
    return {"id": voice.id} if isinstance(voice, Voice) else voice


def speech_body(
    text: str,
    *,
    voice: VoiceLike,
    model: str,
    format: AudioFormat,
    speed: float,
    instructions: str | None = None,
    normalize: bool | None = None,
) -> dict[str, Any]:
    """The fields every text-to-audio route shares."""
    return _drop_none(
        {
            "input": text,
            "model": model,
            "voice": voice_field(voice),
            "response_format": format,
            "speed": speed,
            "instructions": instructions,
            "normalize": normalize,
        }
    )


def speech(body: dict[str, Any], *, long: bool = False) -> Call[bytes]:
    """The whole audio file: `POST /v1/audio/speech`, or `/v1/tts/long` for long-form text."""
    path = "/v1/tts/long" if long else "/v1/audio/speech"
    return Call(Request("POST", path, json=body), _content)


def sse_stream(
    body: dict[str, Any], first_chunk_chars: int | None, max_chunk_chars: int | None
) -> Request:
    """`POST /v1/tts/stream`: one server-sent event per text chunk."""
    budgets = {"first_chunk_chars": first_chunk_chars, "max_chunk_chars": max_chunk_chars}
    return Request("POST", "/v1/tts/stream", json={**body, **_drop_none(budgets)})


class SSEDecoder:
    """Server-sent events from a stream's lines (without their line ends)."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> SpeechChunk | SpeechDone | None:
        """The event a blank line completes; an `error` event raises SpeakerAPIError."""
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
            return None
        event, data = self._event, "\n".join(self._data)
        self._event, self._data = "message", []
        if not data:
            return None
        if event == "chunk":
            return SpeechChunk.model_validate_json(data)
        if event == "done":
            return SpeechDone.model_validate_json(data)
        if event == "error":
            raise error_from_body(json.loads(data))
        return None


def status() -> Call[Status]:
    """`GET /status`."""
    return Call(Request("GET", "/status"), _model(Status))


def health() -> Call[bool]:
    """`GET /health`: true while the process serves HTTP."""
    return Call(Request("GET", "/health"), _ok)


def ready() -> Call[bool]:
    """`GET /ready`: true once engines are loaded, false while loading or draining."""
    return Call(Request("GET", "/ready", any_status=True), _ok)


@dataclass(frozen=True)
class Readiness:
    """One answer of `/ready`: its state (`loading`, `draining`…) and the wait it asked for."""

    ready: bool
    state: str
    retry_after: float | None = None


def _readiness(response: httpx.Response) -> Readiness:
    try:
        body = response.json()
    except ValueError:
        body = None
    # A proxy in front of a starting server may answer with a page of its own, not Speaker's JSON.
    state = body.get("status") if isinstance(body, dict) else None
    return Readiness(
        response.is_success,
        str(state or f"HTTP {response.status_code}"),
        None if response.is_success else parse_retry_after(response.headers),
    )


def readiness(timeout: float) -> Call[Readiness]:
    """`GET /ready` with its state and Retry-After, given at most `timeout` seconds."""
    return Call(Request("GET", "/ready", any_status=True, timeout=timeout), _readiness)


def models() -> Call[list[Model]]:
    """`GET /v1/models`."""
    return Call(Request("GET", "/v1/models"), _data_of(_model_list))


def _audio_file(audio: AudioSource, filename: str | None) -> tuple[str, bytes, str]:
    if isinstance(audio, bytes):
        return filename or "audio.wav", audio, "application/octet-stream"
    path = Path(audio)
    return filename or path.name, path.read_bytes(), "application/octet-stream"


def create_voice(
    audio: AudioSource,
    *,
    name: str,
    transcript: str | None,
    language: str,
    gender: str | None,
    tags: Iterable[str],
    description: str,
    consent: str | None,
    filename: str | None,
) -> Call[Voice]:
    """`POST /v1/voices`: clone a voice from 3–30 s of speech."""
    form = _drop_none(
        {
            "name": name,
            "transcript": transcript,
            "language": language,
            "gender": gender,
            "tags": ",".join(tags),
            "description": description,
            "consent": consent,
        }
    )
    files = {"audio": _audio_file(audio, filename)}
    request = Request("POST", "/v1/voices", data=form, files=files, idempotent=False)
    return Call(request, _model(Voice))


def list_voices(
    *,
    language: str | None,
    tag: str | None,
    engine: str | None,
    query: str | None,
    type: str | None,
) -> Call[list[Voice]]:
    """`GET /v1/voices` with the server's filters."""
    params = _drop_none(
        {"language": language, "tag": tag, "engine": engine, "q": query, "type": type}
    )
    return Call(Request("GET", "/v1/voices", params=params), _data_of(_voice_list))


def get_voice(voice_id: str) -> Call[Voice]:
    """`GET /v1/voices/{id}`."""
    return Call(Request("GET", _path("/v1/voices", voice_id)), _model(Voice))


def update_voice(voice_id: str, changes: Mapping[str, Any]) -> Call[Voice]:
    """`PATCH /v1/voices/{id}` with only the fields given (None among them: cleared)."""
    given = {k: v for k, v in changes.items() if v is not UNSET}
    return Call(Request("PATCH", _path("/v1/voices", voice_id), json=given), _model(Voice))


def export_voices(ids: Sequence[str] | None) -> Call[bytes]:
    """`GET /v1/voices/export`: a zip of the voices in `ids`, else of every visible one."""
    params = {"ids": ",".join(ids)} if ids else None
    return Call(Request("GET", "/v1/voices/export", params=params), _content)


def import_voices(archive: AudioSource) -> Call[list[Voice]]:
    """`POST /v1/voices/import`: voices from an export zip, each with a new id."""
    data = archive if isinstance(archive, bytes) else Path(archive).read_bytes()
    files = {"file": ("speaker-voices.zip", data, "application/zip")}
    request = Request("POST", "/v1/voices/import", files=files, idempotent=False)
    return Call(request, _data_of(_voice_list))


CONSENTS = "/v1/audio/voice_consents"


def create_consent(recording: AudioSource, *, name: str, language: str) -> Call[Consent]:
    """`POST /v1/audio/voice_consents`: the speaker's recorded consent to be cloned."""
    files = {"recording": _audio_file(recording, None)}
    form = {"name": name, "language": language}
    request = Request("POST", CONSENTS, data=form, files=files, idempotent=False)
    return Call(request, _model(Consent))


def list_consents(*, after: str | None, limit: int) -> Call[ConsentPage]:
    """`GET /v1/audio/voice_consents`, newest first."""
    params = _drop_none({"after": after, "limit": limit})
    return Call(Request("GET", CONSENTS, params=params), _model(ConsentPage))


def get_consent(consent_id: str) -> Call[Consent]:
    """`GET /v1/audio/voice_consents/{id}`."""
    return Call(Request("GET", _path(CONSENTS, consent_id)), _model(Consent))


def rename_consent(consent_id: str, name: str) -> Call[Consent]:
    """`POST /v1/audio/voice_consents/{id}`: its one editable field."""
    request = Request("POST", _path(CONSENTS, consent_id), json={"name": name})
    return Call(request, _model(Consent))


def delete_consent(consent_id: str) -> Call[Deleted]:
    """`DELETE /v1/audio/voice_consents/{id}`."""
    return Call(Request("DELETE", _path(CONSENTS, consent_id)), _model(Deleted))


_key_list: TypeAdapter[list[ApiKey]] = TypeAdapter(list[ApiKey])


def create_key(
    name: str,
    *,
    role: str,
    owner: str | None,
    requests_per_minute: int | None,
    chars_per_minute: int | None,
) -> Call[CreatedApiKey]:
    """`POST /v1/keys` (admin)."""
    body = _drop_none(
        {
            "name": name,
            "role": role,
            "owner": owner,
            "requests_per_minute": requests_per_minute,
            "chars_per_minute": chars_per_minute,
        }
    )
    request = Request("POST", "/v1/keys", json=body, idempotent=False)
    return Call(request, _model(CreatedApiKey))


def list_keys() -> Call[list[ApiKey]]:
    """`GET /v1/keys` (admin): every key, revoked ones included."""
    return Call(Request("GET", "/v1/keys"), _data_of(_key_list))


def get_key(key_id: str) -> Call[ApiKey]:
    """`GET /v1/keys/{id}` (admin)."""
    return Call(Request("GET", _path("/v1/keys", key_id)), _model(ApiKey))


def revoke_key(key_id: str) -> Call[ApiKey]:
    """`DELETE /v1/keys/{id}` (admin): the key stops working at once."""
    return Call(Request("DELETE", _path("/v1/keys", key_id)), _model(ApiKey))


def read_audit(
    *,
    action: str | None,
    actor: str | None,
    since: float | None,
    until: float | None,
    limit: int,
    cursor: int | None,
) -> Call[AuditPage]:
    """`GET /v1/audit` (admin): entries newest first."""
    params = _drop_none(
        {
            "action": action,
            "actor": actor,
            "since": since,
            "until": until,
            "limit": limit,
            "cursor": cursor,
        }
    )
    return Call(Request("GET", "/v1/audit", params=params), _model(AuditPage))


def delete_voice(voice_id: str) -> Call[Deleted]:
    """`DELETE /v1/voices/{id}`."""
    return Call(Request("DELETE", _path("/v1/voices", voice_id)), _model(Deleted))


def voice_preview(voice_id: str, format: AudioFormat) -> Call[bytes]:
    """`GET /v1/voices/{id}/preview`: a short sample, in `format`."""
    request = Request("GET", _path("/v1/voices", voice_id, "preview"), params={"format": format})
    return Call(request, _content)


def voice_audio(voice_id: str) -> Call[bytes]:
    """`GET /v1/voices/{id}/audio`: a cloned voice's reference recording (WAV)."""
    return Call(Request("GET", _path("/v1/voices", voice_id, "audio")), _content)


def batch_item(
    item: str | BatchItem, *, voice: VoiceLike, model: str, format: AudioFormat, speed: float
) -> BatchItem:
    """A batch item; a bare text gets the batch's shared settings."""
    if isinstance(item, BatchItem):
        return item
    return BatchItem(
        input=item, voice=voice_field(voice), model=model, response_format=format, speed=speed
    )


def submit_job(
    items: Sequence[BatchItem],
    *,
    priority: int,
    webhook_url: str | None,
    metadata: Mapping[str, str] | None,
) -> Call[Job]:
    """`POST /v1/tts/batch`."""
    body: dict[str, Any] = {
        "items": [item.model_dump(exclude_none=True) for item in items],
        "priority": priority,
    }
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    if metadata:
        body["metadata"] = dict(metadata)
    return Call(Request("POST", "/v1/tts/batch", json=body, idempotent=False), _model(Job))


def get_job(job_id: str) -> Call[Job]:
    """`GET /v1/jobs/{id}`, with every item."""
    return Call(Request("GET", _path("/v1/jobs", job_id)), _model(Job))


def list_jobs(
    *,
    state: JobState | None,
    since: float | None,
    until: float | None,
    after: str | None,
    limit: int,
) -> Call[JobPage]:
    """`GET /v1/jobs`: newest first, a page at a time."""
    params = _drop_none(
        {"state": state, "since": since, "until": until, "after": after, "limit": limit}
    )
    return Call(Request("GET", "/v1/jobs", params=params), _model(JobPage))


def job_item(job_id: str, n: int) -> Call[bytes]:
    """`GET /v1/jobs/{id}/items/{n}`; an unfinished item is retried after its Retry-After."""
    return Call(Request("GET", _path("/v1/jobs", job_id, "items", str(n))), _content)


def job_results(job_id: str) -> Call[bytes]:
    """`GET /v1/jobs/{id}/results.zip`."""
    return Call(Request("GET", _path("/v1/jobs", job_id, "results.zip")), _content)


def cancel_job(job_id: str) -> Call[Job]:
    """`DELETE /v1/jobs/{id}`."""
    return Call(Request("DELETE", _path("/v1/jobs", job_id)), _model(Job))


@dataclass
class ReadyWaits:
    """Pauses between looks at `/ready`: at least its Retry-After, never past the deadline."""

    timeout: float
    interval: float
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout

    def left(self) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self._deadline - time.monotonic())

    def next_wait(self, base_url: str, last: Readiness) -> float:
        """Seconds until the next look; raises WaitTimeoutError once the time is up."""
        left = self.left()
        if left <= 0:
            raise WaitTimeoutError(
                f"{base_url} was not ready after {self.timeout} s (last seen: {last.state})"
            )
        # Retry-After is the least wait (a server saying 0 is not asked again in a busy loop).
        wait = max(last.retry_after or 0.0, self.interval)
        self.interval = min(self.interval * 1.5, 2.0)
        return min(wait, left)


@dataclass
class Poller:
    """When to look at a job again: soon at first, then less often, never past the deadline."""

    timeout: float | None
    interval: float
    max_interval: float
    _deadline: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.timeout is not None:
            self._deadline = time.monotonic() + self.timeout

    def next_wait(self, job: Job) -> float:
        """Seconds until the next look; raises WaitTimeoutError once the time is up."""
        wait = self.interval
        self.interval = min(self.interval * 1.5, self.max_interval)
        if self._deadline is None:
            return wait
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeoutError(
                f"job {job.id} is still {job.state} after {self.timeout} s "
                f"({job.counts.succeeded + job.counts.failed}/{job.item_count} items done)"
            )
        return min(wait, left)
