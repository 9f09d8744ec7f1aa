"""The `info` answer to `describe`: Speaker as one TTS program with every voice it can speak."""

from __future__ import annotations

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from speaker.auth.principal import Principal
from speaker.runtime import Runtime

PIPER_URL = "https://github.com/rhasspy/piper"
# Speaker has no public home page yet: Wyoming requires a URL field, left empty.
SPEAKER_URL = ""


def describe(runtime: Runtime, viewer: Principal) -> Info:
    """Built-in voices, then the cloned voices `viewer` may use when a cloning engine runs."""
    catalog = runtime.catalog
    voices = [
        TtsVoice(
            name=voice.id,
            attribution=_engine_attribution(voice.engine),
            installed=True,
            description=_description(voice.name, catalog.aliases_of(voice.id)),
            version=None,
            languages=[voice.language],
        )
        for voice in catalog.voices()
    ]
    if runtime.library.cloning_engines:
        voices += [
            TtsVoice(
                name=record.id,
                attribution=Attribution(name="cloned in Speaker", url=SPEAKER_URL),
                installed=True,
                description=record.name,
                version=None,
                languages=[record.language],
            )
            for record in runtime.library.search(viewer=viewer)
        ]
    program = TtsProgram(
        name="speaker",
        attribution=Attribution(name="Speaker", url=SPEAKER_URL),
        installed=True,
        description="Speaker text-to-speech",
        version=runtime.version,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


def _description(name: str, aliases: list[str]) -> str:
    # Home Assistant shows the description in its voice picker: the OpenAI names mapped onto a
    # voice tell users which names they already know reach it.
    return f"{name} ({', '.join(aliases)})" if aliases else name


def _engine_attribution(engine: str) -> Attribution:
    return (
        Attribution(name="Piper", url=PIPER_URL)
        if engine == "piper"
        else Attribution(name=engine, url=SPEAKER_URL)
    )
