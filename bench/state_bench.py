"""What state costs a request: one `speaker serve` on the embedded defaults (SQLite, local disk,
in-process queue and limits) against one on a real PostgreSQL and Redis, in one run.

    python bench/state_bench.py --runs 7

Prints medians: batch submission (the 202 answer, after the job is committed), a batch of short
items end to end against the same texts as back-to-back speech requests, a speech request missed
and hit in the audio cache, and a small authenticated request with and without API keys. Needs
`redis-server` and PostgreSQL installed (apt-get install redis-server postgresql).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import free_port, wait_ready
from tests.servers import PostgresServer, RedisServer

from speaker.auth.keys import KeyStore
from speaker.auth.principal import Role
from speaker.storage.database import Database, sqlite_url

TEXTS = [
    "The committee met on Tuesday to discuss the budget for the coming year.",
    "Several members asked for more time to read the proposal before voting.",
    "A short delay was agreed, and the vote moved to the following week.",
    "Meanwhile the treasurer prepared a summary of the main changes.",
    "Most of the savings came from renegotiated supplier contracts.",
    "The remaining questions concerned the schedule of repairs to the hall.",
    "Everyone agreed that the roof could not wait another winter.",
    "The meeting closed a little after nine in the evening.",
]


def _median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "speaker", "serve", "--port", str(port)],
        env={**os.environ, "SPEAKER_LOG_LEVEL": "warning", **env},
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


def _wait_job(client: httpx.Client, job_id: str) -> None:
    while client.get(f"/v1/jobs/{job_id}").json()["finished_at"] is None:
        time.sleep(0.02)


def measure(url: str, key: str | None, runs: int) -> dict[str, float]:
    """Every number of one configuration."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    client = httpx.Client(base_url=url, headers=headers, timeout=300)
    one = {"items": [{"input": TEXTS[0], "response_format": "wav"}], "priority": 9}
    hundred = {"items": [{"input": TEXTS[n % 8]} for n in range(100)], "priority": 9}
    results = {
        "submit 1 item (ms)": _median_ms(lambda: client.post("/v1/tts/batch", json=one), runs),
        "submit 100 items (ms)": _median_ms(
            lambda: client.post("/v1/tts/batch", json=hundred), runs
        ),
    }
    # Let the submitted work drain so it does not slow the timings below.
    for job in client.get("/v1/jobs", params={"limit": 100}).json()["data"]:
        client.delete(f"/v1/jobs/{job['id']}")

    def batch() -> None:
        items = [{"input": t, "response_format": "wav"} for t in TEXTS]
        _wait_job(client, client.post("/v1/tts/batch", json={"items": items}).json()["id"])

    def sequential() -> None:
        for text in TEXTS:
            client.post(
                "/v1/audio/speech",
                json={"input": text, "voice": "alloy", "response_format": "wav"},
                headers={"cache-control": "no-store"},
            )

    results["batch of 8, end to end (ms)"] = _median_ms(batch, max(3, runs // 2))
    results["8 speech requests in turn (ms)"] = _median_ms(sequential, max(3, runs // 2))
    misses, hits = [], []
    for n in range(runs):
        body = {"input": f"Cache probe number {n} at {time.time()}.", "voice": "alloy"}
        misses.append(_median_ms(lambda b=body: client.post("/v1/audio/speech", json=b), 1))
        hits.append(_median_ms(lambda b=body: client.post("/v1/audio/speech", json=b), 1))
    results["speech, cache miss (ms)"] = statistics.median(misses)
    results["speech, cache hit (ms)"] = statistics.median(hits)
    results["GET /v1/voices (ms)"] = _median_ms(lambda: client.get("/v1/voices"), runs * 5)
    client.close()
    return results


def main() -> None:
    """Run both configurations and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    columns: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        common = {"SPEAKER_WORKERS": "1", "SPEAKER_JOB_WORKERS": "1"}
        with _server({**common, "SPEAKER_DATA_DIR": str(root / "plain")}) as url:
            columns["SQLite, no keys"] = measure(url, None, args.runs)
        keyed = root / "keyed"
        keyed.mkdir()
        database = Database(sqlite_url(keyed / "speaker.db"))
        key = KeyStore(database).create("bench", Role.USER, "bench").secret
        database.close()
        with _server({**common, "SPEAKER_DATA_DIR": str(keyed)}) as url:
            columns["SQLite, API key"] = measure(url, key, args.runs)
        (root / "redis").mkdir()
        redis, postgres = RedisServer(root / "redis"), PostgresServer()
        try:
            url_db = postgres.new_database()
            database = Database(url_db)
            key = KeyStore(database).create("bench", Role.USER, "bench").secret
            database.close()
            env = {
                **common,
                "SPEAKER_DATA_DIR": str(root / "shared"),
                "SPEAKER_DATABASE_URL": url_db,
                "SPEAKER_REDIS_URL": redis.url,
            }
            with _server(env) as url:
                columns["PostgreSQL + Redis, API key"] = measure(url, key, args.runs)
        finally:
            redis.stop()
            postgres.stop()
    names = list(columns)
    print(f"| median of {args.runs} | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for row in next(iter(columns.values())):
        print(f"| {row} | " + " | ".join(f"{columns[n][row]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
