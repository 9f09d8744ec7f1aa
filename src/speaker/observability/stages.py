"""Stage timing that engines report without knowing who listens.

An engine wraps the parts of its work in `stage("backbone")`; the worker that called it wraps
the call in `recording()` and reads the seconds per stage afterwards. With nobody recording,
`stage` costs one context-variable lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_recorder: ContextVar[dict[str, float] | None] = ContextVar("speaker_stages", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the block's wall time to stage `name` of the unit of work being recorded."""
    seconds = _recorder.get()
    if seconds is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Collect the stages timed in this thread (or task) while the block runs."""
    seconds: dict[str, float] = {}
    token = _recorder.set(seconds)
    try:
        yield seconds
    finally:
        _recorder.reset(token)
