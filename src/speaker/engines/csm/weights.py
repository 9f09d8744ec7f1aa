"""Where CSM checkpoints live on disk, and how they get there (no torch needed here).

A model name is a Hugging Face repo id; its checkpoint lives in `<models_dir>/<last part of the
id>` (`sesame/csm-1b` -> `<models_dir>/csm-1b`). A directory with a `config.json` is installed.
Anything else is downloaded from the hub, unless downloads are switched off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from speaker.engines.csm.errors import (
    CsmUnavailableError,
    WeightsDownloadError,
    WeightsMissingError,
)

log = logging.getLogger(__name__)

CSM_REPO = "sesame/csm-1b"


@dataclass(frozen=True)
class KnownModel:
    """A checkpoint `speaker models pull` knows by a short name."""

    repo_id: str
    engine: str


KNOWN_MODELS = {"csm-1b": KnownModel(CSM_REPO, "csm")}
# config.json's `model_type` -> the engine that reads such a checkpoint.
ENGINE_OF_MODEL_TYPE = {"csm": "csm"}
# Only what the transformers checkpoint needs: the hub repo also holds the original `ckpt.pt`
# (pickle, several GB), which Speaker neither needs nor would ever load.
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]
# Bumped whenever `condition()` or the prompt layout changes, so stored conditioning is redone.
CONDITIONING_METHOD = "1"
_TRUE = {"1", "true", "yes", "on"}


def model_directory(model: str, models_dir: Path) -> Path:
    """The directory a model name resolves to: `<models_dir>/<last part of the repo id>`."""
    name = model.rstrip("/").rsplit("/", 1)[-1]
    if not name or name in {".", ".."}:
        raise WeightsMissingError(
            f"{model!r} is not a model name", code="model_not_found", param="SPEAKER_CSM_MODEL"
        )
    return models_dir / name


def is_installed(directory: Path) -> bool:
    """Whether a directory holds a checkpoint (a `config.json`; downloads land there last)."""
    return (directory / "config.json").is_file()


def hub_offline() -> bool:
    """Whether `HF_HUB_OFFLINE` forbids talking to the hub."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def pull_command(model: str) -> str:
    """The CLI command that downloads a model, using its short name where it has one."""
    short = next((name for name, known in KNOWN_MODELS.items() if known.repo_id == model), model)
    return f"speaker models pull {short}"


def resolve_weights(model: str, models_dir: Path, *, offline: bool) -> Path:
    """The checkpoint directory of a model, downloading it first unless `offline`."""
    directory = model_directory(model, models_dir)
    if is_installed(directory):
        return directory
    if offline or hub_offline():
        raise WeightsMissingError(
            f"the {model} checkpoint is not in {directory} and downloads are off "
            "(SPEAKER_MODELS_OFFLINE or HF_HUB_OFFLINE)",
            code="model_not_installed",
            suggestion=(
                f"run `{pull_command(model)}` where the hub is reachable (same "
                f"SPEAKER_MODELS_DIR), or copy a snapshot of {model} (config.json, "
                f"*.safetensors, tokenizer and processor files) into {directory}"
            ),
        )
    return download(model, directory)


def download(model: str, directory: Path) -> Path:
    """Download a checkpoint from the hub into `directory`, with a progress bar.

    Files go to `<directory>.partial` first, which is renamed once complete: an interrupted
    download never looks installed, and the next attempt resumes it. The hub client reads the
    token from `HF_TOKEN` (or a `hf auth login`) itself; Speaker never sees or logs it.
    """
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError as exc:
        raise CsmUnavailableError("huggingface_hub") from exc

    partial = directory.with_name(directory.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s into %s", model, directory)
    try:
        snapshot_download(
            model,
            local_dir=partial,
            allow_patterns=WEIGHT_PATTERNS,
            # Read now rather than at import, so a mirror set after start-up is honoured.
            endpoint=os.environ.get("HF_ENDPOINT") or None,
        )
    except GatedRepoError:
        raise WeightsDownloadError(
            f"{model} is a gated model: the hub refused the download",
            code="model_gated",
            suggestion=(
                f"accept its terms at https://huggingface.co/{model} with your account, then "
                "set HF_TOKEN to a token of that account (or run `hf auth login`)"
            ),
        ) from None
    except RepositoryNotFoundError:
        raise WeightsDownloadError(
            f"the hub has no model {model!r} (or it is private)",
            code="model_not_found",
            suggestion="check SPEAKER_CSM_MODEL; for a private model set HF_TOKEN",
        ) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise WeightsDownloadError(
            f"could not download {model} into {directory}: {exc}",
            code="model_download_failed",
            suggestion=(
                "check the network (and HF_ENDPOINT / proxy settings), then retry; or copy "
                f"the checkpoint into {directory} and set SPEAKER_MODELS_OFFLINE=true"
            ),
        ) from None
    if not is_installed(partial):
        raise WeightsDownloadError(
            f"the download of {model} has no config.json: not a transformers checkpoint",
            code="model_download_failed",
            suggestion=f"use a transformers-format CSM repo such as {CSM_REPO}",
        )
    try:
        partial.replace(directory)
    except OSError as exc:
        raise WeightsDownloadError(
            f"downloaded {model}, but could not move it into {directory}: {exc}",
            code="model_download_failed",
            suggestion=f"empty or remove {directory}, then retry",
        ) from None
    return directory


def fingerprint(directory: Path) -> str:
    """Names a checkpoint and the conditioning method; changes when either changes.

    Hashes config.json's text and the names and sizes of the weights and tokenizer files: cheap
    enough for every start, and any re-trained or re-tokenized checkpoint differs in one of them.
    """
    digest = hashlib.sha256(f"method={CONDITIONING_METHOD}\n".encode())
    digest.update((directory / "config.json").read_bytes())
    for path in sorted(directory.iterdir()):
        if path.is_file() and (path.suffix == ".safetensors" or path.name.startswith("tokenizer")):
            digest.update(f"\n{path.name}:{path.stat().st_size}".encode())
    return f"csm:{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class InstalledModel:
    """A checkpoint directory under the models dir."""

    name: str
    path: Path
    size_bytes: int
    engine: str | None
    complete: bool


def _engine_of(directory: Path) -> str | None:
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    return ENGINE_OF_MODEL_TYPE.get(str(model_type))


def directory_size(directory: Path) -> int:
    """Bytes of every file under a directory."""
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def installed_models(models_dir: Path) -> list[InstalledModel]:
    """Every directory under the models dir, with its size and the engine that reads it."""
    if not models_dir.is_dir():
        return []
    found = []
    for directory in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        found.append(
            InstalledModel(
                name=directory.name,
                path=directory,
                size_bytes=directory_size(directory),
                engine=_engine_of(directory),
                complete=is_installed(directory) and not directory.name.endswith(".partial"),
            )
        )
    return found
