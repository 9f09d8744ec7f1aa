"""One Wyoming connection: events in, calls on the speech service, audio events out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

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
from speaker.errors import InvalidRequestError, OverloadedError, SpeakerError
from speaker.integrations.wyoming.info import describe
from speaker.runtime import Runtime
from speaker.service import EncodedChunk, LiveSpeech, SpeechOrder

log = logging.getLogger(__name__)

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

    async def handle_event(self, event: Event) -> bool:
        """Handle one event; False ends the connection (only when the client is gone)."""
        try:
            await self._dispatch(event)
        except SpeakerError as exc:
            await self._error(exc.message, exc.code)
        except ConnectionError:
            return False
        return True

    async def disconnect(self) -> None:
        """A client that leaves mid-stream stops the synthesis it started."""
        self._drop_stream()

    async def _dispatch(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(describe(self._ready(), WYOMING_CALLER).event())
        elif SynthesizeStart.is_type(event.type):
            self._start(SynthesizeStart.from_event(event).voice)
        elif SynthesizeChunk.is_type(event.type):
            if self._stream is not None:
                self._stream.live.feed(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            await self._stop()
        elif Synthesize.is_type(event.type) and self._stream is None:
            # Inside a stream, `synthesize` is the copy of the whole text that streaming
            # clients send for servers without streaming: it was spoken chunk by chunk.
            await self._synthesize(Synthesize.from_event(event))

    def _ready(self) -> Runtime:
        runtime = self._runtime
        if runtime.draining or not runtime.ready:
            raise OverloadedError(
                "Speaker is starting or shutting down",
                code="not_ready",
                suggestion="retry in a few seconds",
            )
        return runtime

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
            return voice.name
        if not voice.language:
            return None
        wanted = voice.language.replace("-", "_").lower()
        for known in self._ready().catalog.voices():
            if known.language.replace("-", "_").lower().startswith(wanted):
                return known.id
        raise InvalidRequestError(
            f"no voice speaks {voice.language!r}",
            code="unsupported_language",
            param="voice.language",
            suggestion="send `describe` to list the voices and their languages",
        )

    async def _synthesize(self, request: Synthesize) -> None:
        service = self._ready().service
        speech = await service.prepare(self._order(request.text, request.voice))
        await self.write_event(_audio_start())
        await self._send_audio(service.stream(speech))
        await self.write_event(AudioStop().event())

    def _start(self, voice: SynthesizeVoice | None) -> None:
        self._drop_stream()
        live = self._ready().service.live(self._order("", voice))
        self._stream = _Stream(live, asyncio.create_task(self._send_live(live)))

    async def _send_live(self, live: LiveSpeech) -> bool:
        """Send each sentence's audio as it is synthesized; True once audio has started."""
        chunks = live.chunks()
        started = False
        try:
            async for chunk in chunks:
                if chunk.data and not started:
                    await self.write_event(_audio_start())
                    started = True
                await self._send_audio(_one(chunk))
        except SpeakerError as exc:
            await self._error(exc.message, exc.code)
        finally:
            await chunks.aclose()
        return started

    async def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.live.close()
            if await stream.sender:
                await self.write_event(AudioStop().event())
        await self.write_event(SynthesizeStopped().event())

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
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

    async def _error(self, text: str, code: str) -> None:
        log.info("wyoming request refused: %s (%s)", text, code)
        await self.write_event(Error(text=text, code=code).event())


def _audio_start() -> Event:
    return AudioStart(rate=OUTPUT_SAMPLE_RATE, width=WIDTH, channels=CHANNELS).event()


async def _one(chunk: EncodedChunk) -> AsyncIterator[EncodedChunk]:
    yield chunk
