"""`WS /v1/tts/ws` and `WS /v1/tts/ws/{voice}`: speech for text that arrives while audio plays.

Every client message is one JSON object in a text frame:

- `{"type": "start", "voice"?, "model"?, "response_format"?, "speed"?, "normalize"?, "binary"?}`
  opens the session (optional: a session that sends anything else first opens with the
  defaults: the path's voice or the server's, `tts-1`, `pcm`, speed 1, binary audio). The
  `voice` given here wins over the path's.
- `{"type": "text", "text": "..."}` adds text, as small as an LLM's tokens; each sentence is
  synthesized as soon as it is certainly complete.
- `{"type": "flush"}` synthesizes what has arrived, even an unfinished sentence.
- `{"type": "close"}` ends the text: the remaining audio follows, then `done`, then the server
  closes the socket with 1000.
- `{"type": "cancel"}` drops the audio not yet sent: `done` (with `"cancelled": true`) follows,
  then a 1000 close.

The server sends:

- `{"type": "ready", "voice", "sample_rate": 24000, "format"}` once the session is open.
- Audio: with `binary` (the default), each chunk's encoded bytes as a binary frame; otherwise
  `{"type": "audio", "index", "text", "audio": base64, "duration"}`. All audio of a session,
  concatenated, is one file; for `pcm` it is raw 24 kHz s16le mono. The last audio (after
  `close`) carries the file's closing bytes, and in JSON mode has an empty `text`.
- `{"type": "done", "chunks", "audio_seconds", "characters", "cancelled"}` last.
- `{"type": "error", "error": {"message", "type", "param", "code", "suggestion"?}}` when a
  message cannot be used. A bad `start`, an unknown voice or model close the socket with 1008;
  a server that is loading, shutting down or at capacity (and a client over its share of
  streams) closes it with 1013, to be retried later; a synthesis failure with 1011. An unknown
  message type, invalid JSON, a binary frame or text after `close` leave the session open.

A client that disconnects stops the work its session had left.

Where API keys are required, a session sends one as `Authorization: Bearer <key>` or, from a
browser, `?api_key=<key>`; a missing or refused key gets an `error` and a 1008 close. `text`
is charged to the key's characters per minute as it arrives; text over it is answered with a
`rate_limit_exceeded` error and not spoken.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from starlette import status

from speaker.api.auth import charge_characters
from speaker.api.deps import client_id, current_principal, ready_runtime
from speaker.api.errors import error_body
from speaker.api.protocol_tts import (
    AudioMessage,
    CancelMessage,
    ClientMessage,
    CloseMessage,
    FlushMessage,
    ReadyMessage,
    SessionDoneMessage,
    StartMessage,
    TextMessage,
    client_message,
)
from speaker.audio.formats import AudioFormat
from speaker.errors import InvalidRequestError, RateLimitedError, SpeakerError
from speaker.service import EncodedChunk, LiveSpeech

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/tts")

_TYPES = "start, text, flush, close, cancel"
_JSON_HINT = "send each message as one JSON object in a text frame"
_INTERNAL = error_body("internal server error", code="internal_error", error_type="server_error")


class _BadStartError(InvalidRequestError):
    """A `start` message no session can open with."""


def _message_error(exc: ValidationError) -> InvalidRequestError:
    """What is wrong with a client message, worded for the client."""
    first = exc.errors()[0]
    kind, loc = first["type"], [str(p) for p in first["loc"]]
    if kind == "json_invalid":
        return InvalidRequestError(
            "the message is not valid JSON", code="invalid_json", suggestion=_JSON_HINT
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return InvalidRequestError(
            "the message has no known `type`",
            code="unknown_message_type",
            param="type",
            suggestion=f"use one of: {_TYPES}",
        )
    if not loc:
        return InvalidRequestError(
            f"invalid message: {first['msg']}", code="invalid_value", suggestion=_JSON_HINT
        )
    param = loc[1] if len(loc) > 1 else None
    error = _BadStartError if loc[0] == "start" else InvalidRequestError
    return error(
        f"invalid `{loc[0]}` message: {param or 'message'}: {first['msg']}",
        code="invalid_value",
        param=param,
    )


async def _receive(websocket: WebSocket) -> ClientMessage:
    """The next client message; a bad one raises InvalidRequestError, a departure disconnects."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", status.WS_1000_NORMAL_CLOSURE))
    text = message.get("text")
    if text is None:
        raise InvalidRequestError(
            "binary frames carry no messages", code="invalid_message", suggestion=_JSON_HINT
        )
    try:
        return client_message.validate_json(text)
    except ValidationError as exc:
        raise _message_error(exc) from None


def _error(body: dict[str, object]) -> dict[str, object]:
    return {"type": "error", **body}


async def _fail(websocket: WebSocket, error: SpeakerError, code: int) -> None:
    """Tell the client why its session ends, then end it."""
    with contextlib.suppress(WebSocketDisconnect):
        await websocket.send_json(_error(error.to_dict()))
        await websocket.close(code)


async def _opening(websocket: WebSocket) -> tuple[StartMessage, ClientMessage | None]:
    """The session's `start`, or the defaults plus the first message, which came instead."""
    while True:
        try:
            message = await _receive(websocket)
        except _BadStartError:
            raise
        except InvalidRequestError as exc:
            await websocket.send_json(_error(exc.to_dict()))
            continue
        if isinstance(message, StartMessage):
            return message, None
        return StartMessage(type="start"), message


