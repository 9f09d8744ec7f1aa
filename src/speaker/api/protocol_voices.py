"""Wire models of the voice library and consent endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from speaker.voices.records import ConsentRecord, VoiceRecord


class ConsentObject(BaseModel):
    """OpenAI's `audio.voice_consent`."""

    id: str
    object: Literal["audio.voice_consent"] = "audio.voice_consent"
    name: str
    language: str
    created_at: int

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentObject:
        """From a stored consent."""
        return cls(**record.to_openai())


class ConsentList(BaseModel):
    """A cursor page of consents, as OpenAI lists them."""

    object: Literal["list"] = "list"
    data: list[ConsentObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ConsentUpdate(BaseModel):
    """The one editable field of a consent."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)


class ConsentDeleted(BaseModel):
    """Answer to deleting a consent."""

    id: str
    object: Literal["audio.voice_consent"] = "audio.voice_consent"
    deleted: bool = True


class OpenAIVoice(BaseModel):
    """OpenAI's `audio.voice`."""

    id: str
    object: Literal["audio.voice"] = "audio.voice"
    name: str
    created_at: int
    type: Literal["audio_sample"] = "audio_sample"


class VoiceDeleted(BaseModel):
    """Answer to deleting a voice."""

    id: str
    object: Literal["audio.voice.deleted"] = "audio.voice.deleted"
    deleted: bool = True


class LibraryVoice(BaseModel):
    """A voice as the native API shows it: built-in or cloned, with what is known about it."""

    id: str
    object: Literal["voice"] = "voice"
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
    """The owner of the key that cloned the voice; None for voices made with auth off."""
    shared: bool = False
    """True when every key may use this cloned voice, not only its owner's."""
    preview_url: str

    @classmethod
    def cloned(cls, record: VoiceRecord, engines: list[str]) -> LibraryVoice:
        """A cloned voice, speakable by the given engines."""
        return cls(
            id=record.id,
            name=record.name,
            type="cloned",
            language=record.language,
            gender=record.gender,
            tags=list(record.tags),
            description=record.description,
            engines=engines,
            created_at=record.created_at,
            updated_at=record.updated_at,
            transcript=record.transcript,
            transcript_source=record.transcript_source,
            quality=record.quality,
            consent_id=record.consent_id,
            source=record.source,
            owner=record.owner,
            shared=record.shared,
            preview_url=f"/v1/voices/{record.id}/preview",
        )


class LibraryVoiceList(BaseModel):
    """Voices matching a filter."""

    object: Literal["list"] = "list"
    data: list[LibraryVoice]


class VoiceUpdate(BaseModel):
    """Editable metadata of a cloned voice; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=256)
    language: str | None = Field(default=None, min_length=2, max_length=35)
    gender: str | None = Field(default=None, max_length=32)
    tags: list[str] | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2000)
    transcript: str | None = Field(default=None, min_length=1, max_length=2000)
    shared: bool | None = Field(
        default=None,
        description="Let every key use the voice (its owner or an admin may change this).",
    )

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


class ImportResult(BaseModel):
    """Voices created from an uploaded export."""

    object: Literal["list"] = "list"
    data: list[LibraryVoice]
