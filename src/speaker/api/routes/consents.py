"""OpenAI's voice-consent endpoints: the speaker's recorded permission to clone their voice."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Query, UploadFile

from speaker.api.deps import Audit, CurrentPrincipal, ReadyRuntime
from speaker.api.protocol_voices import ConsentDeleted, ConsentList, ConsentObject, ConsentUpdate
from speaker.api.uploads import read_upload
from speaker.auth.audit import Action
from speaker.voices.library import check_name

router = APIRouter(prefix="/v1/audio/voice_consents", tags=["voices"])


@router.post("", summary="Upload a consent recording (OpenAI-compatible)")
async def create_consent(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    audit: Audit,
    recording: UploadFile,
    name: Annotated[str, Form(max_length=256)],
    language: Annotated[str, Form(min_length=2, max_length=35)],
) -> ConsentObject:
    """Store the speaker's spoken consent; a voice upload must name one."""
    data = await read_upload(recording, runtime.settings.max_voice_upload_bytes, "recording")
    record = await asyncio.to_thread(
        runtime.consents.create,
        data,
        name=check_name(name),
        language=language,
        owner=caller.owner,
    )
    await audit.record(Action.CONSENT_CREATE, record.id, name=record.name)
    return ConsentObject.of(record)


@router.get("", summary="List consent recordings")
async def list_consents(
    runtime: ReadyRuntime,
    caller: CurrentPrincipal,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConsentList:
    """Newest first, paged with `after` and `limit` like OpenAI's lists."""
    records, more = runtime.consents.page(viewer=caller, after=after, limit=limit)
    data = [ConsentObject.of(r) for r in records]
    return ConsentList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=more,
    )


@router.get("/{consent_id}", summary="Retrieve a consent recording")
async def get_consent(
    runtime: ReadyRuntime, caller: CurrentPrincipal, consent_id: str
) -> ConsentObject:
    """One consent by id."""
    return ConsentObject.of(runtime.consents.get(consent_id, viewer=caller))


@router.post("/{consent_id}", summary="Rename a consent recording")
async def update_consent(
    runtime: ReadyRuntime, caller: CurrentPrincipal, consent_id: str, body: ConsentUpdate
) -> ConsentObject:
    """Change the consent's label."""
    renamed = runtime.consents.rename(consent_id, check_name(body.name), viewer=caller)
    return ConsentObject.of(renamed)


@router.delete("/{consent_id}", summary="Delete a consent recording")
async def delete_consent(
    runtime: ReadyRuntime, caller: CurrentPrincipal, audit: Audit, consent_id: str
) -> ConsentDeleted:
    """Remove the consent and its audio."""
    record = runtime.consents.delete(consent_id, viewer=caller)
    await audit.record(Action.CONSENT_DELETE, consent_id, name=record.name)
    return ConsentDeleted(id=consent_id)
