"""Fixtures of the CSM tests: a tiny random checkpoint, and an engine loaded from it on CPU."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from speaker.config import Settings
from tests.csm_checkpoint import build_tiny_csm

if TYPE_CHECKING:
    from speaker.engines.csm.engine import CsmEngine

# The `csm` extra is optional: without PyTorch and transformers there is nothing to test here.
if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
    collect_ignore_glob = ["test_*.py"]

SEED = 1234


@pytest.fixture(scope="session")
def tiny_csm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CSM checkpoint at `<models_dir>/csm-1b`, where `sesame/csm-1b` resolves to."""
    return build_tiny_csm(tmp_path_factory.mktemp("csm-models") / "csm-1b")


@pytest.fixture(scope="session")
def csm_settings(tiny_csm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings that find the tiny checkpoint offline and run on CPU."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("csm-data"),
        models_dir=tiny_csm_dir.parent,
        models_offline=True,
        csm_device="cpu",
        csm_max_batch=4,
    )


@pytest.fixture(scope="session")
def csm_engine(csm_settings: Settings) -> Iterator[CsmEngine]:
    """The engine, loaded through the same weight resolution as real weights, sampling seeded."""
    from speaker.engines.csm.engine import CsmEngine, CsmOptions

    engine = CsmEngine(replace(CsmOptions.from_settings(csm_settings), seed=SEED))
    engine.load()
    yield engine
    engine.close()
