"""`Server-Timing` on speech responses, and the log line each speech request leaves."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from speaker.observability.logs import JsonFormatter, RequestIdFilter
from tests.conftest import LiveServer
from tests.helpers import decode

SEQUENTIAL = ("prepare", "cache", "queue", "inference", "encode")
_ENTRY = re.compile(r'^(?P<name>[\w.-]+)(?:;dur=(?P<dur>[\d.]+))?(?:;desc="(?P<desc>[^"]*)")?$')


def _timing(header: str) -> dict[str, tuple[float, str | None]]:
    entries: dict[str, tuple[float, str | None]] = {}
    for part in header.split(", "):
        match = _ENTRY.match(part)
        assert match, part
        entries[match["name"]] = (float(match["dur"] or 0), match["desc"])
    return entries


def _post(url: str, path: str, text: str, **headers: str) -> tuple[httpx.Response, float, float]:
    """The response, the ms until its headers, and the ms until its last byte."""
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}
    started = time.perf_counter()
    with httpx.stream("POST", f"{url}{path}", json=body, headers=headers, timeout=60) as response:
        headed = (time.perf_counter() - started) * 1000
        response.read()
    return response, headed, (time.perf_counter() - started) * 1000


def test_stage_times_add_up_to_no_more_than_the_total(server: LiveServer) -> None:
    response, headed, _ = _post(
        server.url, "/v1/audio/speech", "Timing is everything.", **{"cache-control": "no-store"}
    )
    timing = _timing(response.headers["server-timing"])
    assert list(timing)[:2] == ["prepare", "cache"]
    assert timing["cache"][1] == "bypass"
    assert {"inference.phonemize", "inference.vits"} <= set(timing)
    total, description = timing["total"]
    # One chunk: the total is the whole synthesis, and it is inside what the client measured.
    assert description is None
    assert 0 < sum(timing[name][0] for name in SEQUENTIAL) <= total <= headed
    parts = sum(d for name, (d, _) in timing.items() if name.startswith("inference."))
    assert 0 < parts <= timing["inference"][0] + 0.2  # each entry is rounded to 0.1 ms
    assert timing["inference"][0] > timing["queue"][0]


def test_a_long_text_times_its_first_audio(server: LiveServer) -> None:
    text = "A short opening. " + " ".join(["Then a much longer sentence follows it here."] * 6)
    response, headed, whole = _post(
        server.url, "/v1/audio/speech", text, **{"cache-control": "no-store"}
    )
    timing = _timing(response.headers["server-timing"])
    total, description = timing["total"]
    assert description == "to first audio"
    assert sum(timing[name][0] for name in SEQUENTIAL) <= total <= headed < whole


def test_a_cache_hit_has_no_engine_stages(server: LiveServer) -> None:
    _post(server.url, "/v1/audio/speech", "Said once, then replayed.")
    response, headed, _ = _post(server.url, "/v1/audio/speech", "Said once, then replayed.")
    timing = _timing(response.headers["server-timing"])
    assert set(timing) == {"prepare", "cache", "total"}
    assert timing["cache"][1] == "hit"
    assert timing["prepare"][0] + timing["cache"][0] <= timing["total"][0] <= headed


def test_sse_streams_carry_it_too(server: LiveServer) -> None:
    response, _, _ = _post(server.url, "/v1/tts/stream", "Events, timed.")
    assert "inference" in _timing(response.headers["server-timing"])


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def speech_log() -> Iterator[_Records]:
    logger = logging.getLogger("speaker.speech")
    handler = _Records()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_each_request_leaves_one_structured_log_line(
    server: LiveServer, speech_log: _Records
) -> None:
    text = "Logged and measured."
    response, _, _ = _post(server.url, "/v1/audio/speech", text, **{"cache-control": "no-store"})
    audio = decode(response.content, "wav")
    deadline = time.monotonic() + 5
    while not speech_log.records and time.monotonic() < deadline:
        time.sleep(0.01)
    [record] = speech_log.records
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["route"] == "/v1/audio/speech"
    assert (line["engine"], line["voice"]) == ("piper", "en_US-joe-medium")
    assert line["characters"] == len(text)
    assert line["audio_seconds"] == pytest.approx(len(audio.samples) / audio.sample_rate, abs=0.1)
    assert 0 < line["ttfa_ms"] <= line["total_ms"]
    assert (line["outcome"], line["cache"]) == ("ok", "bypass")
