"""OpenAI's model listing."""

from __future__ import annotations

from fastapi import APIRouter

from speaker.api.deps import RuntimeDep
from speaker.api.protocol import AudioModel, AudioModelList, ModelList, ModelObject
from speaker.engines.registry import model_names, resolve_model
from speaker.errors import InvalidRequestError, NotFoundError
from speaker.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["openai"])


def _models(runtime: Runtime) -> list[ModelObject]:
    created = int(runtime.created_at)
    return [ModelObject(id=name, created=created) for name in model_names(runtime.engines)]


@router.get("/models", summary="Model names the speech endpoint accepts")
async def list_models(runtime: RuntimeDep) -> ModelList:
    """Every model name, OpenAI's and Speaker's engines."""
    return ModelList(data=_models(runtime))


@router.get("/audio/models", summary="Speech model names, as Open WebUI lists them")
async def list_audio_models(runtime: RuntimeDep) -> AudioModelList:
    """The same names as `/v1/models`, in the `{"models": [...]}` shape Open WebUI asks for."""
    return AudioModelList(
        models=[AudioModel(id=name, name=name) for name in model_names(runtime.engines)]
    )


@router.get("/models/{model_id}", summary="One model")
async def get_model(model_id: str, runtime: RuntimeDep) -> ModelObject:
    """A model by name (dated OpenAI names included), or 404."""
    try:
        resolve_model(model_id, runtime.engines, runtime.settings.default_engine)
    except InvalidRequestError as exc:
        raise NotFoundError(
            exc.message, code=exc.code, param=exc.param, suggestion=exc.suggestion
        ) from None
    return ModelObject(id=model_id, created=int(runtime.created_at))
