"""Voice listing (not in OpenAI's spec, but Open WebUI and others call it)."""

from __future__ import annotations

from fastapi import APIRouter

from speaker.api.deps import CurrentPrincipal, ReadyRuntime
from speaker.api.protocol import VoiceList, VoiceObject

router = APIRouter(prefix="/v1/audio", tags=["openai"])


@router.get("/voices", summary="Voices and the OpenAI names mapped onto them")
async def list_voices(
    runtime: ReadyRuntime, caller: CurrentPrincipal, engine: str | None = None
) -> VoiceList:
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
    cloning = [e.name for e in runtime.library.cloning_engines]
    if engine is None or engine in cloning:
        # Cloned voices are listed too, so Open WebUI and similar clients can offer them.
        voices += [
            VoiceObject(
                id=r.id,
                name=r.name,
                engine=engine or (cloning[0] if cloning else ""),
                language=r.language,
                gender=r.gender,
                description=r.description,
                tags=list(r.tags),
                sample_rate=24_000,
                source="cloned",
                aliases=[],
            )
            for r in runtime.library.search(viewer=caller)
        ]
    return VoiceList(voices=voices, data=voices, default=catalog.default_voice)
