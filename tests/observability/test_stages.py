"""Stage timing: engines report stages only to a worker that records them, thread by thread."""

from __future__ import annotations

import threading
import time

from speaker.observability.stages import recording, stage


def test_stages_add_up_within_a_recording() -> None:
    with recording() as seconds:
        with stage("a"):
            time.sleep(0.02)
        with stage("a"):
            time.sleep(0.01)
        with stage("b"):
            pass
    assert set(seconds) == {"a", "b"}
    assert 0.03 <= seconds["a"] < 0.5
    assert seconds["b"] < seconds["a"]


def test_a_stage_outside_any_recording_is_not_kept() -> None:
    with stage("lost"):
        pass
    with recording() as seconds:
        pass
    assert seconds == {}


def test_a_stage_that_raises_is_still_timed() -> None:
    with recording() as seconds:
        try:
            with stage("failing"):
                raise ValueError("boom")
        except ValueError:
            pass
    assert "failing" in seconds


def test_threads_record_apart() -> None:
    seen: dict[str, dict[str, float]] = {}

    def work(name: str) -> None:
        with recording() as seconds, stage(name):
            time.sleep(0.01)
        seen[name] = seconds

    threads = [threading.Thread(target=work, args=(n,)) for n in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["x"]) == {"x"}
    assert set(seen["y"]) == {"y"}
