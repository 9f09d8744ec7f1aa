"""Retries against a scripted stand-in server: when the SDK sends again, and how long it waits."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import pytest

from speaker.client import (
    APIConnectionError,
    AsyncSpeakerClient,
    ConflictError,
    InvalidRequestError,
    Job,
    OverloadedError,
    RateLimitError,
    ServerError,
    SpeakerClient,
    WaitTimeoutError,
)
from tests.client.conftest import Reply, StandIn


def _error(code: str, **fields: object) -> bytes:
    return json.dumps({"error": {"message": code, "type": "x", "code": code, **fields}}).encode()


def test_a_429_is_retried_after_its_retry_after(stand_in: StandIn) -> None:
    stand_in.replies = [
        Reply(429, _error("rate_limit_exceeded"), {"Retry-After": "1", "x-request-id": "r1"})
    ]
    with SpeakerClient(stand_in.url, max_retries=2) as client:
        started = time.monotonic()
        assert client.health() is True
        elapsed = time.monotonic() - started
    assert stand_in.attempts == 2
    assert 1.0 <= elapsed < 2.5


def test_retry_after_ms_wins_and_long_waits_are_capped(stand_in: StandIn) -> None:
    stand_in.replies = [
        Reply(503, _error("overloaded"), {"retry-after-ms": "150", "Retry-After": "9"}),
        Reply(503, _error("overloaded"), {"Retry-After": "120"}),
    ]
    with SpeakerClient(stand_in.url, max_retries=2, max_retry_delay=0.3) as client:
        started = time.monotonic()
        assert client.health() is True
        elapsed = time.monotonic() - started
    assert stand_in.attempts == 3
    assert 0.45 <= elapsed < 1.5


def test_retries_stop_at_max_retries_with_the_last_error(stand_in: StandIn) -> None:
    stand_in.replies = [
        Reply(503, _error("overloaded", suggestion="later"), {"Retry-After": "0"})
    ] * 5
    with (
        SpeakerClient(stand_in.url, max_retries=2) as client,
        pytest.raises(OverloadedError) as err,
    ):
        client.status()
    assert stand_in.attempts == 3
    assert err.value.status == 503
    assert err.value.retry_after == 0
    assert err.value.suggestion == "later"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(400, _error("empty_input", param="input")), InvalidRequestError),
        (Reply(409, _error("item_failed")), ConflictError),
    ],
)
def test_input_errors_are_never_retried(
    stand_in: StandIn, reply: Reply, error: type[Exception]
) -> None:
    stand_in.replies = [reply, Reply()]
    with SpeakerClient(stand_in.url, max_retries=3) as client, pytest.raises(error):
        client.health()
    assert stand_in.attempts == 1


def test_a_409_with_retry_after_is_retried(stand_in: StandIn) -> None:
    stand_in.replies = [Reply(409, _error("item_not_ready"), {"Retry-After": "0"}), Reply()]
    with SpeakerClient(stand_in.url) as client:
        assert client.health() is True
    assert stand_in.attempts == 2


def test_a_body_that_is_not_speakers_still_makes_an_error(stand_in: StandIn) -> None:
    stand_in.replies = [Reply(502, b"<html>Bad Gateway</html>", {"content-type": "text/html"})]
    with (
        SpeakerClient(stand_in.url, max_retries=0) as client,
        pytest.raises(ServerError, match="Bad Gateway") as err,
    ):
        client.health()
    assert err.value.code == "http_502"
    assert err.value.status == 502


def test_connection_errors_are_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "ok"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with SpeakerClient("http://speaker.invalid", max_retries=2, http_client=http) as client:
        assert client.health() is True
    assert len(calls) == 3
    calls.clear()
    with (
        SpeakerClient("http://speaker.invalid", max_retries=1, http_client=http) as client,
        pytest.raises(APIConnectionError),
    ):
        client.models()
    assert len(calls) == 2


@pytest.mark.parametrize(("failure", "attempts"), [(httpx.ConnectError, 2), (httpx.ReadError, 1)])
def test_a_job_is_sent_again_after_a_broken_connection_only_if_it_never_left(
    failure: type[httpx.TransportError], attempts: int
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise failure("broken", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with (
        SpeakerClient("http://speaker.invalid", max_retries=1, http_client=http) as client,
        pytest.raises(APIConnectionError) as err,
    ):
        client.jobs.submit(["Once only."])
    assert len(calls) == attempts
    assert err.value.request_sent is (failure is httpx.ReadError)


def test_a_stream_is_retried_before_its_first_byte_only(stand_in: StandIn) -> None:
    audio = bytes(range(256)) * 40
    stand_in.replies = [
        Reply(503, _error("overloaded"), {"Retry-After": "0"}),
        Reply(200, audio, {"content-type": "audio/mpeg"}),
    ]
    with SpeakerClient(stand_in.url) as client:
        assert b"".join(client.stream_speech("Hi.")) == audio
        assert stand_in.attempts == 2
        stand_in.replies = [Reply(200, audio, {"content-type": "audio/mpeg"}, cut=1000)]
        pieces = client.stream_speech("Hi.")
        first = next(pieces)
        with pytest.raises(APIConnectionError):
            list(pieces)
    assert stand_in.attempts == 3  # the broken stream was not sent again
    assert first == audio[: len(first)]


def test_the_async_client_retries_too(stand_in: StandIn) -> None:
    stand_in.replies = [
        Reply(429, _error("too_many_streams"), {"Retry-After": "1"}),
        Reply(400, _error("invalid_value", param="speed")),
    ]

    async def run() -> None:
        async with AsyncSpeakerClient(stand_in.url, max_retries=3) as client:
            with pytest.raises(InvalidRequestError) as err:
                await client.speech("Hi.", speed=9)
            assert err.value.param == "speed"
        stand_in.replies = [Reply(429, _error("too_many_streams"), {"Retry-After": "0"})]
        async with AsyncSpeakerClient(stand_in.url, max_retries=0) as client:
            with pytest.raises(RateLimitError):
                await client.health()

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started >= 1.0
    assert stand_in.attempts == 3


def test_importing_the_sdk_loads_no_server_modules() -> None:
    code = (
        "import sys, speaker.client; "
        "heavy = ['fastapi', 'starlette', 'onnxruntime', 'torch', 'numpy', 'av', "
        "'speaker.runtime', 'speaker.api', 'speaker.engines', 'speaker.service']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


def test_waiting_for_a_job_gives_up_after_the_timeout(stand_in: StandIn) -> None:
    running = {
        "id": "job_1",
        "kind": "batch",
        "state": "running",
        "priority": 5,
        "created_at": 1.0,
        "updated_at": 1.0,
        "item_count": 2,
        "counts": {"running": 1, "queued": 1},
        "results_url": "/v1/jobs/job_1/results.zip",
    }
    stand_in.replies = [Reply(200, json.dumps(running).encode())] * 50
    seen: list[Job] = []
    with SpeakerClient(stand_in.url) as client, pytest.raises(WaitTimeoutError, match="job_1"):
        client.jobs.wait("job_1", on_progress=seen.append, timeout=0.5, interval=0.1)
    assert 3 <= len(seen) <= 6  # polled less and less often, and not past the deadline
    assert stand_in.paths[0] == "/v1/jobs/job_1"


def _loading(retry_after: str) -> Reply:
    return Reply(503, b'{"status": "loading"}', {"Retry-After": retry_after})


def test_wait_ready_waits_as_long_as_ready_asks(stand_in: StandIn) -> None:
    stand_in.replies = [_loading("1"), Reply(200, b'{"status": "ready"}')]
    with SpeakerClient(stand_in.url) as client:
        started = time.monotonic()
        client.wait_ready(timeout=10, interval=0.05)
        elapsed = time.monotonic() - started
    # The 0.05 s interval alone would have looked again at once.
    assert 0.9 <= elapsed < 3
    assert stand_in.paths == ["/ready", "/ready"]


def test_wait_ready_names_the_last_state_when_it_gives_up(stand_in: StandIn) -> None:
    # Retry-After: 0 must not become a busy loop: the interval is still the least wait.
    stand_in.replies = [_loading("0") for _ in range(100)]
    with SpeakerClient(stand_in.url) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError, match=r"not ready after 0.6 s \(last seen: loading\)"):
            client.wait_ready(timeout=0.6, interval=0.1)
        elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.5
    assert 3 <= stand_in.attempts <= 8


def test_wait_ready_of_the_async_client_honours_retry_after_and_times_out(
    stand_in: StandIn,
) -> None:
    stand_in.replies = [_loading("1"), Reply(200, b'{"status": "ready"}'), *[_loading("5")] * 2]

    async def scenario() -> float:
        async with AsyncSpeakerClient(stand_in.url) as client:
            started = time.monotonic()
            await client.wait_ready(timeout=10, interval=0.05)
            elapsed = time.monotonic() - started
            # Asked to come back in 5 s with 0.5 s left: one last look at the deadline, not later.
            with pytest.raises(WaitTimeoutError, match="last seen: loading"):
                await client.wait_ready(timeout=0.5)
            return elapsed

    waited = time.monotonic()
    assert 0.9 <= asyncio.run(scenario()) < 3
    assert time.monotonic() - waited < 4
