"""/metrics after real requests: counters and histograms move by the right amounts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from speaker.api.app import create_app
from speaker.auth.keys import KeyStore
from speaker.auth.principal import Role
from speaker.config import Settings
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode
from tests.observability.scrape import Scrape

SPEECH = "/v1/audio/speech"
NO_CACHE = {"cache-control": "no-store"}


def _speak(url: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav", **extra}
    response = httpx.post(f"{url}{SPEECH}", json=body, headers=NO_CACHE, timeout=60)
    response.raise_for_status()
    return response


def test_speech_requests_move_every_speech_metric(server: LiveServer) -> None:
    texts = ["Good morning.", "The first sentence is short. The second one is a bit longer."]
    before = Scrape.of(server.url)
    heard = 0.0
    for text in texts:
        audio = decode(_speak(server.url, text).content, "wav")
        heard += len(audio.samples) / audio.sample_rate
    after = Scrape.of(server.url)
    chunks = len(texts) + 1  # the second text is two chunks: a short first one, then the rest

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    n = len(texts)
    status = {"method": "POST", "route": SPEECH, "status": "200"}
    assert delta("speaker_http_requests_total", **status) == n
    assert delta("speaker_http_request_duration_seconds_count", method="POST", route=SPEECH) == n
    assert delta("speaker_time_to_first_audio_seconds_count", engine="piper") == n
    assert delta("speaker_speech_duration_seconds_count", engine="piper", outcome="ok") == n
    assert delta("speaker_input_characters_total", engine="piper") == sum(map(len, texts))
    assert delta("speaker_stage_seconds_count", engine="piper", stage="prepare") == n
    for stage in ("queue", "inference", "phonemize", "vits"):
        assert delta("speaker_stage_seconds_count", engine="piper", stage=stage) == chunks, stage
    assert delta("speaker_stage_seconds_count", engine="piper", stage="encode") >= chunks
    assert delta("speaker_batch_size_count", engine="piper") == chunks
    voice = {"engine": "piper", "voice": "en_US-joe-medium"}
    assert delta("speaker_realtime_factor_count", **voice) == chunks
    # Engine seconds and the seconds a listener hears differ only by seam smoothing.
    assert delta("speaker_audio_seconds_total", engine="piper") == pytest.approx(heard, abs=0.3)
    # Piper runs many times faster than real time on this machine.
    rtf = delta("speaker_realtime_factor_sum", **voice) / chunks
    assert 0 < rtf < 1
    ttfa = delta("speaker_time_to_first_audio_seconds_sum", engine="piper")
    total = delta("speaker_speech_duration_seconds_sum", engine="piper", outcome="ok")
    assert 0 < ttfa <= total
    assert delta("speaker_worker_busy_seconds_total") == pytest.approx(
        delta("speaker_stage_seconds_sum", engine="piper", stage="inference"), rel=1e-6
    )
    assert after.value("speaker_ready") == 1
    assert after.value("speaker_workers") == 2
    assert after.value("speaker_model_load_seconds", engine="piper") > 0
    assert after.value("process_resident_memory_bytes") > 50e6


def test_a_cache_hit_counts_as_a_hit_and_skips_the_engine(server: LiveServer) -> None:
    body = {"model": "tts-1", "input": "Cached words, twice.", "voice": "alloy"}
    httpx.post(f"{server.url}{SPEECH}", json=body, timeout=60).raise_for_status()
    before = Scrape.of(server.url)
    again = httpx.post(f"{server.url}{SPEECH}", json=body, timeout=60)
    after = Scrape.of(server.url)
    assert again.headers["x-speaker-cache"] == "hit"
    hits = {"backend": "disk", "event": "hits"}
    assert (
        after.value("speaker_cache_events_total", **hits)
        - before.value("speaker_cache_events_total", **hits)
        == 1
    )
    inference = {"engine": "piper", "stage": "inference"}
    assert after.value("speaker_stage_seconds_count", **inference) == before.value(
        "speaker_stage_seconds_count", **inference
    )
    assert after.value("speaker_cache_entries") >= 1


def test_a_listener_who_leaves_is_counted_as_disconnected(server: LiveServer) -> None:
    text = " ".join(f"This is sentence number {n} of a long reading." for n in range(85))
    labels = {"engine": "piper", "outcome": "disconnected"}
    before = Scrape.of(server.url).value("speaker_speech_duration_seconds_count", **labels)
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"}
    with httpx.stream(
        "POST", f"{server.url}{SPEECH}", json=body, headers=NO_CACHE, timeout=60
    ) as response:
        # Held in a name: a dropped iterator, collected, would close the connection at once.
        audio = response.iter_bytes()
        next(audio)
        during = Scrape.of(server.url)
    # The stream held its admission slot while the listener was there.
    assert during.value("speaker_active_streams") >= 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = Scrape.of(server.url).value("speaker_speech_duration_seconds_count", **labels)
        if after == before + 1:
            break
        time.sleep(0.05)
    assert after == before + 1


def test_unknown_paths_share_one_route_label(server: LiveServer) -> None:
    before = Scrape.of(server.url)
    for path in ("/nope", "/nope/again", "/v1/what"):
        assert httpx.get(f"{server.url}{path}").status_code == 404
    after = Scrape.of(server.url)
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    moved = after.value("speaker_http_requests_total", **labels) - before.value(
        "speaker_http_requests_total", **labels
    )
    assert moved == 3
    assert not any("nope" in str(labels) for _, labels in after.samples)


def test_job_census_counts_jobs_by_state(server: LiveServer) -> None:
    before = Scrape.of(server.url)
    submitted = httpx.post(
        f"{server.url}/v1/tts/batch",
        json={"items": [{"input": "One."}, {"input": "Two."}]},
        timeout=30,
    )
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/v1/jobs/{job}").json()["state"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    after = Scrape.of(server.url)
    done = after.value("speaker_jobs", state="succeeded") - before.value(
        "speaker_jobs", state="succeeded"
    )
    items = after.value("speaker_job_items", state="succeeded") - before.value(
        "speaker_job_items", state="succeeded"
    )
    assert (done, items) == (1, 2)
    assert after.value("speaker_queue_depth", tier="batch") == 0


def _app(tmp_path: object, **settings: object) -> tuple[Settings, Runtime]:
    config = Settings(data_dir=tmp_path, workers=1, **settings)  # type: ignore[arg-type]
    return config, Runtime(config)


def test_refusals_are_counted_by_reason(tmp_path: object) -> None:
    # Not loaded (no lifespan): speech is refused with not_ready; one request a minute is
    # allowed per client, so the next is refused with rate_limit_exceeded. Public metrics are
    # outside the limits.
    settings, runtime = _app(tmp_path, auth="off", rate_limit_rpm=1, metrics_public=True)
    client = TestClient(create_app(settings, runtime))
    refused = client.post(SPEECH, json={"model": "tts-1", "input": "Hi.", "voice": "alloy"})
    assert refused.status_code == 503
    limited = client.get("/v1/models")
    assert limited.status_code == 429
    page = Scrape(client.get("/metrics").text)
    assert page.value("speaker_refusals_total", reason="not_ready") == 1
    assert page.value("speaker_refusals_total", reason="rate_limit_exceeded") == 1
    assert page.value("speaker_refusals_total", reason="overloaded") == 0
    assert page.value("speaker_ready") == 0
    # /ready's own 503 while loading is a probe's answer, not a refusal.
    assert client.get("/ready").status_code == 503
    after = Scrape(client.get("/metrics").text)
    assert sum(v for (n, _), v in after.samples.items() if n == "speaker_refusals_total") == 2


def test_metrics_can_be_switched_off(tmp_path: object) -> None:
    settings, runtime = _app(tmp_path, auth="off", metrics_enabled=False)
    client = TestClient(create_app(settings, runtime))
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "metrics_disabled"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("keyed"), workers=1, auth="on")
    runtime = Runtime(settings)
    runtime.load()
    keys = KeyStore(runtime.database)
    readonly = keys.create("scraper", Role.READONLY, "ops").secret
    yield runtime, readonly, str(settings.data_dir)
    runtime.close()


def test_metrics_need_a_key_when_keys_are_on(keyed: tuple[Runtime, str, str]) -> None:
    runtime, readonly, _ = keyed
    client = TestClient(create_app(runtime.settings, runtime))
    assert client.get("/metrics").status_code == 401
    page = client.get("/metrics", headers={"authorization": f"Bearer {readonly}"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert Scrape(page.text).value("speaker_ready") == 1


def test_metrics_may_be_public(keyed: tuple[Runtime, str, str]) -> None:
    runtime, _, _ = keyed
    settings = runtime.settings.model_copy(update={"metrics_public": True})
    client = TestClient(create_app(settings, runtime))
    assert client.get("/metrics").status_code == 200
    # Only /metrics: everything else still needs the key.
    assert client.get("/status").status_code == 401


def test_status_shows_recent_first_audio_and_realtime_factor(server: LiveServer) -> None:
    _speak(server.url, "Numbers for the status page.")
    recent = httpx.get(f"{server.url}/status").json()["recent"]
    assert recent["requests"] >= 1
    assert 0 < recent["ttfa_ms_p50"] <= recent["ttfa_ms_p95"]
    assert 0 < recent["realtime_factor"] < 1
