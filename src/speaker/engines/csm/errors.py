"""Failures specific to CSM, each with the command or setting that fixes it."""

from __future__ import annotations

from speaker.errors import EngineError

INSTALL_HINT = 'pip install "speaker-tts[csm]"'


class CsmUnavailableError(EngineError, ValueError):
    """PyTorch, transformers or huggingface_hub is missing or too old for the CSM engine.

    Also a ValueError, so the CLI reports it like any other bad configuration.
    """

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"the csm engine needs {missing}, which is not installed (or too old)",
            code="engine_unavailable",
            suggestion=f"install the extra: {INSTALL_HINT} (add -U if an older one is there)",
        )


class WeightsMissingError(EngineError):
    """The checkpoint is not on disk and downloading it is not allowed."""


class WeightsDownloadError(EngineError):
    """The checkpoint could not be downloaded (no network, gated, unknown name...)."""
