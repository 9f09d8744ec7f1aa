"""Typed answers of the Speaker API, as the SDK returns them (independent of the server's code)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
JobState = Literal["queued", "running", "succeeded", "completed_with_errors", "failed", "cancelled"]
ItemState = Literal["queued", "running", "succeeded", "failed", "cancelled"]

# The states a job never leaves.
FINISHED_JOB_STATES: frozenset[str] = frozenset(
    {"succeeded", "completed_with_errors", "failed", "cancelled"}
)


class ErrorDetail(BaseModel):
    """An error as the server describes it (a failed job item carries one)."""

    message: str
    type: str | None = None
    param: str | None = None
    code: str
    suggestion: str | None = None


class Voice(BaseModel):
    """A voice of the native library: built-in or cloned."""

    id: str
    name: str
    type: Literal["builtin", "cloned"]
    language: str
    gender: str | None = None
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    engines: list[str] = Field(default_factory=list)
    created_at: int | None = None
    updated_at: int | None = None
    transcript: str | None = None
    transcript_source: str | None = None
    quality: dict[str, Any] | None = None
    consent_id: str | None = None
    source: str = "builtin"
    owner: str | None = None
    shared: bool = False
    preview_url: str


class Deleted(BaseModel):
    """The answer to a deletion."""

    id: str
    deleted: bool


class Model(BaseModel):
    """A model name the speech endpoint accepts."""

    id: str
    created: int
    owned_by: str


class BatchItem(BaseModel):
    """One text of a batch job, with the fields of the speech endpoint."""

    input: str
    model: str = "tts-1"
    voice: str | dict[str, str] | None = None
    response_format: AudioFormat = "mp3"
    speed: float = 1.0
    instructions: str | None = None
    normalize: bool | None = None


class JobCounts(BaseModel):
    """A job's items by state."""

    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class JobItem(BaseModel):
    """One item of a job: its state, its error, where its audio is."""

    n: int
    state: ItemState
    response_format: AudioFormat
    characters: int
    attempts: int
    started_at: float | None = None
    finished_at: float | None = None
    audio_seconds: float | None = None
    bytes: int | None = None
    error: ErrorDetail | None = None
    worker: str | None = None
    url: str | None = None


class Job(BaseModel):
    """A batch job; `items` is filled by the calls about one job, not by listing."""

    id: str
    kind: str
    state: JobState
    priority: int
    created_at: float
    updated_at: float
    finished_at: float | None = None
    item_count: int
    counts: JobCounts
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    results_url: str
    items: list[JobItem] | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has reached a state it never leaves."""
        return self.state in FINISHED_JOB_STATES

    @property
    def progress(self) -> float:
        """The share of items that have finished, one way or another (0 to 1)."""
        done = self.counts.succeeded + self.counts.failed + self.counts.cancelled
        return done / self.item_count if self.item_count else 1.0


class JobPage(BaseModel):
    """A page of jobs, newest first; pass `last_id` as `after` for the next one."""

    data: list[Job]
    first_id: str | None
    last_id: str | None
    has_more: bool


class EngineStatus(BaseModel):
    """A loaded engine, as `/status` reports it."""

    model_config = ConfigDict(extra="allow")

    name: str
    model: str
    version: str | None = None
    device: str | None = None
    capabilities: dict[str, Any] = Field(default_factory=dict)


class Status(BaseModel):
    """The fields of `GET /status` most clients want; the rest are kept in `model_extra`."""

    model_config = ConfigDict(extra="allow")

    status: str
    version: str
    uptime_seconds: float
    default_engine: str
    default_voice: str
    engines: list[EngineStatus]
    voices: list[str]
    queue: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    """Tokens as OpenAI counts them: output tokens are 20 ms audio frames."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechChunk(BaseModel):
    """One text chunk's audio from `POST /v1/tts/stream`; all chunks' audio is one file."""

    type: Literal["chunk"] = "chunk"
    index: int
    text: str
    duration: float
    audio: Base64Bytes
    format: AudioFormat


class SpeechDone(BaseModel):
    """The last event of a successful SSE stream."""

    type: Literal["done"] = "done"
    chunks: int
    audio_seconds: float
    characters: int
    usage: Usage


class SessionReady(BaseModel):
    """A WebSocket session is open: audio will be in `format` at `sample_rate`."""

    voice: str
    sample_rate: int
    format: AudioFormat


class SessionAudio(BaseModel):
    """One chunk of a WebSocket session's audio; `text` and `duration` only in JSON mode."""

    type: Literal["audio"] = "audio"
    index: int
    audio: bytes
    text: str | None = None
    duration: float | None = None


class SessionDone(BaseModel):
    """The last message of a WebSocket session."""

    type: Literal["done"] = "done"
    chunks: int
    audio_seconds: float
    characters: int
    cancelled: bool = False


class Consent(BaseModel):
    """A stored consent recording (OpenAI's `audio.voice_consent`)."""

    id: str
    name: str
    language: str
    created_at: int


class ConsentPage(BaseModel):
    """Consents newest first; pass `last_id` as `after` for the next page."""

    data: list[Consent]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class ApiKey(BaseModel):
    """An API key as listed: never its secret."""

    id: str
    name: str
    prefix: str
    role: Literal["readonly", "user", "admin"]
    owner: str
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None
    requests_per_minute: int | None = None
    chars_per_minute: int | None = None


class CreatedApiKey(ApiKey):
    """A new key with its secrets: this object is the only place they are ever shown."""

    secret: str
    webhook_secret: str


class AuditEntry(BaseModel):
    """One entry of the audit log."""

    id: int
    at: float
    actor: str | None = None
    owner: str | None = None
    action: str
    target: str | None = None
    address: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPage(BaseModel):
    """Audit entries newest first; pass `next_cursor` as `cursor` for older ones."""

    data: list[AuditEntry]
    has_more: bool
    next_cursor: int | None = None
