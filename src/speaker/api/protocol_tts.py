"""Pydantic wire models of Speaker's own streaming routes: `/v1/tts/stream`, `/long` and `/ws`."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from speaker.api.protocol import VoiceRef, speech_order
from speaker.audio.formats import OUTPUT_SAMPLE_RATE, AudioFormat
from speaker.auth.principal import Principal
from speaker.service import SpeechOrder

Speed = Annotated[float, Field(ge=0.25, le=4.0, description="Speaking rate, 0.25 to 4.0.")]
Normalize = Annotated[
    bool | None,
    Field(description="Expand numbers, dates, symbols… (server default: on)."),
]


class _TextRequest(BaseModel):
    """Fields every text-in, audio-out route shares with `POST /v1/audio/speech`."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(default="tts-1", description="tts-1, tts-1-hd or an engine name.")
    input: str = Field(description="Text to speak.")
    voice: str | VoiceRef | None = Field(
        default=None, description="A voice id, an OpenAI voice name, or {'id': ...}."
    )
    response_format: AudioFormat = AudioFormat.MP3
    speed: Speed = 1.0
    normalize: Normalize = None

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
        )


class StreamRequest(_TextRequest):
    """Body of `POST /v1/tts/stream`: audio chunk by chunk as server-sent events."""

    response_format: AudioFormat = Field(
        default=AudioFormat.PCM, description="Format of the file the chunks' audio makes up."
    )
    first_chunk_chars: int | None = Field(
        default=None,
        ge=10,
        le=2000,
        description="Budget of the first text chunk: smaller starts audio sooner "
        "(server default: SPEAKER_FIRST_CHUNK_CHARS).",
    )
    max_chunk_chars: int | None = Field(
        default=None,
        ge=20,
        le=10_000,
        description="Budget of later text chunks (server default: SPEAKER_MAX_CHUNK_CHARS).",
    )

    def to_order(self, client: str, viewer: Principal) -> SpeechOrder:
        """The order, with this request's chunk budgets."""
        return replace(
            super().to_order(client, viewer),
            first_chunk_chars=self.first_chunk_chars,
            max_chunk_chars=self.max_chunk_chars,
        )

    @model_validator(mode="after")
    def _budgets_in_order(self) -> StreamRequest:
        first, most = self.first_chunk_chars, self.max_chunk_chars
        if first is not None and most is not None and first > most:
            raise ValueError("first_chunk_chars must not exceed max_chunk_chars")
        return self


class LongRequest(_TextRequest):
    """Body of `POST /v1/tts/long`: long-form text (up to SPEAKER_MAX_LONG_INPUT_CHARS)."""


class Usage(BaseModel):
    """Tokens as OpenAI counts them: output tokens are 20 ms audio frames."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


class ChunkEvent(BaseModel):
    """Data of an SSE `chunk` event: one text chunk's audio."""

    index: int = Field(description="Position of the chunk, from 0.")
    text: str = Field(description="The (normalized) text this audio speaks.")
    duration: float = Field(description="Seconds of audio in this chunk.")
    audio: str = Field(
        description="Base64 of this chunk's bytes; all chunks' bytes together make one file."
    )
    format: AudioFormat


class DoneEvent(BaseModel):
    """Data of the SSE `done` event that ends a successful stream."""

    chunks: int
    audio_seconds: float
    characters: int
    usage: Usage


# WebSocket messages. Client → server:


class StartMessage(BaseModel):
    """Opens a session; optional, a session that sends text first gets these defaults."""

    type: Literal["start"]
    voice: str | VoiceRef | None = None
    model: str = "tts-1"
    response_format: AudioFormat = AudioFormat.PCM
    speed: Speed = 1.0
    normalize: Normalize = None
    binary: bool = Field(
        default=True, description="Audio as binary frames; false sends JSON `audio` messages."
    )

    def to_order(self, default_voice: str | None, client: str, viewer: Principal) -> SpeechOrder:
        """The order of a live session; the path's voice applies unless this names one."""
        voice = self.voice if self.voice is not None else default_voice
        return speech_order(
            "", self.model, voice, self.response_format, self.speed, self.normalize, client, viewer
        )


class TextMessage(BaseModel):
    """More text; complete sentences start synthesizing at once."""

    type: Literal["text"]
    # Pieces are normalized on the event loop as they arrive: small pieces keep that cheap.
    text: str = Field(max_length=4096)


class FlushMessage(BaseModel):
    """Synthesize what has arrived, even an unfinished sentence."""

    type: Literal["flush"]


class CloseMessage(BaseModel):
    """No more text: finish the audio, send `done`, close."""

    type: Literal["close"]


class CancelMessage(BaseModel):
    """Drop pending audio, send `done`, close."""

    type: Literal["cancel"]


ClientMessage = Annotated[
    StartMessage | TextMessage | FlushMessage | CloseMessage | CancelMessage,
    Field(discriminator="type"),
]
client_message: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# Server → client:


class ReadyMessage(BaseModel):
    """The session is open; audio will be in `format` at `sample_rate`."""

    type: Literal["ready"] = "ready"
    voice: str
    sample_rate: int = OUTPUT_SAMPLE_RATE
    format: AudioFormat


class AudioMessage(BaseModel):
    """One chunk's audio when the session asked for `binary: false`."""

    type: Literal["audio"] = "audio"
    index: int
    text: str
    audio: str
    duration: float


class SessionDoneMessage(BaseModel):
    """The last message of a session that ended normally or by `cancel`."""

    type: Literal["done"] = "done"
    chunks: int
    audio_seconds: float
    characters: int
    cancelled: bool = False
