"""What telemetry costs a request: one `speaker serve` with metrics off and the speech log
silenced, against one with metrics on and a log line per request, in one run.

    python bench/telemetry_bench.py --runs 41

Requests alternate between the two servers (one request in flight at a time), so drifts in
machine load fall on both. Prints medians per measurement and their ratio, and the cost of one
scrape of /metrics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import free_port, wait_ready

SHORT = "The meeting closed a little after nine in the evening."
LONG = (
    "The committee met on Tuesday. Several members asked for more time to read the proposal "
    "before voting, and a short delay was agreed. Meanwhile the treasurer prepared a summary."
)
NO_STORE = {"cache-control": "no-store"}


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    with TemporaryDirectory() as data:
        process = subprocess.Popen(
            [sys.executable, "-m", "speaker", "serve", "--port", str(port)],
            env={**os.environ, "SPEAKER_DATA_DIR": data, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, timeout=120)
            yield url
        finally:
            process.terminate()
            process.wait(30)


def _speech(client: httpx.Client, text: str, headers: dict[str, str]) -> tuple[float, float]:
    """Milliseconds to the first audio bytes and to the last."""
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "mp3"}
    started = time.perf_counter()
    with client.stream("POST", "/v1/audio/speech", json=body, headers=headers) as response:
        response.raise_for_status()
        first = None
        for _ in response.iter_bytes():
            if first is None:
                first = time.perf_counter()
    ended = time.perf_counter()
    assert first is not None
    return (first - started) * 1000, (ended - started) * 1000


def _get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    client.get(path).raise_for_status()
    return (time.perf_counter() - started) * 1000


def _round(client: httpx.Client) -> dict[str, float]:
    _, short = _speech(client, SHORT, NO_STORE)
    ttfa, whole = _speech(client, LONG, NO_STORE)
    _, hit = _speech(client, SHORT, {})
    return {
        "short sentence, whole": short,
        "3 sentences, first audio": ttfa,
        "3 sentences, whole": whole,
        "cache hit": hit,
        "GET /v1/models": _get(client, "/v1/models"),
    }


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    off_env = {"SPEAKER_METRICS_ENABLED": "false", "SPEAKER_LOG_LEVEL": "warning"}
    on_env = {"SPEAKER_METRICS_ENABLED": "true", "SPEAKER_LOG_LEVEL": "info"}
    with (
        _server(off_env) as off_url,
        _server(on_env) as on_url,
        httpx.Client(base_url=off_url, timeout=60) as off,
        httpx.Client(base_url=on_url, timeout=60) as on,
    ):
        for client in (off, on):  # warm-up: first-request costs are not telemetry
            _round(client)
        results: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
        for n in range(args.runs):
            order = (("off", off), ("on", on)) if n % 2 == 0 else (("on", on), ("off", off))
            for name, client in order:
                for key, value in _round(client).items():
                    results[name].setdefault(key, []).append(value)
        scrape = statistics.median(_get(on, "/metrics") for _ in range(args.runs))
        size = len(on.get("/metrics").content)
    print(f"\nmedians of {args.runs} runs, ms (2 workers each; requests one at a time)\n")
    print(f"| {'measurement':28} | {'telemetry off':>13} | {'telemetry on':>12} | ratio |")
    print(f"|{'-' * 30}|{'-' * 15}|{'-' * 14}|-------|")
    for key in results["off"]:
        a = statistics.median(results["off"][key])
        b = statistics.median(results["on"][key])
        print(f"| {key:28} | {a:13.1f} | {b:12.1f} | {b / a:5.2f} |")
    print(f"\none scrape of /metrics: {scrape:.1f} ms, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
