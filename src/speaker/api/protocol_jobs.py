"""Wire models of batch jobs: `POST /v1/tts/batch` and `/v1/jobs`."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from speaker.api.protocol import ErrorDetail, VoiceRef, speech_order
from speaker.api.protocol_tts import Normalize, Speed
from speaker.audio.formats import AudioFormat
from speaker.auth.principal import Principal
from speaker.jobs.store import ITEM_STATES, JobDetail, JobRecord
from speaker.service import SpeechOrder

JobState = Literal["queued", "running", "succeeded", "completed_with_errors", "failed", "cancelled"]
ItemState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
WebhookState = Literal["pending", "delivered", "failed"]

# OpenAI's limits on `metadata`: 16 pairs, short keys, values up to 512 characters.
_METADATA_PAIRS = 16
_METADATA_KEY_CHARS = 64
_METADATA_VALUE_CHARS = 512


class BatchItem(BaseModel):
    """One text to speak, with the fields of `POST /v1/audio/speech`."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="Text to speak, up to SPEAKER_MAX_LONG_INPUT_CHARS.")
    model: str = Field(default="tts-1", description="tts-1, tts-1-hd or an engine name.")
    voice: str | VoiceRef | None = Field(
        default=None, description="A voice id, an OpenAI voice name, or {'id': ...}."
    )
    response_format: AudioFormat = AudioFormat.MP3
    speed: Speed = 1.0
    instructions: str | None = Field(default=None, max_length=4096)
    normalize: Normalize = None

    def to_order(self, client: str, viewer: Principal) -> SpeechOrder:
        """The service-level order of this item, on behalf of `viewer`."""
        return speech_order(
            self.input,
            self.model,
            self.voice,
            self.response_format,
            self.speed,
            self.normalize,
            client,
            viewer,
            instructions=self.instructions,
        )


class BatchRequest(BaseModel):
    """Body of `POST /v1/tts/batch`."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(
        min_length=1, description="What to speak; at most SPEAKER_JOB_MAX_ITEMS items."
    )
    priority: int = Field(
        default=5,
        ge=0,
        le=9,
        description="0 (first) to 9 (last) among batch jobs; live speech always goes first.",
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Receives a signed POST when the job finishes, fails or is cancelled.",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Up to 16 string pairs, returned with the job."
    )

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > _METADATA_PAIRS:
            raise ValueError(f"at most {_METADATA_PAIRS} pairs")
        for key, text in value.items():
            if len(key) > _METADATA_KEY_CHARS or len(text) > _METADATA_VALUE_CHARS:
                raise ValueError(
                    f"keys up to {_METADATA_KEY_CHARS} and values up to "
                    f"{_METADATA_VALUE_CHARS} characters"
                )
        return value


class JobCounts(BaseModel):
    """Items of a job by state."""

    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class JobItemObject(BaseModel):
    """One item of a job: its progress, its error, where its audio is."""

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
    worker: str | None = Field(
        default=None, description="The replica running the item, or the one that finished it."
    )
    url: str | None = Field(default=None, description="The audio, once the item succeeded.")


class WebhookDelivery(BaseModel):
    """One delivery attempt of a job's webhook."""

    attempt: int
    at: float
    event: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: float


class WebhookStatus(BaseModel):
    """Where a job's webhook stands."""

    url: str
    state: WebhookState | None = Field(description="null until the job finishes.")
    attempts: int
    next_attempt_at: float | None = None
    deliveries: list[WebhookDelivery] | None = Field(
        default=None, description="Every attempt (in GET /v1/jobs/{id} only)."
    )


class JobObject(BaseModel):
    """A batch job."""

    id: str
    object: Literal["job"] = "job"
    kind: str
    state: JobState
    priority: int
    created_at: float
    updated_at: float
    finished_at: float | None = None
    item_count: int
    counts: JobCounts
    metadata: dict[str, str]
    webhook: WebhookStatus | None = None
    results_url: str
    items: list[JobItemObject] | None = Field(
        default=None, description="Every item (in GET /v1/jobs/{id} and answers about one job)."
    )

    @classmethod
    def of(cls, job: JobRecord, detail: JobDetail | None = None) -> JobObject:
        """From a stored job; with its detail, items and deliveries too."""
        webhook = None
        if job.webhook_url:
            webhook = WebhookStatus(
                url=job.webhook_url,
                state=cast(WebhookState | None, job.webhook_state),
                attempts=job.webhook_attempts,
                next_attempt_at=job.webhook_next_at if job.webhook_state == "pending" else None,
                deliveries=None
                if detail is None
                else [WebhookDelivery(**d.__dict__) for d in detail.deliveries],
            )
        items = None
        if detail is not None:
            items = [
                JobItemObject(
                    n=i.n,
                    state=cast(ItemState, i.state),
                    response_format=AudioFormat(i.format),
                    characters=i.characters,
                    attempts=i.attempts,
                    started_at=i.started_at,
                    finished_at=i.finished_at,
                    audio_seconds=i.audio_seconds,
                    bytes=i.bytes,
                    error=_error(i.error),
                    worker=i.worker,
                    url=f"/v1/jobs/{job.id}/items/{i.n}" if i.state == "succeeded" else None,
                )
                for i in detail.items
            ]
        return cls(
            id=job.id,
            kind=job.kind,
            state=cast(JobState, job.state),
            priority=job.priority,
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
            item_count=job.item_count,
            counts=JobCounts(**{s: job.counts.get(s, 0) for s in ITEM_STATES}),
            metadata=job.metadata,
            webhook=webhook,
            results_url=f"/v1/jobs/{job.id}/results.zip",
            items=items,
        )


def _error(error: dict[str, Any] | None) -> ErrorDetail | None:
    if error is None:
        return None
    return ErrorDetail.model_validate(
        {k: v for k, v in error.items() if k in ErrorDetail.model_fields}
    )


class JobList(BaseModel):
    """A cursor page of jobs, newest first, as OpenAI lists things."""

    object: Literal["list"] = "list"
    data: list[JobObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
