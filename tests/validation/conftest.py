"""Validation fixtures: the session's Whisper model as the listener, its runtime as the speaker."""

from __future__ import annotations

import pytest

from speaker.runtime import Runtime
from speaker.validation.synth import LocalSynthesizer
from speaker.validation.transcribe import Listener


@pytest.fixture(scope="session")
def listener(whisper: object) -> Listener:
    return Listener(model=whisper)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def local(runtime: Runtime) -> LocalSynthesizer:
    return LocalSynthesizer(runtime)
