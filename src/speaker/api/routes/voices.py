"""Voice listing (not in OpenAI's spec, but Open WebUI and others call it)."""

from __future__ import annotations

from fastapi import APIRouter

from speaker.api.deps import ReadyRuntime
from speaker.api.protocol import VoiceList, VoiceObject

router = APIRouter(prefix="/v1/audio", tags=["openai"])


@router.get("/voices", summary="Voices and the OpenAI names mapped onto them")
async def list_voices(runtime: ReadyRuntime, engine: str | None = None) -> VoiceList:
    """Every voice; `engine` filters."""
    catalog = runtime.catalog
    voices = [
        VoiceObject(
            id=v.id,
            name=v.name,
            engine=v.engine,
            language=v.language,
            gender=v.gender,
            description=v.description,
            tags=list(v.tags),
            sample_rate=v.sample_rate,
            source=v.source,
            aliases=catalog.aliases_of(v.id),
        )
        for v in catalog.voices(engine)
    ]
    return VoiceList(voices=voices, data=voices, default=catalog.default_voice)
