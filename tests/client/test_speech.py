"""Speech through the SDK against the live server: whole files, streams, SSE and WebSockets."""

from __future__ import annotations

import asyncio

import pytest

from speaker.client import (
    AsyncSpeakerClient,
    InvalidRequestError,
    NotFoundError,
    SessionAudio,
    SessionDone,
    SpeakerClient,
    SpeechChunk,
    SpeechDone,
    Voice,
)
from tests.conftest import LiveServer
from tests.helpers import decode

pytestmark = pytest.mark.slow

LONG = (
    "The first sentence is short. The second one is a little longer than the first. "
    "A third sentence follows, so the server cuts the text into several chunks."
)


def test_speech_is_a_whole_file_in_the_format_asked(client: SpeakerClient) -> None:
    audio = decode(client.speech("Hello from the SDK.", voice="alloy", format="wav"), "wav")
    assert audio.sample_rate == 24_000
    assert 0.5 < audio.duration < 5
    slow = decode(client.speech("Hello from the SDK.", format="flac", speed=0.5), "flac")
    assert slow.duration > audio.duration * 1.5


def test_streamed_speech_comes_in_pieces_that_make_one_file(client: SpeakerClient) -> None:
    pieces = list(client.stream_speech(LONG, format="mp3"))
    assert len(pieces) >= 3
    assert decode(b"".join(pieces), "mp3").duration > 5


def test_sse_events_carry_each_chunk_then_done(client: SpeakerClient) -> None:
    events = list(client.stream_events(LONG, format="wav", first_chunk_chars=20))
    chunks = [e for e in events if isinstance(e, SpeechChunk)]
    done = events[-1]
    assert isinstance(done, SpeechDone)
    assert len(chunks) >= 2 == len(events) - len(chunks) + 1
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert done.chunks == len(chunks)
    assert "first sentence" in chunks[0].text.lower()
    audio = decode(b"".join(c.audio for c in chunks), "wav")
    assert audio.duration == pytest.approx(sum(c.duration for c in chunks), abs=0.3)
    assert done.usage.output_tokens > 0


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_a_websocket_session_speaks_text_fed_in_small_pieces(client: SpeakerClient) -> None:
    with client.session("en_US-joe-medium", format="pcm") as session:
        assert session.ready is not None
        assert session.ready.voice == "en_US-joe-medium"
        for piece in _pieces("Hello there, this is text written a few letters at a time. Bye"):
            session.send_text(piece)
        session.close()
        audio = b"".join(session)
    assert session.done is not None
    assert session.done.chunks >= 2
    assert not session.done.cancelled
    assert decode(audio, "pcm").duration == pytest.approx(session.done.audio_seconds, abs=0.2)


def test_a_websocket_session_in_json_mode_tells_each_chunks_text(client: SpeakerClient) -> None:
    with client.session(binary=False, format="wav") as session:
        session.send_text("Half a sentence")
        session.flush()
        session.send_text(" and the rest of it.")
        session.close()
        events = list(session.events())
    audio = [e for e in events if isinstance(e, SessionAudio)]
    assert isinstance(events[-1], SessionDone)
    assert audio[0].text == "Half a sentence"
    assert audio[0].duration is not None
    assert audio[0].duration > 0.3
    assert decode(b"".join(a.audio for a in audio), "wav").duration > 1


def test_a_websocket_session_with_an_unknown_voice_fails_to_open(client: SpeakerClient) -> None:
    with pytest.raises(NotFoundError) as err, client.session("robot"):
        pass
    assert err.value.code == "voice_not_found"
    assert err.value.status is None  # told in the socket, not by a status line


def test_an_unknown_voice_is_a_not_found_error_with_a_suggestion(client: SpeakerClient) -> None:
    with pytest.raises(NotFoundError) as err:
        client.speech("Hi.", voice="robot")
    error = err.value
    assert (error.status, error.code, error.param) == (400, "voice_not_found", "voice")
    assert error.suggestion is not None
    assert "en_US-joe-medium" in error.suggestion
    assert error.request_id
    assert isinstance(error, InvalidRequestError)
    with pytest.raises(NotFoundError) as by_id:
        client.speech(
            "Hi.",
            voice=Voice(id="voice_nope", name="x", type="cloned", language="en", preview_url=""),
        )
    assert by_id.value.status == 404


def test_empty_input_is_an_invalid_request_naming_the_field(client: SpeakerClient) -> None:
    with pytest.raises(InvalidRequestError) as err:
        list(client.stream_speech("   "))
    assert err.value.param == "input"
    assert err.value.code == "empty_input"
    assert not isinstance(err.value, NotFoundError)


def test_status_health_ready_and_models(client: SpeakerClient, server: LiveServer) -> None:
    status = client.status()
    assert status.status == "ready"
    assert status.default_voice in status.voices
    assert status.engines[0].name == "piper"
    assert "memory" in (status.model_extra or {})
    assert client.health() is True
    assert client.ready() is True
    assert "tts-1" in [m.id for m in client.models()]
    assert "en_US-joe-medium" in [v.id for v in client.voices.list(type="builtin")]


def test_the_async_client_speaks_streams_and_opens_sessions(server: LiveServer) -> None:
    async def run() -> tuple[bytes, list[bytes], list[object], bytes]:
        async with AsyncSpeakerClient(server.url) as client:
            whole = await client.speech("Async hello.", format="wav")
            pieces = [p async for p in client.stream_speech(LONG, format="mp3")]
            events = [e async for e in client.stream_events("One. Two.", format="pcm")]
            async with client.session(format="pcm") as session:
                for piece in _pieces("Typed by an async writer. Done"):
                    await session.send_text(piece)
                await session.close()
                live = b"".join([a async for a in session])
            assert session.done is not None
            return whole, pieces, events, live

    whole, pieces, events, live = asyncio.run(run())
    assert decode(whole, "wav").duration > 0.5
    assert len(pieces) >= 3
    assert decode(b"".join(pieces), "mp3").duration > 5
    assert isinstance(events[-1], SpeechDone)
    assert decode(live, "pcm").duration > 1
