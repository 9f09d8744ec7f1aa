"""Cloned voices: OpenAI's custom-voice endpoints and Speaker's native voice library."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Query, Response, UploadFile

from speaker.api.deps import Audit, AuditTrail, CurrentPrincipal, ReadyRuntime
from speaker.api.protocol_voices import (
    ImportResult,
    LibraryVoice,
    LibraryVoiceList,
    OpenAIVoice,
    VoiceDeleted,
    VoiceUpdate,
)
from speaker.api.uploads import read_upload
from speaker.audio.formats import AudioFormat, content_type
from speaker.auth.audit import Action
from speaker.auth.principal import Principal
from speaker.errors import InvalidRequestError
from speaker.runtime import Runtime
from speaker.voices.records import VoiceFilter, VoiceRecord

openai_router = APIRouter(prefix="/v1/audio/voices", tags=["voices"])
router = APIRouter(prefix="/v1/voices", tags=["voices"])


def _cloned(runtime: Runtime, record: VoiceRecord) -> LibraryVoice:
    return LibraryVoice.cloned(record, [e.name for e in runtime.library.cloning_engines])


def _builtin(runtime: Runtime) -> list[LibraryVoice]:
    return [
        LibraryVoice(
            id=v.id,
            name=v.name,
            type="builtin",
            language=v.language,
            gender=v.gender,
            tags=list(v.tags),
            description=v.description,
            engines=[v.engine],
            source=v.source,
            preview_url=f"/v1/voices/{v.id}/preview",
        )
        for v in runtime.catalog.voices()
    ]


@openai_router.post("", summary="Create a custom voice (OpenAI-compatible)")
async def create_openai_voice(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    audit: Audit,
    audio_sample: UploadFile,
    consent: Annotated[str, Form()],
    name: Annotated[str, Form(max_length=256)],
    transcript: Annotated[str | None, Form(max_length=2000)] = None,
    language: Annotated[str | None, Form(max_length=35)] = None,
) -> OpenAIVoice:
    """Clone a voice from a sample; `consent` must name a stored consent recording."""
    given = runtime.consents.get(consent, viewer=caller)
    data = await read_upload(audio_sample, runtime.settings.max_voice_upload_bytes, "audio_sample")
    record = await asyncio.to_thread(
        runtime.library.create,
        data,
        name=name,
        language=language or given.language,
        transcript=transcript,
        consent_id=given.id,
        owner=caller.owner,
    )
    await audit.record(Action.VOICE_CREATE, record.id, name=record.name, consent=given.id)
    return OpenAIVoice(**record.to_openai())


@openai_router.delete("/{voice_id}", summary="Delete a custom voice (OpenAI-compatible)")
async def delete_openai_voice(
    runtime: ReadyRuntime, caller: CurrentPrincipal, audit: Audit, voice_id: str
) -> VoiceDeleted:
    """Remove a cloned voice and everything stored for it."""
    return await _delete(runtime, caller, audit, voice_id)


@router.get("", summary="List voices, built-in and cloned")
async def list_voices(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    language: str | None = None,
    tag: str | None = None,
    engine: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(pattern="^(builtin|cloned)$")] = None,
) -> LibraryVoiceList:
    """Filter by language prefix (`en`), tag, engine that can speak it, name search or type."""
    wanted = VoiceFilter(language=language, tag=tag, engine=engine, query=q)
    cloned = [_cloned(runtime, r) for r in runtime.library.search(wanted, viewer=caller)]
    builtin = [
        v
        for v in _builtin(runtime)
        if wanted.accepts(
            name=v.name,
            description=v.description,
            language=v.language,
            tags=v.tags,
            engines=v.engines,
        )
    ]
    voices = {"cloned": cloned, "builtin": builtin}
    data = [v for kind in ("cloned", "builtin") if type in (None, kind) for v in voices[kind]]
    return LibraryVoiceList(data=data)


@router.post("", summary="Clone a voice from reference audio", status_code=201)
async def create_voice(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    audit: Audit,
    audio: UploadFile,
    name: Annotated[str, Form(max_length=256)],
    transcript: Annotated[str | None, Form(max_length=2000)] = None,
    language: Annotated[str, Form(min_length=2, max_length=35)] = "en",
    gender: Annotated[str | None, Form(max_length=32)] = None,
    tags: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    consent: Annotated[str | None, Form()] = None,
) -> LibraryVoice:
    """Check the audio (3–30 s of speech), transcribe it if no transcript is given, store it."""
    if consent is not None:
        runtime.consents.get(consent, viewer=caller)
    elif runtime.settings.require_consent:
        raise InvalidRequestError(
            "this server requires a consent recording for every cloned voice",
            code="consent_required",
            param="consent",
            suggestion="upload one with POST /v1/audio/voice_consents and pass its id",
        )
    data = await read_upload(audio, runtime.settings.max_voice_upload_bytes, "audio")
    record = await asyncio.to_thread(
        runtime.library.create,
        data,
        name=name,
        language=language,
        transcript=transcript,
        gender=gender,
        tags=tags.split(","),
        description=description,
        consent_id=consent,
        owner=caller.owner,
        param="audio",
    )
    await audit.record(Action.VOICE_CREATE, record.id, name=record.name, consent=consent)
    return _cloned(runtime, record)


@router.get("/export", summary="Export cloned voices as a zip")
async def export_voices(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    ids: Annotated[str | None, Query(max_length=10_000)] = None,
) -> Response:
    """A zip with a manifest and reference recordings: voices in `ids` (comma list), else all."""
    library = runtime.library
    wanted = [i for i in (ids or "").split(",") if i] or [
        v.id for v in library.search(viewer=caller)
    ]
    data = await asyncio.to_thread(library.export, wanted, viewer=caller)
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": 'attachment; filename="speaker-voices.zip"'},
    )


@router.post("/import", summary="Import voices from an export zip", status_code=201)
async def import_voices(
    runtime: ReadyRuntime, caller: CurrentPrincipal, audit: Audit, file: UploadFile
) -> ImportResult:
    """Each voice in the zip passes the same checks as an upload and gets a new id."""
    data = await read_upload(file, runtime.settings.max_voice_upload_bytes * 10, "file")
    records = await asyncio.to_thread(runtime.library.import_zip, data, owner=caller.owner)
    await audit.record(Action.VOICE_IMPORT, voices=[r.id for r in records])
    return ImportResult(data=[_cloned(runtime, r) for r in records])


@router.get("/{voice_id}", summary="One voice")
async def get_voice(runtime: ReadyRuntime, caller: CurrentPrincipal, voice_id: str) -> LibraryVoice:
    """A cloned voice with its quality report and transcript, or a built-in voice."""
    for builtin in _builtin(runtime):
        if builtin.id == voice_id:
            return builtin
    return _cloned(runtime, runtime.library.get(voice_id, viewer=caller))


@router.patch("/{voice_id}", summary="Update a cloned voice's metadata")
async def update_voice(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    audit: Audit,
    voice_id: str,
    body: VoiceUpdate,
) -> LibraryVoice:
    """Change metadata, or `shared` (every key may use the voice): owner or admin only."""
    changes = body.changes()
    record = await asyncio.to_thread(runtime.library.update, voice_id, changes, viewer=caller)
    edited = sorted(set(changes) - {"shared"})
    if edited:
        await audit.record(Action.VOICE_UPDATE, voice_id, fields=edited)
    if "shared" in changes:
        action = Action.VOICE_SHARE if record.shared else Action.VOICE_UNSHARE
        await audit.record(action, voice_id, name=record.name)
    return _cloned(runtime, record)


@router.delete("/{voice_id}", summary="Delete a cloned voice")
async def delete_voice(
    runtime: ReadyRuntime, caller: CurrentPrincipal, audit: Audit, voice_id: str
) -> VoiceDeleted:
    """Remove a cloned voice and everything stored for it."""
    return await _delete(runtime, caller, audit, voice_id)


async def _delete(
    runtime: Runtime, caller: Principal, audit: AuditTrail, voice_id: str
) -> VoiceDeleted:
    record = await asyncio.to_thread(runtime.library.delete, voice_id, viewer=caller)
    await audit.record(Action.VOICE_DELETE, voice_id, name=record.name)
    return VoiceDeleted(id=voice_id)


@router.get("/{voice_id}/audio", summary="A cloned voice's reference recording (WAV)")
async def voice_audio(runtime: ReadyRuntime, caller: CurrentPrincipal, voice_id: str) -> Response:
    """The trimmed, resampled reference audio the voice was cloned from."""
    path = runtime.library.reference_path(voice_id, viewer=caller)
    return Response(path.read_bytes(), media_type="audio/wav")


@router.get("/{voice_id}/preview", summary="A short sample of a voice")
async def preview_voice(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    voice_id: str,
    format: AudioFormat = AudioFormat.MP3,
) -> Response:
    """Synthesized once per voice, engine version and format, then served from disk."""
    preview = await runtime.previews.render(voice_id, format, caller)
    return Response(
        preview.data,
        media_type=content_type(preview.fmt),
        headers={"x-speaker-preview": preview.kind},
    )
