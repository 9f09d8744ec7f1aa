"""Two Speaker replicas behind no load balancer but one real PostgreSQL, one real Redis and one
shared data directory: jobs, voices, rate limits and the audio cache are the cluster's, not a
replica's. (Killing a replica mid-job is tests/jobs/test_processes.py.)"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from speaker.audio.formats import AudioFormat
from speaker.auth.keys import KeyStore
from speaker.auth.principal import Role
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from speaker.storage.database import Database
from tests.helpers import decode, free_port, wait_ready
from tests.servers import PostgresServer, RedisServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("torch") is None, reason="the csm extra is not installed"
    ),
]

SENTENCES = [
    "The first replica reads this line aloud.",
    "Either replica may take the second line.",
    "Work left by a replica that dies is picked up by the other one.",
    "Nothing that was accepted is ever lost.",
    "The queue lives in Redis and the records in PostgreSQL.",
    "Audio files land on the shared volume.",
]


@dataclass
class Replica:
    """One `speaker serve` process."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "speaker", "serve"],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(self.url, timeout=120)
        except BaseException:
            raise AssertionError(self.log.read_text()[-4000:]) from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Cluster:
    """Two replicas and the keys to talk to them."""

    a: Replica
    b: Replica
    user_key: str
    limited_key: str

    def client(self, replica: Replica, key: str | None = None) -> httpx.Client:
        token = key or self.user_key
        return httpx.Client(
            base_url=replica.url, headers={"authorization": f"Bearer {token}"}, timeout=120
        )


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
) -> Iterator[Cluster]:
    from tests.csm_checkpoint import build_tiny_csm

    root = tmp_path_factory.mktemp("cluster")
    models = root / "models"
    build_tiny_csm(models / "csm-1b")
    database_url = postgres_server.new_database()
    redis_server.flush()
    database = Database(database_url)
    keys = KeyStore(database)
    user_key = keys.create("cluster user", Role.USER, "ana").secret
    limited_key = keys.create("limited", Role.USER, "ben", requests_per_minute=4).secret
    database.close()
    common = {
        **os.environ,
        "SPEAKER_DATA_DIR": str(root / "shared"),
        "SPEAKER_DATABASE_URL": database_url,
        "SPEAKER_REDIS_URL": redis_server.url,
        "SPEAKER_AUTH": "on",
        "SPEAKER_ENGINES": "csm",
        "SPEAKER_MODELS_DIR": str(models),
        "SPEAKER_MODELS_OFFLINE": "true",
        "SPEAKER_CSM_DEVICE": "cpu",
        "SPEAKER_WORKERS": "1",
        "SPEAKER_JOB_WORKERS": "1",
    }
    replicas = [
        Replica(
            name,
            free_port(),
            {**common, "SPEAKER_PORT": "0", "SPEAKER_REPLICA_ID": f"replica-{name}"},
            root / f"{name}.log",
        )
        for name in ("a", "b")
    ]
    for replica in replicas:
        replica.env["SPEAKER_PORT"] = str(replica.port)
        replica.start()
    try:
        yield Cluster(replicas[0], replicas[1], user_key, limited_key)
    finally:
        for replica in replicas:
            replica.stop()


@pytest.fixture(scope="module")
def sample(runtime: Runtime) -> bytes:
    order = SpeechOrder(
        text="I read a few sentences aloud so that my voice can be cloned by either replica.",
        model="piper",
        fmt=AudioFormat.WAV,
    )
    return asyncio.run(runtime.service.synthesize(order))


def _wait_job(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "completed_with_errors", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_a_voice_uploaded_on_one_replica_speaks_on_the_other(
    cluster: Cluster, sample: bytes
) -> None:
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        created = a.post(
            "/v1/voices",
            data={"name": "Shared Ana", "transcript": "I read a few sentences aloud."},
            files={"audio": ("ana.wav", sample, "audio/wav")},
        )
        assert created.status_code == 201, created.text
        voice_id = created.json()["id"]
        assert b.get(f"/v1/voices/{voice_id}").json()["name"] == "Shared Ana"
        spoken = b.post(
            "/v1/audio/speech",
            json={
                "model": "csm",
                "voice": {"id": voice_id},
                "input": "Spoken by the other replica.",
                "response_format": "wav",
            },
        )
        assert spoken.status_code == 200, spoken.text
        assert decode(spoken.content, "wav").duration > 0.05


def test_a_job_submitted_to_one_replica_is_seen_and_served_by_both(cluster: Cluster) -> None:
    items = [{"input": s, "model": "piper", "response_format": "wav"} for s in SENTENCES]
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        submitted = a.post("/v1/tts/batch", json={"items": items})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        assert b.get(f"/v1/jobs/{job_id}").status_code == 200
        job = _wait_job(b, job_id)
        assert job["state"] == "succeeded"
        for n in range(len(SENTENCES)):
            from_a = a.get(f"/v1/jobs/{job_id}/items/{n}")
            from_b = b.get(f"/v1/jobs/{job_id}/items/{n}")
            assert from_a.status_code == from_b.status_code == 200
            assert from_a.content == from_b.content
            assert decode(from_a.content, "wav").duration > 1.0
        workers = {item["worker"] for item in job["items"]}  # type: ignore[attr-defined]
        assert workers <= {"replica-a", "replica-b"}
        assert workers, job


def test_a_keys_rate_limit_is_shared_by_the_replicas(cluster: Cluster) -> None:
    statuses = []
    with (
        cluster.client(cluster.a, cluster.limited_key) as a,
        cluster.client(cluster.b, cluster.limited_key) as b,
    ):
        for i in range(6):
            response = (a, b)[i % 2].get("/v1/voices")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert float(response.headers["retry-after"]) > 0
                assert response.json()["error"]["code"] == "rate_limit_exceeded"
    # Four requests a minute in all, wherever they land.
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_the_audio_cache_is_shared(cluster: Cluster) -> None:
    body = {"model": "piper", "voice": "alloy", "input": "Cached once for the whole cluster."}
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        first = a.post("/v1/audio/speech", json=body)
        second = b.post("/v1/audio/speech", json=body)
    assert first.headers["x-speaker-cache"] == "miss"
    assert second.headers["x-speaker-cache"] == "hit"
    assert first.content == second.content
