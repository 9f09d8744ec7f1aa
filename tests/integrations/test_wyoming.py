"""The Wyoming server, driven by the wyoming library's own client over real TCP sockets."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from speaker.config import Settings
from speaker.integrations.wyoming import WyomingServer
from speaker.runtime import Runtime
from tests.conftest import LiveServer
from tests.helpers import free_port, voiced_seconds, wait_idle

T = TypeVar("T")
TWO_SENTENCES = "The kitchen lights are now on. The front door is locked for the night."


@asynccontextmanager
async def wyoming(runtime: Runtime) -> AsyncIterator[AsyncTcpClient]:
    port = free_port()
    server = WyomingServer(runtime, f"tcp://127.0.0.1:{port}")
    await server.start()
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            yield client
    finally:
        await server.stop()


def run(scenario: Callable[[AsyncTcpClient], Awaitable[T]], runtime: Runtime) -> T:
    async def main() -> T:
        async with wyoming(runtime) as client:
            return await asyncio.wait_for(scenario(client), 60)

    return asyncio.run(main())


async def read_until(client: AsyncTcpClient, last: str) -> list[Event]:
    events = []
    while True:
        # Past `error` events too: every request ends with its own closing event.
        event = await asyncio.wait_for(client.read_event(), 20)
        assert event is not None, "the server closed the connection"
        events.append(event)
        if event.type == last:
            return events


def pcm_of(events: list[Event]) -> np.ndarray:
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert chunks, [e.type for e in events]
    assert {(c.rate, c.width, c.channels) for c in chunks} == {(24000, 2, 1)}
    data = b"".join(c.audio for c in chunks)
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def types(events: list[Event]) -> list[str]:
    # Runs of audio-chunk collapse into one, so the order of the other events is readable.
    seen: list[str] = []
    for event in events:
        if not (seen and seen[-1] == event.type == "audio-chunk"):
            seen.append(event.type)
    return seen


def test_describe_lists_every_voice_and_streaming(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> Info:
        await client.write_event(Describe().event())
        return Info.from_event((await read_until(client, "info"))[-1])

    info = run(scenario, runtime)
    (program,) = info.tts
    assert program.name == "speaker"
    assert program.supports_synthesize_streaming
    voices = {v.name: v for v in program.voices}
    assert set(voices) == {v.id for v in runtime.catalog.voices()}
    joe = voices["en_US-joe-medium"]
    assert joe.installed
    assert joe.languages == ["en_US"]
    assert "alloy" in (joe.description or "")


def test_synthesize_speaks_the_text(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> list[Event]:
        voice = SynthesizeVoice(name="en_US-joe-medium")
        await client.write_event(Synthesize(text=TWO_SENTENCES, voice=voice).event())
        return await read_until(client, "audio-stop")

    events = run(scenario, runtime)
    assert types(events) == ["audio-start", "audio-chunk", "audio-stop"]
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (24000, 2, 1)
    pcm = pcm_of(events)
    # Fourteen words: about three seconds of speech, not silence and not a fragment.
    assert voiced_seconds(pcm, 24000) > 1.8
    assert 2.2 < len(pcm) / 24000 < 8.0


def test_streamed_text_is_spoken_before_the_stream_ends(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> tuple[list[Event], list[Event]]:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="alloy")).event())
        # As an LLM streams it: words split mid-way, the first sentence complete early.
        for piece in ["The kitchen li", "ghts are now on. ", "The front door is lo"]:
            await client.write_event(SynthesizeChunk(text=piece).event())
        # The first sentence's audio arrives while the text is still open.
        before_stop = await read_until(client, "audio-chunk")
        await client.write_event(SynthesizeChunk(text="cked for the night.").event())
        # Streaming clients also send the whole text, for servers that cannot stream.
        await client.write_event(Synthesize(text=TWO_SENTENCES).event())
        await client.write_event(SynthesizeStop().event())
        return before_stop, await read_until(client, "synthesize-stopped")

    before_stop, after_stop = run(scenario, runtime)
    assert types(before_stop) == ["audio-start", "audio-chunk"]
    # Wyoming's streaming order: each piece of audio between its own start and stop, then
    # `synthesize-stopped` after the final audio.
    flow = " ".join(types(before_stop + after_stop))
    assert re.fullmatch(r"(audio-start audio-chunk audio-stop )+synthesize-stopped", flow), flow
    assert flow.count("audio-start") == 2, "one segment per sentence"
    pcm = pcm_of(before_stop + after_stop)
    # Both sentences, once (the compatibility `synthesize` is not spoken again): as long as
    # the same text spoken in one piece.
    whole = run(_whole_text, runtime)
    assert abs(voiced_seconds(pcm, 24000) - voiced_seconds(whole, 24000)) < 1.0


async def _whole_text(client: AsyncTcpClient) -> np.ndarray:
    await client.write_event(Synthesize(text=TWO_SENTENCES).event())
    return pcm_of(await read_until(client, "audio-stop"))


def test_errors_are_events_and_the_connection_lives_on(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> list[list[Event]]:
        answers = []
        for request in (
            Synthesize(text="Hello.", voice=SynthesizeVoice(name="no-such-voice")).event(),
            Synthesize(text="Bonjour.", voice=SynthesizeVoice(language="xx_XX")).event(),
            Synthesize(text="   ").event(),
            Event(type="synthesize", data={"voice": {"name": "alloy"}}),
        ):
            await client.write_event(request)
            answers.append(await read_until(client, "audio-stop"))
        await client.write_event(Synthesize(text="Still here.").event())
        answers.append(await read_until(client, "audio-stop"))
        return answers

    *refused, spoken = run(scenario, runtime)
    # An `audio-stop` closes each refusal: clients that ignore `error` stop waiting for audio.
    assert [types(events) for events in refused] == [["error", "audio-stop"]] * 4
    errors = [Error.from_event(events[0]) for events in refused]
    codes = [e.code for e in errors]
    assert codes == ["voice_not_found", "unsupported_language", "empty_input", "invalid_event"]
    assert all(e.text for e in errors)
    assert voiced_seconds(pcm_of(spoken), 24000) > 0.4


def test_a_refused_stream_answers_once_and_still_stops(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> list[Event]:
        voice = SynthesizeVoice(name="no-such-voice")
        await client.write_event(SynthesizeStart(voice=voice).event())
        await client.write_event(SynthesizeChunk(text="Hello there.").event())
        await client.write_event(Synthesize(text="Hello there.", voice=voice).event())
        await client.write_event(SynthesizeStop().event())
        return await read_until(client, "synthesize-stopped")

    events = run(scenario, runtime)
    # Not a second error for the compatibility `synthesize`: it belongs to the refused stream.
    assert types(events) == ["error", "synthesize-stopped"]
    assert Error.from_event(events[0]).code == "voice_not_found"


def test_a_runtime_still_loading_answers_not_ready(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path, workers=1))  # never loaded

    async def scenario(client: AsyncTcpClient) -> list[list[Event]]:
        await client.write_event(Describe().event())
        described = await asyncio.wait_for(client.read_event(), 20)
        assert described is not None
        await client.write_event(Synthesize(text="Hello.").event())
        return [[described], await read_until(client, "audio-stop")]

    try:
        described, synthesized = run(scenario, runtime)
    finally:
        runtime.close()
    assert types(synthesized) == ["error", "audio-stop"]
    assert [Error.from_event(e[0]).code for e in (described, synthesized)] == ["not_ready"] * 2


def test_language_picks_a_voice(runtime: Runtime) -> None:
    async def scenario(client: AsyncTcpClient) -> list[Event]:
        await client.write_event(
            Synthesize(text="Good morning.", voice=SynthesizeVoice(language="en")).event()
        )
        return await read_until(client, "audio-stop")

    events = run(scenario, runtime)
    assert voiced_seconds(pcm_of(events), 24000) > 0.4


def test_a_client_that_leaves_mid_stream_stops_its_synthesis(runtime: Runtime) -> None:
    long_text = " ".join(f"This is sentence number {n} of a long answer." for n in range(40))

    async def scenario(client: AsyncTcpClient) -> None:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text=long_text).event())
        await read_until(client, "audio-chunk")

    started = time.monotonic()
    run(scenario, runtime)  # the client disconnects after its first audio
    # Forty sentences take about ten seconds of compute here: idle sooner means cancelled.
    wait_idle(runtime, timeout=5)
    assert time.monotonic() - started < 8


def test_http_server_also_serves_wyoming_when_configured(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    port = free_port()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("wyoming-app"),
        workers=1,
        wyoming_uri=f"tcp://127.0.0.1:{port}",
    )
    runtime = Runtime(settings)
    live = LiveServer(settings, runtime)
    live.start()
    try:

        async def scenario() -> list[Event]:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Synthesize(text="Speaker is ready.").event())
                return await read_until(client, "audio-stop")

        events = asyncio.run(asyncio.wait_for(scenario(), 60))
        assert voiced_seconds(pcm_of(events), 24000) > 0.5
    finally:
        live.stop()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=2),
    ):
        pass  # the port closed with the HTTP server


def test_settings_refuse_a_malformed_wyoming_uri(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wyoming_uri"):
        Settings(data_dir=tmp_path, wyoming_uri="10200")


@pytest.mark.slow
def test_speaker_wyoming_command_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SPEAKER_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "speaker", "wyoming", "--uri", f"tcp://127.0.0.1:{port}"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the Wyoming port never opened"
                time.sleep(0.2)

        async def scenario() -> Event:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Describe().event())
                return (await read_until(client, "info"))[-1]

        info = Info.from_event(asyncio.run(asyncio.wait_for(scenario(), 30)))
        assert info.tts[0].voices
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