class _Session:
    """One open session: a reader applying client messages, a writer sending audio."""

    def __init__(
        self, websocket: WebSocket, live: LiveSpeech, fmt: AudioFormat, binary: bool
    ) -> None:
        self._websocket = websocket
        self._live = live
        self._fmt = fmt
        self._binary = binary
        # Reader and writer both send; one frame at a time keeps them from interleaving.
        self._sending = asyncio.Lock()
        self._closing = False
        self._chunks = 0
        self._seconds = 0.0

    async def _send(self, message: BaseModel | dict[str, object] | bytes) -> None:
        async with self._sending:
            if isinstance(message, bytes):
                await self._websocket.send_bytes(message)
            elif isinstance(message, BaseModel):
                await self._websocket.send_text(message.model_dump_json())
            else:
                await self._websocket.send_json(message)

    async def _send_done(self, *, cancelled: bool) -> None:
        await self._send(
            SessionDoneMessage(
                chunks=self._chunks,
                audio_seconds=self._seconds,
                characters=self._live.characters,
                cancelled=cancelled,
            )
        )

    async def _send_audio(self, chunk: EncodedChunk) -> None:
        if self._binary:
            await self._send(chunk.data)
            return
        await self._send(
            AudioMessage(
                index=chunk.index,
                text=chunk.text,
                audio=base64.b64encode(chunk.data).decode(),
                duration=chunk.audio_seconds,
            )
        )

    def _apply(self, message: ClientMessage) -> None:
        if isinstance(message, StartMessage):
            raise InvalidRequestError(
                "the session has already started",
                code="already_started",
                suggestion="send `start` once, first; open another socket for other settings",
            )
        if isinstance(message, CloseMessage):
            self._closing = True
            self._live.close()
            return
        if self._closing:
            raise InvalidRequestError(
                "the session is closing: no more text is taken",
                code="session_closing",
                suggestion="open another socket for more text",
            )
        if isinstance(message, TextMessage):
            self._live.feed(message.text)
        elif isinstance(message, FlushMessage):
            self._live.flush()

    async def _read(self, pending: ClientMessage | None) -> bool:
        """Apply client messages; True when the client cancels, False when it leaves."""
        message = pending
        while True:
            if isinstance(message, CancelMessage):
                return True
            try:
                if isinstance(message, TextMessage) and not self._closing:
                    # Text is charged as it arrives; text over the budget is refused, not spoken.
                    await charge_characters(self._websocket, len(message.text))
                if message is not None:
                    self._apply(message)
                message = await _receive(self._websocket)
            except WebSocketDisconnect:
                return False
            except (InvalidRequestError, RateLimitedError) as exc:
                await self._send(_error(exc.to_dict()))
                message = None

    async def _write(self) -> int:
        """Send audio until the file is closed, then `done`; returns the close code."""
        chunks = self._live.chunks()
        try:
            async for chunk in chunks:
                if chunk.data:
                    await self._send_audio(chunk)
                if not chunk.last:
                    self._chunks += 1
                    self._seconds += chunk.audio_seconds
        except WebSocketDisconnect:
            raise
        except SpeakerError as exc:
            log.warning("session failed after %d chunks: %s", self._chunks, exc.message)
            await self._send(_error(exc.to_dict()))
            return status.WS_1011_INTERNAL_ERROR
        except Exception:
            log.exception("session failed after %d chunks", self._chunks)
            await self._send(_error(_INTERNAL))
            return status.WS_1011_INTERNAL_ERROR
        finally:
            await chunks.aclose()
        await self._send_done(cancelled=False)
        return status.WS_1000_NORMAL_CLOSURE

    async def run(self, pending: ClientMessage | None) -> None:
        """Serve the session until its audio is done, the client cancels, or the client leaves."""
        try:
            await self._send(ReadyMessage(voice=self._live.voice.id, format=self._fmt))
        except WebSocketDisconnect:
            self._live.cancel()
            return
        reader = asyncio.create_task(self._read(pending))
        writer = asyncio.create_task(self._write())
        try:
            await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Whichever ends first ends the session, and no synthesis may outlive it.
            self._live.cancel()
            reader.cancel()
            writer.cancel()
            cancelled, code = await asyncio.gather(reader, writer, return_exceptions=True)
        failures = [
            outcome
            for outcome in (cancelled, code)
            if isinstance(outcome, Exception) and not isinstance(outcome, WebSocketDisconnect)
        ]
        with contextlib.suppress(WebSocketDisconnect):
            if isinstance(code, int):
                await self._websocket.close(code)
            elif cancelled is True:
                await self._send_done(cancelled=True)
                await self._websocket.close(status.WS_1000_NORMAL_CLOSURE)
            elif failures:
                log.error("websocket session failed", exc_info=failures[0])
                await self._send(_error(_INTERNAL))
                await self._websocket.close(status.WS_1011_INTERNAL_ERROR)


def _close_code(error: SpeakerError) -> int:
    """1013 for refusals a retry can cure (overload, rate limit), 1008 for bad sessions."""
    if error.status_code in (429, 503):
        return status.WS_1013_TRY_AGAIN_LATER
    return status.WS_1008_POLICY_VIOLATION


async def _serve(websocket: WebSocket, voice: str | None) -> None:
    """Open a session on `websocket` and serve it to the end."""
    await websocket.accept()
    client = client_id(websocket)
    try:
        runtime = ready_runtime(websocket)
        start, pending = await _opening(websocket)
        live = runtime.service.live(start.to_order(voice, client, current_principal(websocket)))
    except WebSocketDisconnect:
        return
    except SpeakerError as exc:
        await _fail(websocket, exc, _close_code(exc))
        return
    await _Session(websocket, live, start.response_format, start.binary).run(pending)


@router.websocket("/ws")
async def tts_session(websocket: WebSocket) -> None:
    """A live session in the server's default voice, or the one `start` names."""
    await _serve(websocket, None)


@router.websocket("/ws/{voice}")
async def tts_voice_session(websocket: WebSocket, voice: str) -> None:
    """A live session in the voice the path names."""
    await _serve(websocket, voice)
