"""The audio cache over HTTP: hits replay fresh responses byte for byte, misses keep them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis

from speaker.cache import CacheStats
from speaker.cache.store import REDIS_PREFIX
from speaker.config import Settings
from speaker.engines.piper import builtin_voice
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import decode, wait_idle
from tests.servers import RedisServer

pytestmark = pytest.mark.slow

TEXT = (
    "The cache test reads this sentence twice. The second time, nothing is synthesized: "
    "the stored file is sent again, in pieces, exactly as it was made the first time."
)
TWIN = "en_US-twin-medium"


@dataclass
class Reply:
    """One streamed response: its headers, its bytes and how many pieces they came in."""

    headers: httpx.Headers
    data: bytes
    pieces: int


def _speak(url: str, headers: dict[str, str] | None = None, **fields: object) -> Reply:
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav"} | fields
    with httpx.stream(
        "POST", f"{url}/v1/audio/speech", json=body, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200, response.read()
        parts = list(response.iter_raw())
    return Reply(response.headers, b"".join(parts), len(parts))


def _stats(runtime: Runtime) -> CacheStats:
    return runtime.speech_cache.stats()


def test_a_repeated_request_is_a_hit_with_the_same_bytes(
    server: LiveServer, runtime: Runtime
) -> None:
    before = _stats(runtime)
    first = _speak(server.url, input=TEXT + " One.")
    wait_idle(runtime)
    second = _speak(server.url, input=TEXT + " One.")
    after = _stats(runtime)
    assert first.headers["x-speaker-cache"] == "miss"
    assert second.headers["x-speaker-cache"] == "hit"
    assert second.data == first.data
    decode(second.data, "wav")
    # Streamed like a fresh response: in pieces, with the same headers.
    assert len(second.data) > 200_000
    assert second.pieces > 1
    for name in ("content-type", "x-speaker-engine", "x-speaker-voice", "x-speaker-sample-rate"):
        assert second.headers[name] == first.headers[name]
    assert after.hits - before.hits == 1
    assert after.misses - before.misses == 1
    assert after.stores - before.stores == 1
    assert after.entries is not None
    assert before.entries is not None
    assert after.entries - before.entries == 1


@pytest.mark.parametrize(
    "change",
    [
        {"input": TEXT + " Two!"},
        {"speed": 1.25},
        {"response_format": "flac"},
        {"normalize": False},
    ],
    ids=["text", "speed", "format", "normalize"],
)
def test_any_difference_is_a_miss(
    server: LiveServer, runtime: Runtime, change: dict[str, object]
) -> None:
    base = {"input": TEXT + " Two."}
    _speak(server.url, **base)
    assert _speak(server.url, **base).headers["x-speaker-cache"] == "hit"
    assert _speak(server.url, **(base | change)).headers["x-speaker-cache"] == "miss"


def test_a_client_that_leaves_early_leaves_nothing_cached(
    server: LiveServer, runtime: Runtime
) -> None:
    text = " ".join(f"Sentence {i} of the abandoned request keeps going on." for i in range(60))
    body = {"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm"}
    before = _stats(runtime)
    for expected in ("miss", "miss"):
        with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, timeout=30) as r:
            assert r.headers["x-speaker-cache"] == expected
            assert next(r.iter_bytes())
        wait_idle(runtime)
    deadline = time.monotonic() + 10
    while _stats(runtime).incomplete - before.incomplete < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = _stats(runtime)
    assert after.incomplete - before.incomplete == 2
    assert after.stores == before.stores


def test_sse_is_served_from_the_same_entry(server: LiveServer) -> None:
    def sse() -> tuple[str, bytes, dict[str, int]]:
        body = {"input": TEXT + " Three.", "response_format": "pcm", "stream_format": "sse"}
        with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, timeout=60) as r:
            audio = b""
            usage: dict[str, int] = {}
            for line in r.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])
                    if event["type"] == "speech.audio.delta":
                        audio += base64.b64decode(event["audio"])
                    else:
                        usage = event["usage"]
            return r.headers["x-speaker-cache"], audio, usage

    status, fresh, fresh_usage = sse()
    assert status == "miss"
    status, replayed, replayed_usage = sse()
    assert status == "hit"
    assert replayed == fresh
    assert replayed_usage == fresh_usage
    # The audio stream of the same request is the same entry.
    plain = _speak(server.url, input=TEXT + " Three.", response_format="pcm")
    assert plain.headers["x-speaker-cache"] == "hit"
    assert plain.data == fresh


def test_cache_control_bypasses(server: LiveServer, runtime: Runtime) -> None:
    fields = {"input": TEXT + " Four.", "response_format": "pcm"}
    before = _stats(runtime)
    skipped = _speak(server.url, {"cache-control": "no-store"}, **fields)
    assert skipped.headers["x-speaker-cache"] == "bypass"
    assert _stats(runtime).stores == before.stores
    assert _speak(server.url, **fields).headers["x-speaker-cache"] == "miss"
    refreshed = _speak(server.url, {"cache-control": "no-cache"}, **fields)
    assert refreshed.headers["x-speaker-cache"] == "bypass"
    # `no-cache` put its new take in place of the old one.
    again = _speak(server.url, **fields)
    assert again.headers["x-speaker-cache"] == "hit"
    assert again.data == refreshed.data
    after = _stats(runtime)
    assert after.bypasses - before.bypasses == 2
    assert after.stores - before.stores == 2


def test_long_form_is_cached_too(server: LiveServer) -> None:
    body = {"input": TEXT + " Five.", "voice": "alloy", "response_format": "pcm"}
    replies = []
    for _ in range(2):
        response = httpx.post(f"{server.url}/v1/tts/long", json=body, timeout=60)
        assert response.status_code == 200
        replies.append(response)
    assert [r.headers["x-speaker-cache"] for r in replies] == ["miss", "hit"]
    assert replies[0].content == replies[1].content


def test_status_reports_the_counters(server: LiveServer, runtime: Runtime) -> None:
    cache = httpx.get(f"{server.url}/status", timeout=10).json()["cache"]
    assert cache["backend"] == "disk"
    stats = _stats(runtime)
    assert cache["stores"] == stats.stores
    assert cache["hits"] == stats.hits
    assert 0 < cache["bytes"] <= runtime.settings.cache_max_bytes


@pytest.fixture(scope="module")
def twin_voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voices directory with the built-in model under another name: a second voice id."""
    folder = tmp_path_factory.mktemp("voices")
    files = builtin_voice()
    (folder / f"{TWIN}.onnx").symlink_to(files.model_path)
    (folder / f"{TWIN}.onnx.json").symlink_to(files.config_path)
    return folder


