"""WebSocket sessions (`WS /v1/tts/ws`): send text as it is written, receive audio per sentence."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from speaker.client._core import ClientOptions, VoiceLike, voice_field
from speaker.client.errors import (
    APIConnectionError,
    SpeakerClientError,
    error_from_body,
    error_from_response,
)
from speaker.client.models import AudioFormat, SessionAudio, SessionDone, SessionReady

# The server takes at most this many characters in one `text` message.
_TEXT_LIMIT = 4096
# A chunk's audio arrives in one frame; a generous cap still stops a runaway frame.
_MAX_FRAME = 16 * 1024 * 1024

Event = SessionAudio | SessionDone


class _Protocol:
    """The session's messages, independent of the socket library's sync or async flavour."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        voice: VoiceLike,
        model: str,
        format: AudioFormat,
        speed: float,
        normalize: bool | None,
        binary: bool,
    ) -> None:
        self.options = options
        self.url = options.ws_url("/v1/tts/ws")
        start: dict[str, Any] = {
            "type": "start",
            "voice": voice_field(voice),
            "model": model,
            "response_format": format,
            "speed": speed,
            "normalize": normalize,
            "binary": binary,
        }
        self.start = json.dumps({k: v for k, v in start.items() if v is not None})
        self.headers = options.headers()
        self._index = 0
        self.done: SessionDone | None = None

    @staticmethod
    def texts(text: str) -> list[str]:
        """`text` messages for any length of text."""
        return [
            json.dumps({"type": "text", "text": text[i : i + _TEXT_LIMIT]})
            for i in range(0, len(text), _TEXT_LIMIT)
        ]

    @staticmethod
    def control(kind: str) -> str:
        """A message without fields: `flush`, `close` or `cancel`."""
        return json.dumps({"type": kind})

    @staticmethod
    def _message(frame: str) -> dict[str, Any]:
        message = json.loads(frame)
        if not isinstance(message, dict):
            raise APIConnectionError(f"unexpected message from the server: {frame[:200]}")
        if message.get("type") == "error":
            raise error_from_body(message)
        return message

    def ready(self, frame: str | bytes) -> SessionReady:
        """The `ready` message that must open the session."""
        if isinstance(frame, bytes):
            raise APIConnectionError("the server sent audio before the session was ready")
        return SessionReady.model_validate(self._message(frame))

    def event(self, frame: str | bytes) -> Event | None:
        """The event in a frame; an `error` message raises SpeakerAPIError."""
        if isinstance(frame, bytes):
            audio = SessionAudio(index=self._index, audio=frame)
            self._index += 1
            return audio
        message = self._message(frame)
        if message.get("type") == "audio":
            return SessionAudio(
                index=message["index"],
                audio=base64.b64decode(message["audio"]),
                text=message["text"],
                duration=message["duration"],
            )
        if message.get("type") == "done":
            self.done = SessionDone.model_validate(message)
            return self.done
        return None


def _closed_error(exc: ConnectionClosed) -> SpeakerClientError:
    """Why the server closed the session: its close reason is the error code when it refused."""
    close = exc.rcvd
    if close is not None and close.code in (1008, 1011, 1013) and close.reason:
        message = f"the server closed the session ({close.code}): {close.reason}"
        error: SpeakerClientError = error_from_body(
            {"error": {"code": close.reason, "message": message}}
        )
    else:
        error = APIConnectionError(f"the session ended before `done`: {exc}")
    error.__cause__ = exc
    return error


def _opening_error(exc: Exception) -> SpeakerClientError:
    """What stopped a session from opening, as the SDK's exception."""
    if isinstance(exc, SpeakerClientError):
        return exc
    if isinstance(exc, ConnectionClosed):
        return _closed_error(exc)
    if isinstance(exc, InvalidStatus):
        response = exc.response
        error: SpeakerClientError = error_from_response(
            response.status_code, response.headers, bytes(response.body or b"")
        )
    else:
        error = APIConnectionError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


_OPENING_FAILURES = (OSError, TimeoutError, WebSocketException, SpeakerClientError)


