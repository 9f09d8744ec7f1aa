"""`POST /v1/audio/vc`: speak text in the voice of reference audio sent with the request."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import StreamingResponse

from speaker.api.auth import charge_characters
from speaker.api.deps import ClientId, CurrentPrincipal, ReadyRuntime, Trace
from speaker.api.streaming import audio_response, begin
from speaker.api.uploads import read_upload
from speaker.audio.formats import AudioFormat
from speaker.engines.base import CloningEngine
from speaker.service import SpeechOrder

router = APIRouter(prefix="/v1/audio", tags=["voices"])


@router.post("/vc", summary="Speak in the voice of uploaded reference audio, without storing it")
async def voice_clone_speech(
    runtime: ReadyRuntime,
    client: ClientId,
    request: Request,
    caller: CurrentPrincipal,
    trace: Trace,
    reference_audio: UploadFile,
    input: Annotated[str, Form(min_length=1)],
    reference_text: Annotated[str | None, Form(max_length=2000)] = None,
    model: Annotated[str, Form()] = "tts-1",
    response_format: Annotated[AudioFormat, Form()] = AudioFormat.MP3,
    speed: Annotated[float, Form(ge=0.25, le=4.0)] = 1.0,
    language: Annotated[str, Form(min_length=2, max_length=35)] = "en",
) -> StreamingResponse:
    """The reference (3–30 s of speech, transcribed if `reference_text` is absent) conditions
    a cloning engine for this request only; the audio streams back as it is made."""
    await charge_characters(request, len(input))
    service = runtime.service
    engine = runtime.engines[service.cloning_engine(model, "speaking from reference audio")]
    assert isinstance(engine, CloningEngine)
    data = await read_upload(
        reference_audio, runtime.settings.max_voice_upload_bytes, "reference_audio"
    )
    reference = await asyncio.to_thread(
        runtime.library.adhoc_reference, data, reference_text, engine, "reference_audio"
    )
    order = SpeechOrder(
        text=input,
        model=engine.name,
        fmt=response_format,
        speed=speed,
        client=client,
        viewer=caller,
        reference=reference,
        language=language,
    )
    speech = await service.prepare(order)
    return audio_response(await begin(service, speech, trace))