def _replica(redis_server: RedisServer, data_dir: Path, voices: Path) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=data_dir, redis_url=redis_server.url, workers=1, job_workers=0, voices_dir=voices
    )
    live = LiveServer(settings, Runtime(settings))
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def replica_a(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, twin_voices: Path
) -> Iterator[LiveServer]:
    redis_server.flush()
    yield from _replica(redis_server, tmp_path_factory.mktemp("replica-a"), twin_voices)


@pytest.fixture(scope="module")
def replica_b(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, twin_voices: Path
) -> Iterator[LiveServer]:
    yield from _replica(redis_server, tmp_path_factory.mktemp("replica-b"), twin_voices)


def test_replicas_share_the_redis_cache(
    replica_a: LiveServer, replica_b: LiveServer, redis_server: RedisServer
) -> None:
    first = _speak(replica_a.url, input=TEXT + " Six.", response_format="mp3")
    second = _speak(replica_b.url, input=TEXT + " Six.", response_format="mp3")
    assert first.headers["x-speaker-cache"] == "miss"
    assert second.headers["x-speaker-cache"] == "hit"
    assert second.data == first.data
    assert replica_b.runtime.speech_cache.stats().backend == "redis"
    # Another voice id, even one with the very same model files, is another entry.
    twin = _speak(replica_b.url, input=TEXT + " Six.", response_format="mp3", voice=TWIN)
    assert twin.headers["x-speaker-cache"] == "miss"
    assert twin.headers["x-speaker-voice"] == TWIN
    with Redis.from_url(redis_server.url) as client:
        keys = list(client.scan_iter(f"{REDIS_PREFIX}*"))
        assert len(keys) == 2
        ttl = replica_a.runtime.settings.cache_ttl_s
        assert all(0 < client.ttl(key) <= ttl for key in keys)
    # Nothing went to either replica's disk.
    for replica in (replica_a, replica_b):
        assert not (replica.runtime.settings.data_dir / "cache" / "audio").exists()
