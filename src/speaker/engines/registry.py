"""Which engines exist, how to build them, and which model names reach them."""

from __future__ import annotations

from collections.abc import Callable, Collection

from speaker.config import Settings
from speaker.engines.base import Engine
from speaker.errors import InvalidRequestError

# OpenAI's model names all reach the default engine: clients hard-code them.
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
_OPENAI_PREFIXES = ("gpt-4o-mini-tts",)


def _build_piper(settings: Settings) -> Engine:
    from speaker.engines.piper import PiperEngine

    return PiperEngine(
        settings.resolved_voices_dir,
        threads=settings.engine_threads,
        memory_arena=settings.engine_memory_arena,
        conv2d=settings.engine_conv2d,
    )


def _build_csm(settings: Settings) -> Engine:
    # Imported here: torch and transformers come with the `csm` extra, not the base install.
    from speaker.engines.csm.errors import CsmUnavailableError

    try:
        from speaker.engines.csm.engine import CsmEngine
    except ImportError as exc:
        raise CsmUnavailableError(f"PyTorch and transformers ({exc})") from exc
    return CsmEngine.from_settings(settings)


ENGINE_BUILDERS: dict[str, Callable[[Settings], Engine]] = {
    "piper": _build_piper,
    "csm": _build_csm,
}


def build_engines(settings: Settings) -> dict[str, Engine]:
    """Build (not load) the configured engines, the default one first."""
    unknown = [name for name in settings.engine_names if name not in ENGINE_BUILDERS]
    if unknown:
        raise ValueError(
            f"SPEAKER_DEFAULT_ENGINE / SPEAKER_ENGINES name unknown engine(s) {unknown}; "
            f"choose from {sorted(ENGINE_BUILDERS)}"
        )
    return {name: ENGINE_BUILDERS[name](settings) for name in settings.engine_names}


def model_names(engines: Collection[str]) -> list[str]:
    """Every value the `model` field accepts."""
    return [*OPENAI_MODELS, *engines]


def resolve_model(model: str, engines: Collection[str], default_engine: str) -> str:
    """The engine name a `model` field asks for."""
    if model in engines:
        return model
    if model in OPENAI_MODELS or model.startswith(_OPENAI_PREFIXES):
        return default_engine
    raise InvalidRequestError(
        f"model {model!r} does not exist on this server",
        code="model_not_found",
        param="model",
        suggestion=f"use one of: {', '.join(model_names(engines))}",
        extra={"available": model_names(engines)},
    )