class SpeechSession:
    """A blocking WebSocket session; open it with `SpeakerClient.session()` in a `with` block."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        voice: VoiceLike,
        model: str,
        format: AudioFormat,
        speed: float,
        normalize: bool | None,
        binary: bool,
    ) -> None:
        self._protocol = _Protocol(
            options,
            voice=voice,
            model=model,
            format=format,
            speed=speed,
            normalize=normalize,
            binary=binary,
        )
        self._ws: ClientConnection | None = None
        self.ready: SessionReady | None = None

    @property
    def done(self) -> SessionDone | None:
        """The session's summary, once it has arrived."""
        return self._protocol.done

    def _open(self) -> tuple[ClientConnection, SessionReady]:
        connection = connect(
            self._protocol.url,
            additional_headers=self._protocol.headers,
            max_size=_MAX_FRAME,
            open_timeout=self._protocol.options.http_timeout().connect,
        )
        # websockets 17.1+ wants its sync connections entered as context managers.
        with contextlib.ExitStack() as stack:
            ws = stack.enter_context(connection)
            # A server that refuses at once may close before `start` is sent; its error
            # message is still there to be read.
            with contextlib.suppress(ConnectionClosed):
                ws.send(self._protocol.start)
            ready = self._protocol.ready(ws.recv())
            stack.pop_all()
            return ws, ready

    def __enter__(self) -> SpeechSession:
        """Connect and start the session; refusals a retry can cure are retried."""
        attempt = 0
        while True:
            try:
                self._ws, self.ready = self._open()
                return self
            except _OPENING_FAILURES as exc:
                error = _opening_error(exc)
            wait = self._protocol.options.retry_wait(attempt, error)
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the socket; the server drops whatever audio was not yet sent."""
        if self._ws is not None:
            self._ws.close()

    def _socket(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("use the session in a `with` block")
        return self._ws

    def _send(self, message: str) -> None:
        try:
            self._socket().send(message)
        except WebSocketException as exc:
            raise APIConnectionError(f"the session is closed: {exc}") from exc

    def send_text(self, text: str) -> None:
        """More text; each completed sentence starts synthesizing at once."""
        for message in self._protocol.texts(text):
            self._send(message)

    def flush(self) -> None:
        """Speak what has arrived, even an unfinished sentence."""
        self._send(self._protocol.control("flush"))

    def close(self) -> None:
        """End of text: the rest of the audio follows, then `done` (the socket stays yours)."""
        self._send(self._protocol.control("close"))

    def cancel(self) -> None:
        """Drop the audio not yet sent; `done` (cancelled) follows."""
        self._send(self._protocol.control("cancel"))

    def events(self) -> Iterator[Event]:
        """Each chunk's audio as it comes, then the `done` summary."""
        ws = self._socket()
        while True:
            try:
                frame = ws.recv()
            except ConnectionClosed as exc:
                raise _closed_error(exc) from exc
            event = self._protocol.event(frame)
            if event is not None:
                yield event
            if isinstance(event, SessionDone):
                return

    def __iter__(self) -> Iterator[bytes]:
        """The audio bytes of each chunk until `done`; joined, they are one file."""
        for event in self.events():
            if isinstance(event, SessionAudio):
                yield event.audio


class AsyncSpeechSession:
    """An asyncio WebSocket session; open it with `AsyncSpeakerClient.session()`."""

    def __init__(
        self,
        options: ClientOptions,
        *,
        voice: VoiceLike,
        model: str,
        format: AudioFormat,
        speed: float,
        normalize: bool | None,
        binary: bool,
    ) -> None:
        self._protocol = _Protocol(
            options,
            voice=voice,
            model=model,
            format=format,
            speed=speed,
            normalize=normalize,
            binary=binary,
        )
        self._ws: AsyncConnection | None = None
        self.ready: SessionReady | None = None

    @property
    def done(self) -> SessionDone | None:
        """The session's summary, once it has arrived."""
        return self._protocol.done

    async def _open(self) -> tuple[AsyncConnection, SessionReady]:
        ws = await async_connect(
            self._protocol.url,
            additional_headers=self._protocol.headers,
            max_size=_MAX_FRAME,
            open_timeout=self._protocol.options.http_timeout().connect,
        )
        try:
            # A server that refuses at once may close before `start` is sent; its error
            # message is still there to be read.
            with contextlib.suppress(ConnectionClosed):
                await ws.send(self._protocol.start)
            return ws, self._protocol.ready(await ws.recv())
        except BaseException:
            await ws.close()
            raise

    async def __aenter__(self) -> AsyncSpeechSession:
        """Connect and start the session; refusals a retry can cure are retried."""
        attempt = 0
        while True:
            try:
                self._ws, self.ready = await self._open()
                return self
            except _OPENING_FAILURES as exc:
                error = _opening_error(exc)
            wait = self._protocol.options.retry_wait(attempt, error)
            if wait is None:
                raise error
            await asyncio.sleep(wait)
            attempt += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the socket; the server drops whatever audio was not yet sent."""
        if self._ws is not None:
            await self._ws.close()

    def _socket(self) -> AsyncConnection:
        if self._ws is None:
            raise RuntimeError("use the session in an `async with` block")
        return self._ws

    async def _send(self, message: str) -> None:
        try:
            await self._socket().send(message)
        except WebSocketException as exc:
            raise APIConnectionError(f"the session is closed: {exc}") from exc

    async def send_text(self, text: str) -> None:
        """More text; each completed sentence starts synthesizing at once."""
        for message in self._protocol.texts(text):
            await self._send(message)

    async def flush(self) -> None:
        """Speak what has arrived, even an unfinished sentence."""
        await self._send(self._protocol.control("flush"))

    async def close(self) -> None:
        """End of text: the rest of the audio follows, then `done` (the socket stays yours)."""
        await self._send(self._protocol.control("close"))

    async def cancel(self) -> None:
        """Drop the audio not yet sent; `done` (cancelled) follows."""
        await self._send(self._protocol.control("cancel"))

    async def events(self) -> AsyncIterator[Event]:
        """Each chunk's audio as it comes, then the `done` summary."""
        ws = self._socket()
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                raise _closed_error(exc) from exc
            event = self._protocol.event(frame)
            if event is not None:
                yield event
            if isinstance(event, SessionDone):
                return

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The audio bytes of each chunk until `done`; joined, they are one file."""
        async for event in self.events():
            if isinstance(event, SessionAudio):
                yield event.audio
