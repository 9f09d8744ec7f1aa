"""Jobs across processes, started as the CLI starts them: `kill -9` mid-job loses nothing (one
machine restarted, and two replicas sharing PostgreSQL, Redis and the data directory), and
`speaker worker` runs jobs apart from the API and gives its item back on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import decode, free_port, wait_ready
from tests.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.slow

SENTENCES = (
    "The river was wide and slow where the old mill once stood.",
    "Children came every summer to watch the boats drift past.",
    "Nobody remembers who built the bridge, but everyone uses it.",
)


class Replica:
    """`python -m speaker serve` (or `worker`, which serves no HTTP) in a subprocess."""

    def __init__(self, env: dict[str, str], cwd: Path, command: str = "serve") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "speaker", command]
            + (["--port", str(self.port)] if command == "serve" else []),
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/v1/jobs/{job_id}", timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SPEAKER_DATA_DIR": str(data_dir),
        "SPEAKER_WORKERS": "1",
        "SPEAKER_JOB_WORKERS": "1",
        # A killed replica's lease runs out after two seconds.
        "SPEAKER_JOB_LEASE_S": "2",
        "SPEAKER_LOG_LEVEL": "warning",
        **extra,
    }


def _batch(count: int) -> dict[str, Any]:
    text = " ".join(SENTENCES)
    return {"items": [{"input": f"Part {n}. {text}"} for n in range(count)]}


def _wait(replica: Replica, job_id: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = replica.job(job_id)
        if done(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never got there: {replica.job(job_id)}")


def _partly_done(job: dict[str, Any]) -> bool:
    succeeded = job["counts"]["succeeded"]
    assert succeeded < job["item_count"], "the job finished before the kill; make it longer"
    return bool(succeeded >= 1)


def _files(data_dir: Path, job: dict[str, Any]) -> dict[int, tuple[Path, int]]:
    """Each succeeded item's published file and its modification time."""
    found = {}
    for item in job["items"]:
        if item["state"] == "succeeded":
            [path] = (data_dir / "jobs" / job["id"]).glob(f"{item['n']}.*.mp3")
            found[item["n"]] = (path, path.stat().st_mtime_ns)
    return found


def _check_nothing_lost(
    before: dict[str, Any], after: dict[str, Any], files: dict[int, tuple[Path, int]]
) -> None:
    assert after["state"] == "succeeded", after
    assert [i["state"] for i in after["items"]] == ["succeeded"] * after["item_count"]
    for n, (path, mtime) in files.items():
        # Finished before the kill: not redone, its file untouched.
        assert after["items"][n]["attempts"] == 1
        assert path.stat().st_mtime_ns == mtime
    assert len(files) == before["counts"]["succeeded"]
    for item in after["items"]:
        assert item["audio_seconds"] > 3.0


def test_kill_9_mid_job_then_restart_resumes_and_redoes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    first = Replica(env, tmp_path)
    try:
        wait_ready(first.url)
        response = httpx.post(f"{first.url}/v1/tts/batch", json=_batch(6), timeout=30)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        before = _wait(first, job_id, _partly_done, timeout=60)
        first.kill()
    finally:
        first.stop()
    files = _files(data_dir, before)
    second = Replica(env, tmp_path)
    try:
        wait_ready(second.url)
        after = _wait(second, job_id, lambda j: j["finished_at"] is not None, timeout=90)
        _check_nothing_lost(before, after, files)
        audio = httpx.get(f"{second.url}/v1/jobs/{job_id}/items/5", timeout=10)
        assert decode(audio.content, "mp3").duration > 3.0
    finally:
        second.stop()


def test_a_job_survives_killing_the_replica_it_was_submitted_to(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    redis_server.flush()
    data_dir = tmp_path / "shared"
    env = _env(
        data_dir,
        SPEAKER_DATABASE_URL=postgres_server.new_database(),
        SPEAKER_REDIS_URL=redis_server.url,
    )
    a, b = Replica(env, tmp_path), Replica(env, tmp_path)
    try:
        wait_ready(a.url)
        wait_ready(b.url)
        response = httpx.post(f"{a.url}/v1/tts/batch", json=_batch(8), timeout=30)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert b.job(job_id)["item_count"] == 8  # visible from the other replica at once
        before = _wait(b, job_id, _partly_done, timeout=60)
        a.kill()
        files = _files(data_dir, before)
        after = _wait(b, job_id, lambda j: j["finished_at"] is not None, timeout=90)
        _check_nothing_lost(before, after, files)
    finally:
        a.stop()
        b.stop()


def test_speaker_worker_runs_jobs_apart_from_the_api_and_gives_work_back_on_sigterm(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    api = Replica(_env(data_dir, SPEAKER_JOB_WORKERS="0"), tmp_path)
    first = Replica(_env(data_dir), tmp_path, command="worker")
    second: Replica | None = None
    try:
        wait_ready(api.url)
        response = httpx.post(f"{api.url}/v1/tts/batch", json=_batch(5), timeout=30)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        _wait(api, job_id, _partly_done, timeout=90)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(30) == 0
        stopped = api.job(job_id)
        # The item in synthesis went back to the queue, its attempt not counted.
        assert stopped["counts"]["running"] == 0
        assert stopped["counts"]["queued"] >= 1
        assert {i["attempts"] for i in stopped["items"] if i["state"] == "queued"} == {0}
        files = _files(data_dir, stopped)
        time.sleep(1.0)
        assert api.job(job_id)["counts"] == stopped["counts"]  # the API replica runs no jobs
        second = Replica(_env(data_dir), tmp_path, command="worker")
        after = _wait(api, job_id, lambda j: j["finished_at"] is not None, timeout=90)
        _check_nothing_lost(stopped, after, files)
        assert {i["attempts"] for i in after["items"]} == {1}
    finally:
        for replica in (api, first, second):
            if replica is not None:
                replica.stop()
