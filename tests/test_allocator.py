"""The malloc arena limit, observed through glibc's own report of its heaps."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Runs in a fresh interpreter: glibc fixes the limit when the first extra arena is made.
_PROBE = """
import ctypes, ctypes.util, re, sys, threading
from speaker.allocator import limit_malloc_arenas

limited = limit_malloc_arenas(int(sys.argv[1]))
barrier = threading.Barrier(9)
kept = []

def work():
    kept.append([bytes(3000) for _ in range(200)])
    barrier.wait()
    barrier.wait()

threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
barrier.wait()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
stream = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
barrier.wait()
for thread in threads:
    thread.join()
report = open(sys.argv[2]).read()
print(limited, len(re.findall(r"<heap nr=", report)))
"""


def _heaps(arenas: int, tmp_path: Path) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(arenas), str(tmp_path / f"info-{arenas}.xml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_threads_share_the_limited_arenas(tmp_path: Path) -> None:
    limited, heaps = _heaps(2, tmp_path)
    assert limited
    assert 1 <= heaps <= 2
    # The same threads without the limit each get an arena: the probe can tell the difference.
    unlimited, heaps = _heaps(0, tmp_path)
    assert not unlimited
    assert heaps > 2


def test_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from speaker.allocator import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) is False


_TRIM_PROBE = """
import sys, time
from speaker.allocator import MemoryTrimmer

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096

blocks = [bytes(4000) for _ in range(50_000)]
# A live block above the freed ones: glibc can then give nothing back by shrinking the heap's
# top, only by trimming free pages inside it.
pin = bytes(4000)
del blocks
freed = rss()
trimmer = MemoryTrimmer(float(sys.argv[1]))
started = trimmer.start()
time.sleep(0.5)
trimmer.stop()
print(started, freed, rss())
"""


def _trimmed(interval: float) -> tuple[bool, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _TRIM_PROBE, str(interval)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1]), int(out[2])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trimmer_gives_free_heap_pages_back() -> None:
    started, freed, after = _trimmed(0.05)
    assert started
    assert freed - after > 150 * 2**20
    # Without the trimmer the same 200 MB stay resident: the probe can tell the difference.
    started, freed, after = _trimmed(0)
    assert not started
    assert freed - after < 20 * 2**20


def test_trimmer_stops_its_thread() -> None:
    import threading

    from speaker.allocator import MemoryTrimmer

    def trimming() -> int:
        # Servers that other tests started in this process may run trimmers of their own.
        return sum(thread.name == "malloc-trim" for thread in threading.enumerate())

    before = trimming()
    trimmer = MemoryTrimmer(3600)
    assert trimmer.start() is True
    assert trimmer.start() is False
    assert trimming() == before + 1
    trimmer.stop()
    assert trimming() == before
    # Stopped, it can start again, and its new thread keeps running until the next stop.
    assert trimmer.start() is True
    time.sleep(0.05)
    assert trimming() == before + 1
    trimmer.stop()
    assert trimming() == before
