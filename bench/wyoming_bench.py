"""Time to first audio over Wyoming against the same server's HTTP streaming, in one run.

Starts `speaker serve` with SPEAKER_WYOMING_URI on loopback and sends the same texts over both
protocols alternately:
- HTTP: `POST /v1/audio/speech` with `response_format: pcm`, timed to the first body byte.
- Wyoming `synthesize`: timed to the first `audio-chunk`.
- Wyoming streamed text: `synthesize-start`, the first sentence word by word as
  `synthesize-chunk`s, timed from the first word of the next sentence (which tells that the
  first one is complete) to the first `audio-chunk`.

Prints medians and the Wyoming/HTTP ratio. Run on demand: `python bench/wyoming_bench.py --runs 21`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

# Two sentences each: the streamed case times the first, which ends once the second begins.
TEXTS = [
    "The living room lights are now off. Good night.",
    "It is seventy-two degrees inside. The front door is locked.",
    "Your timer for ten minutes has started. I will let you know when it ends.",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _http_first_byte(client: httpx.AsyncClient, text: str) -> float:
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"}
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", "/v1/audio/speech", json=body) as response:
        async for _ in response.aiter_bytes():
            # Time the first piece, then read the rest: the next request starts on a quiet server.
            first = first or time.perf_counter() - started
    return first


async def _drain(client: AsyncTcpClient, last: str) -> None:
    while True:
        event = await client.read_event()
        if event is None or event.type in (last, "error"):
            return


async def _wyoming_first_chunk(port: int, text: str) -> float:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text).event())
        await _drain(client, "audio-chunk")
        first = time.perf_counter() - started
        await _drain(client, "audio-stop")
    return first


async def _wyoming_streamed(port: int, text: str) -> float:
    first_sentence, _, rest = text.partition(". ")
    next_word, _, rest = rest.partition(" ")
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart().event())
        for word in (first_sentence + ".").split(" "):
            await client.write_event(SynthesizeChunk(text=word + " ").event())
        # A sentence is certainly complete once the next one begins ("Dr. Smith" is not two).
        started = time.perf_counter()
        await client.write_event(SynthesizeChunk(text=next_word + " ").event())
        await _drain(client, "audio-chunk")
        first = time.perf_counter() - started
        await client.write_event(SynthesizeChunk(text=rest).event())
        await client.write_event(SynthesizeStop().event())
        await _drain(client, "synthesize-stopped")
    return first


async def _measure(url: str, port: int, runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"http": [], "wyoming": [], "streamed": []}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for n in range(runs):
            text = TEXTS[n % len(TEXTS)]
            # Alternating spreads any drift in the machine's load over all three alike.
            results["http"].append(await _http_first_byte(client, text))
            results["wyoming"].append(await _wyoming_first_chunk(port, text))
            results["streamed"].append(await _wyoming_streamed(port, text))
    return results


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"speaker exited with {process.returncode}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("speaker was not ready after 120 s")


def main() -> None:
    """Start a server, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    options = parser.parse_args()
    http_port, wyoming_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{http_port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "SPEAKER_DATA_DIR": data_dir,
            "SPEAKER_WYOMING_URI": f"tcp://127.0.0.1:{wyoming_port}",
            # Every request must be synthesized: a cache hit would time nothing.
            "SPEAKER_CACHE_MAX_BYTES": "0",
        }
        command = [sys.executable, "-m", "speaker", "serve", "--port", str(http_port)]
        command += ["--log-level", "warning"]
        process = subprocess.Popen(command, env=env, cwd=Path(data_dir))
        try:
            _wait_ready(url, process)
            asyncio.run(_measure(url, wyoming_port, 2))  # warm-up
            results = asyncio.run(_measure(url, wyoming_port, options.runs))
        finally:
            process.terminate()
            process.wait(30)
    http = statistics.median(results["http"])
    table = Table(title=f"time to first audio, median of {options.runs} (ms)")
    table.add_column("path")
    table.add_column("median", justify="right")
    table.add_column("p90", justify="right")
    table.add_column("÷ HTTP", justify="right")
    for name, label in (
        ("http", "HTTP /v1/audio/speech, pcm, first byte"),
        ("wyoming", "Wyoming synthesize, first audio-chunk"),
        ("streamed", "Wyoming streamed, next sentence begins → first audio-chunk"),
    ):
        values = sorted(results[name])
        p90 = values[int(0.9 * (len(values) - 1))]
        median = statistics.median(values)
        table.add_row(label, f"{median * 1000:.0f}", f"{p90 * 1000:.0f}", f"{median / http:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
