"""One Wyoming connection: events in, calls on the speech service, audio events out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypeVar

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from speaker.audio.formats import OUTPUT_SAMPLE_RATE, AudioFormat
from speaker.auth.principal import Principal, Role
from speaker.errors import InvalidRequestError, SpeakerError
from speaker.integrations.wyoming.info import describe
from speaker.runtime import Runtime
from speaker.service import EncodedChunk, LiveSpeech, SpeechOrder

log = logging.getLogger(__name__)
T = TypeVar("T")

WYOMING_CALLER = Principal(role=Role.USER)
"""Wyoming carries no key: its callers use built-in, shared and ownerless voices, as any user."""
WIDTH = 2
CHANNELS = 1
CHUNK_BYTES = 4096
"""2,048 samples per `audio-chunk` (85 ms): players start on the first one, not the sentence."""


@dataclass
class _Stream:
    live: LiveSpeech
    sender: asyncio.Task[bool]


class SpeechHandler(AsyncEventHandler):
    """Answers `describe`, `synthesize` and the streamed `synthesize-start/-chunk/-stop`."""

    def __init__(
        self,
        runtime: Runtime,
        client: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(reader, writer)
        self._runtime = runtime
        self._client = client
        self._stream: _Stream | None = None
        self._streaming = False
        """Between `synthesize-start` and `synthesize-stop`, even when the start was refused."""

    async def handle_event(self, event: Event) -> bool:
        """Handle one event; False ends the connection (only when the client is gone)."""
        try:
            await self._answer(event)
        except ConnectionError:
            return False
        return True

    async def _answer(self, event: Event) -> None:
        try:
            await self._dispatch(event)
        except ConnectionError:
            raise
        except Exception as exc:
            # Every failure, expected or not, is an `error` event on a connection that lives on.
            await self._report(exc)
            if Synthesize.is_type(event.type) and not self._streaming:
                # Home Assistant's whole-text client ignores `error` and reads until
                # `audio-stop`: without one it would wait for audio that never comes.
                await self.write_event(AudioStop().event())

    async def disconnect(self) -> None:
        """A client that leaves mid-stream stops the synthesis it started."""
        self._drop_stream()

    async def _dispatch(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(describe(self._runtime.require_ready(), WYOMING_CALLER).event())
        elif SynthesizeStart.is_type(event.type):
            self._start(_parse(SynthesizeStart.from_event, event).voice)
        elif SynthesizeChunk.is_type(event.type):
            text = _parse(SynthesizeChunk.from_event, event).text
            if self._stream is not None:
                self._stream.live.feed(_string(text, "text"))
        elif SynthesizeStop.is_type(event.type):
            await self._stop()
        elif Synthesize.is_type(event.type) and not self._streaming:
            # Inside a stream, `synthesize` is the copy of the whole text that streaming
            # clients send for servers without streaming: it was spoken chunk by chunk, or
            # refused at `synthesize-start` already.
            await self._synthesize(_parse(Synthesize.from_event, event))

    def _order(self, text: str, voice: SynthesizeVoice | None) -> SpeechOrder:
        return SpeechOrder(
            text=text,
            model="tts-1",
            voice=self._voice_id(voice),
            fmt=AudioFormat.PCM,
            client=self._client,
            viewer=WYOMING_CALLER,
        )

    def _voice_id(self, voice: SynthesizeVoice | None) -> str | None:
        if voice is None:
            return None
        if voice.name:
            return _string(voice.name, "voice.name")
        if not voice.language:
            return None
        wanted = _string(voice.language, "voice.language").replace("-", "_").lower()
        for known in self._runtime.require_ready().catalog.voices():
            if known.language.replace("-", "_").lower().startswith(wanted):
                return known.id
        raise InvalidRequestError(
            f"no voice speaks {voice.language!r}",
            code="unsupported_language",
            param="voice.language",
            suggestion="send `describe` to list the voices and their languages",
        )

    async def _synthesize(self, request: Synthesize) -> None:
        service = self._runtime.require_ready().service
        speech = await service.prepare(self._order(_string(request.text, "text"), request.voice))
        await self.write_event(_audio_start())
        await self._send_audio(service.stream(speech))
        await self.write_event(AudioStop().event())

    def _start(self, voice: SynthesizeVoice | None) -> None:
        self._drop_stream()
        self._streaming = True
        live = self._runtime.require_ready().service.live(self._order("", voice))
        self._stream = _Stream(live, asyncio.create_task(self._send_live(live)))

    async def _send_live(self, live: LiveSpeech) -> bool:
        """Send each text chunk's audio as it is synthesized, between its own `audio-start` and
        `audio-stop` as Wyoming's streaming order has it; True if the last one is still open."""
        chunks = live.chunks()
        segment = False
        try:
            async for chunk in chunks:
                # Only a chunk's first piece carries its text: the next sentence begins.
                if chunk.text and segment:
                    await self.write_event(AudioStop().event())
                    segment = False
                if chunk.data and not segment:
                    await self.write_event(_audio_start())
                    segment = True
                await self._send_audio(_one(chunk))
        except ConnectionError:
            pass  # the client left: `disconnect` ends the session
        except Exception as exc:
            # Reported here; `_stop` still ends the stream with `synthesize-stopped`.
            with contextlib.suppress(ConnectionError):
                await self._report(exc)
        finally:
            await chunks.aclose()
        return segment

    async def _stop(self) -> None:
        stream, self._stream = self._stream, None
        self._streaming = False
        if stream is not None:
            stream.live.close()
            if await stream.sender:
                await self.write_event(AudioStop().event())
        await self.write_event(SynthesizeStopped().event())

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._streaming = False
        if stream is not None:
            stream.live.cancel()
            stream.sender.cancel()

    async def _send_audio(self, chunks: AsyncIterator[EncodedChunk]) -> None:
        async for chunk in chunks:
            for start in range(0, len(chunk.data), CHUNK_BYTES):
                piece = chunk.data[start : start + CHUNK_BYTES]
                event = AudioChunk(
                    rate=OUTPUT_SAMPLE_RATE, width=WIDTH, channels=CHANNELS, audio=piece
                )
                await self.write_event(event.event())

    async def _report(self, exc: Exception) -> None:
        if isinstance(exc, SpeakerError):
            log.info("wyoming request refused: %s (%s)", exc.message, exc.code)
            error = Error(text=exc.message, code=exc.code)
        else:
            # A failure outside Speaker's own errors (a bug, an engine crash): the traceback
            # goes to the log, the client gets an event and keeps its connection.
            log.error("wyoming request failed", exc_info=exc)
            error = Error(text="Speaker failed to synthesize; see its log", code="internal_error")
        await self.write_event(error.event())


def _parse(parse: Callable[[Event], T], event: Event) -> T:
    """An event's fields, or a clear refusal of an event that lacks them."""
    try:
        return parse(event)
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidRequestError(
            f"malformed {event.type!r} event: {exc!r}",
            code="invalid_event",
            suggestion="send events as the wyoming package writes them",
        ) from None


def _string(value: object, field: str) -> str:
    # The wyoming package passes its JSON on unchecked: a number here would fail deep inside.
    if not isinstance(value, str):
        raise InvalidRequestError(
            f"`{field}` must be a string",
            code="invalid_event",
            param=field,
            suggestion="send events as the wyoming package writes them",
        )
    return value


def _audio_start() -> Event:
    return AudioStart(rate=OUTPUT_SAMPLE_RATE, width=WIDTH, channels=CHANNELS).event()


async def _one(chunk: EncodedChunk) -> AsyncIterator[EncodedChunk]:
    yield chunk
