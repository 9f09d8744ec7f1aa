"""Batch jobs end to end on a live server with the real Piper voice: submit, follow, download,
zip, priorities, cancel, validation, owners and signed webhooks."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from speaker.audio.formats import AudioFormat
from speaker.auth.principal import ANONYMOUS, Principal, Role
from speaker.errors import NotFoundError
from speaker.jobs import BatchOrder
from speaker.jobs.store import JobQuery
from speaker.jobs.webhooks import WebhookVerificationError, verify
from speaker.runtime import Runtime
from speaker.service import SpeechOrder
from tests.conftest import LiveServer
from tests.helpers import decode, voiced_seconds

pytestmark = pytest.mark.slow

TEXTS = (
    "The first parcel left the warehouse this morning.",
    "A second one follows on Tuesday.",
    "The last will arrive before the end of the month.",
)
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def _job(server: LiveServer, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/v1/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait(
    server: LiveServer, job_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(server, job_id)
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not get there: {_job(server, job_id)}")


def _finished(job: dict[str, Any]) -> bool:
    return job["finished_at"] is not None


def _submit(server: LiveServer, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/v1/tts/batch", json=body, timeout=30)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    return job


def test_a_batch_is_accepted_at_once_and_its_audio_downloaded(server: LiveServer) -> None:
    formats = ["mp3", "wav", "flac"]
    job = _submit(
        server,
        {
            "items": [
                {"input": text, "voice": "alloy", "response_format": fmt}
                for text, fmt in zip(TEXTS, formats, strict=True)
            ],
            "metadata": {"order": "A-17"},
        },
    )
    assert job["state"] in ("queued", "running")
    assert job["item_count"] == 3
    assert job["metadata"] == {"order": "A-17"}
    assert [i["n"] for i in job["items"]] == [0, 1, 2]
    done = _wait(server, job["id"], _finished)
    assert done["state"] == "succeeded"
    assert done["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 3,
        "failed": 0,
        "cancelled": 0,
    }
    for item, text, fmt in zip(done["items"], TEXTS, formats, strict=True):
        assert item["state"] == "succeeded"
        assert item["attempts"] == 1
        assert item["characters"] == len(text)
        response = httpx.get(f"{server.url}{item['url']}", timeout=10)
        assert response.status_code == 200
        assert (
            response.headers["content-type"]
            == {
                "mp3": "audio/mpeg",
                "wav": "audio/wav",
                "flac": "audio/flac",
            }[fmt]
        )
        assert len(response.content) == item["bytes"]
        audio = decode(response.content, fmt)
        assert audio.sample_rate == 24000
        assert audio.duration == pytest.approx(item["audio_seconds"], abs=0.1)
        expected = len(text) / 14
        assert 0.5 * expected < audio.duration < 2.0 * expected
        assert voiced_seconds(audio.samples, audio.sample_rate) > 0.4 * expected
    archive = httpx.get(f"{server.url}/v1/jobs/{job['id']}/results.zip", timeout=10)
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as bundle:
        assert sorted(bundle.namelist()) == ["00000.mp3", "00001.wav", "00002.flac", "job.json"]
        manifest = json.loads(bundle.read("job.json"))
        assert manifest["id"] == job["id"]
        assert [i["state"] for i in manifest["items"]] == ["succeeded"] * 3
        assert decode(bundle.read("00001.wav"), "wav").duration > 1.0


def test_a_job_submitted_later_with_a_higher_priority_finishes_first(server: LiveServer) -> None:
    # The shared server runs one job worker: items run one at a time, by priority.
    low = _submit(
        server,
        {"items": [{"input": t, "response_format": "pcm"} for t in TEXTS * 2], "priority": 9},
    )
    high = _submit(
        server, {"items": [{"input": TEXTS[0], "response_format": "pcm"}], "priority": 0}
    )
    low_done = _wait(server, low["id"], _finished)
    high_done = _wait(server, high["id"], _finished)
    assert low_done["state"] == high_done["state"] == "succeeded"
    assert high_done["finished_at"] < low_done["finished_at"]
    high_started = high_done["items"][0]["started_at"]
    assert sum(i["started_at"] > high_started for i in low_done["items"]) >= 3


def test_cancel_stops_the_job_and_unfinished_items_answer_409(server: LiveServer) -> None:
    job = _submit(
        server,
        {"items": [{"input": t, "response_format": "pcm"} for t in TEXTS * 3], "priority": 9},
    )
    last = httpx.get(f"{server.url}/v1/jobs/{job['id']}/items/8", timeout=10)
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "item_not_ready"
    assert int(last.headers["retry-after"]) >= 1
    cancelled = httpx.delete(f"{server.url}/v1/jobs/{job['id']}", timeout=10)
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelled"
    assert body["finished_at"] is not None
    assert body["counts"]["cancelled"] >= 7
    assert body["counts"]["queued"] == body["counts"]["running"] == 0
    after = httpx.get(f"{server.url}/v1/jobs/{job['id']}/items/8", timeout=10)
    assert after.status_code == 409
    assert after.json()["error"]["code"] == "item_cancelled"
    missing = httpx.get(f"{server.url}/v1/jobs/{job['id']}/items/9", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "item_not_found"
    again = httpx.delete(f"{server.url}/v1/jobs/{job['id']}", timeout=10)
    assert again.json()["finished_at"] == body["finished_at"]  # already finished: unchanged
    listed = httpx.get(f"{server.url}/v1/jobs", params={"state": "cancelled"}, timeout=10)
    assert job["id"] in [j["id"] for j in listed.json()["data"]]


@pytest.mark.parametrize(
    ("items", "param", "code"),
    [
        (
            [{"input": "Fine."}, {"input": "Hi.", "voice": "robot"}],
            "items[1].voice",
            "voice_not_found",
        ),
        (
            [{"input": "Fine."}, {"input": "Fine."}, {"input": "  "}],
            "items[2].input",
            "empty_input",
        ),
        ([{"input": "Hi.", "response_format": "xyz"}], "items[0].response_format", "invalid_value"),
        ([{"input": "Hi.", "speed": 9}], "items[0].speed", "invalid_value"),
        ([{"input": "Hi.", "model": "nope"}], "items[0].model", "model_not_found"),
        ([], "items", "invalid_value"),
    ],
)
def test_a_bad_item_is_a_400_naming_it_and_nothing_is_stored(
    server: LiveServer, items: list[dict[str, Any]], param: str, code: str
) -> None:
    before = httpx.get(f"{server.url}/v1/jobs", params={"limit": 1}, timeout=10).json()
    response = httpx.post(f"{server.url}/v1/tts/batch", json={"items": items}, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    after = httpx.get(f"{server.url}/v1/jobs", params={"limit": 1}, timeout=10).json()
    assert after["first_id"] == before["first_id"]


def test_too_many_items_and_too_long_texts_are_refused(
    server: LiveServer, runtime: Runtime
) -> None:
    limit = runtime.settings.job_max_items
    many = {"items": [{"input": "x"}] * (limit + 1)}
    response = httpx.post(f"{server.url}/v1/tts/batch", json=many, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_items"
    long = {"items": [{"input": "word " * (runtime.settings.max_long_input_chars // 5 + 1)}]}
    response = httpx.post(f"{server.url}/v1/tts/batch", json=long, timeout=30)
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (
        "items[0].input",
        "input_too_long",
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://10.0.0.8/x"]
)
def test_webhooks_to_private_targets_are_refused_by_default(server: LiveServer, url: str) -> None:
    response = httpx.post(
        f"{server.url}/v1/tts/batch",
        json={"items": [{"input": "Hi."}], "webhook_url": url},
        timeout=10,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("webhook_target_refused", "webhook_url")


def test_a_webhook_without_a_secret_to_sign_it_is_refused(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/v1/tts/batch",
        json={"items": [{"input": "Hi."}], "webhook_url": "https://93.184.215.14/hook"},
        timeout=10,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "webhook_secret_missing"
    assert "SPEAKER_WEBHOOK_SECRET" in error["suggestion"]


def test_jobs_of_another_owner_do_not_exist_for_a_caller(runtime: Runtime) -> None:
    alice = Principal(Role.USER, "key_alice", "alice")
    bob = Principal(Role.USER, "key_bob", "bob")
    jobs = runtime.jobs

    async def run() -> None:
        order = SpeechOrder(text="Private.", model="tts-1", fmt=AudioFormat.PCM, viewer=alice)
        detail = await jobs.submit(alice, BatchOrder(orders=[order], priority=9))
        job_id = detail.job.id
        assert detail.job.owner == "alice"
        assert detail.job.key_id == "key_alice"
        assert (await jobs.get(alice, job_id)).job.id == job_id
        assert (await jobs.get(ANONYMOUS, job_id)).job.id == job_id  # an admin sees all
        for attempt in (jobs.get, jobs.cancel, jobs.results_zip):
            with pytest.raises(NotFoundError) as hidden:
                await attempt(bob, job_id)
            assert hidden.value.code == "job_not_found"
        with pytest.raises(NotFoundError):
            await jobs.item_file(bob, job_id, 0)
        bobs, _ = await jobs.page(bob, JobQuery(limit=100))
        assert job_id not in [j.id for j in bobs]
        alices, _ = await jobs.page(alice, JobQuery(limit=100))
        assert job_id in [j.id for j in alices]
        assert all(j.owner in ("alice", None) for j in alices)
        await jobs.cancel(alice, job_id)

    asyncio.run(run())


def test_listing_pages_newest_first_with_filters(server: LiveServer) -> None:
    started = time.time()
    ids = []
    for _ in range(3):
        job = _submit(server, {"items": [{"input": "Hi."}], "priority": 9})
        httpx.delete(f"{server.url}/v1/jobs/{job['id']}", timeout=10)
        ids.append(job["id"])
    url = f"{server.url}/v1/jobs"
    first = httpx.get(url, params={"limit": 2, "since": started}, timeout=10).json()
    assert [j["id"] for j in first["data"]] == [ids[2], ids[1]]
    assert first["has_more"]
    assert first["data"][0]["items"] is None  # listings leave items out
    second = httpx.get(
        url, params={"limit": 2, "since": started, "after": first["last_id"]}, timeout=10
    ).json()
    assert [j["id"] for j in second["data"]] == [ids[0]]
    assert not second["has_more"]
    before = httpx.get(url, params={"until": started, "limit": 100}, timeout=10).json()
    assert not set(ids) & {j["id"] for j in before["data"]}
    future = httpx.get(url, params={"since": time.time() + 3600}, timeout=10).json()
    assert future["data"] == []
    bad = httpx.get(url, params={"state": "sleeping"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "state"


class _Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that fails its first delivery with 500 and then accepts."""

    received: ClassVar[list[tuple[dict[str, str], bytes, bool]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = dict(self.headers.items())
        try:
            verify(SECRET, headers, body)
            valid = True
        except WebhookVerificationError:
            valid = False
        self.received.append((headers, body, valid))
        self.send_response(500 if len(self.received) == 1 else 204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}/hook", handler
    http.shutdown()
    http.server_close()


def test_a_signed_webhook_is_retried_after_a_failure_and_every_attempt_recorded(
    server: LiveServer,
    runtime: Runtime,
    receiver: tuple[str, type[_Receiver]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = receiver
    # The receiver is on loopback, so this test allows private targets, and it signs without
    # API keys (auth is off) with the server's secret.
    monkeypatch.setattr(runtime.settings, "webhook_allow_private", True)
    monkeypatch.setattr(runtime.settings, "webhook_secret", SECRET)
    monkeypatch.setattr(runtime.settings, "webhook_backoff_s", 0.2)
    job = _submit(
        server, {"items": [{"input": TEXTS[1], "response_format": "pcm"}], "webhook_url": url}
    )
    assert job["webhook"]["state"] is None  # nothing to tell before the job finishes
    done = _wait(server, job["id"], lambda j: j["webhook"]["state"] == "delivered")
    assert done["state"] == "succeeded"
    webhook = done["webhook"]
    assert webhook["attempts"] == 2
    assert [(d["attempt"], d["status_code"], d["event"]) for d in webhook["deliveries"]] == [
        (1, 500, "job.completed"),
        (2, 204, "job.completed"),
    ]
    assert len(handler.received) == 2
    assert all(valid for _, _, valid in handler.received)
    (first, body, _), (second, _, _) = handler.received
    assert first["webhook-id"] == second["webhook-id"]  # one event, delivered twice
    event = json.loads(body)
    assert event["type"] == "job.completed"
    assert event["data"]["id"] == job["id"]
    assert event["data"]["state"] == "succeeded"
    assert event["data"]["counts"]["succeeded"] == 1
    # A captured delivery replayed later, or altered, does not verify.
    sent = int(first["webhook-timestamp"])
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, first, body, now=sent + 301)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, first, body.replace(b"succeeded", b"failed"))
