"""Pydantic wire models of the HTTP API (OpenAI's shapes where OpenAI defines them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import Principal
from speaker.service import SpeechOrder


class VoiceRef(BaseModel):
    """A library voice named by id, as OpenAI's custom voices are: `{"id": "voice_…"}`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)


def speech_order(
    text: str,
    model: str,
    voice: str | VoiceRef | None,
    fmt: AudioFormat,
    speed: float,
    normalize: bool | None,
    client: str,
    viewer: Principal,
    *,
    instructions: str | None = None,
) -> SpeechOrder:
    """The service-level order of a request's wire fields, on behalf of `viewer`."""
    return SpeechOrder(
        text=text,
        model=model,
        voice=voice.id if isinstance(voice, VoiceRef) else voice,
        voice_by_id=isinstance(voice, VoiceRef),
        fmt=fmt,
        speed=speed,
        instructions=instructions,
        normalize=normalize,
        client=client,
        viewer=viewer,
    )


class SpeechRequest(BaseModel):
    """Body of `POST /v1/audio/speech`: every field of OpenAI's spec plus Speaker's `normalize`."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        default="tts-1", description="tts-1, tts-1-hd, gpt-4o-mini-tts* or an engine"
    )
    input: str = Field(description="Text to speak.")
    voice: str | VoiceRef | None = Field(
        default=None, description="A voice id, an OpenAI voice name, or {'id': ...}."
    )
    instructions: str | None = Field(
        default=None,
        max_length=4096,
        description="Style instructions; engines that cannot use them ignore them "
        "(the response then carries `x-speaker-instructions: ignored`).",
    )
    response_format: AudioFormat = Field(default=AudioFormat.MP3)
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse"] = "audio"
    normalize: bool | None = Field(
        default=None,
        description="Speaker extension: expand numbers, dates, symbols… (server default: on).",
    )

    def to_order(self, client: str, viewer: Principal) -> SpeechOrder:
        """The service-level order this request describes, on behalf of a client."""
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


class ModelObject(BaseModel):
    """One entry of `GET /v1/models`."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "speaker"


class ModelList(BaseModel):
    """Body of `GET /v1/models`."""

    object: Literal["list"] = "list"
    data: list[ModelObject]


class AudioModel(BaseModel):
    """One entry of `GET /v1/audio/models`."""

    id: str
    name: str


class AudioModelList(BaseModel):
    """Body of `GET /v1/audio/models`: the shape Open WebUI reads from OpenAI-compatible servers."""

    models: list[AudioModel]


class VoiceObject(BaseModel):
    """A voice as `GET /v1/audio/voices` lists it."""

    id: str
    name: str
    object: Literal["voice"] = "voice"
    engine: str
    language: str
    gender: str | None = None
    description: str = ""
    tags: list[str] = []
    sample_rate: int
    source: str
    aliases: list[str] = []


class VoiceList(BaseModel):
    """Body of `GET /v1/audio/voices`: `voices` is what Open WebUI reads, `data` OpenAI-style."""

    object: Literal["list"] = "list"
    voices: list[VoiceObject]
    data: list[VoiceObject]
    default: str


class ErrorDetail(BaseModel):
    """The inside of every error response."""

    message: str
    type: str
    param: str | None = None
    code: str
    suggestion: str | None = None


class ErrorResponse(BaseModel):
    """Every error: `{"error": {...}}`."""

    error: ErrorDetail
