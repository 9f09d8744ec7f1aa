"""Optional dependencies of `speaker validate`, with a clear message when one is missing."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed; the message says which extra brings it."""

    def __init__(self, extra: str, module: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {module!r}, which is not installed: "
            f'pip install "speaker-tts[{extra}]"'
        )
        self.extra = extra


def import_optional(module: str, extra: str, purpose: str) -> ModuleType:
    """Import a module of an optional extra, or raise MissingExtraError naming the extra."""
    try:
        # resemblyzer's own imports warn about APIs deprecated under it (scipy.ndimage.morphology,
        # pkg_resources); they are its business, not the user's.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(extra, module, purpose) from None


def require_validate() -> None:
    """Raise MissingExtraError unless the `validate` extra is installed."""
    for module in ("jiwer", "matplotlib", "whisper_normalizer"):
        import_optional(module, "validate", "speaker validate")
