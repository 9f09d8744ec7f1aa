"""Speaker's own HTTP streaming routes: chunked SSE (`/v1/tts/stream`) and long-form (`/long`).

`POST /v1/tts/stream` answers `text/event-stream` with one `event: chunk` per text chunk, whose
data is `{"index", "text", "duration", "audio" (base64), "format"}`, then `event: done` with
`{"chunks", "audio_seconds", "characters", "usage"}`. The chunks' audio bytes, concatenated,
make one valid file. A failure once events have started ends the stream with `event: error`,
whose data is the usual `{"error": {...}}` body; failures before that are plain JSON errors.

`POST /v1/tts/long` takes up to `SPEAKER_MAX_LONG_INPUT_CHARS` characters and streams one
audio file, like `/v1/audio/speech`, chunk by chunk as the engine produces it; it is served from
the audio cache like the speech endpoint (`/stream` is not: its events carry per-chunk text).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from speaker.api.auth import charge_characters
from speaker.api.cache_control import CachePolicyDep
from speaker.api.deps import ClientId, CurrentPrincipal, ReadyRuntime, Trace
from speaker.api.errors import error_body
from speaker.api.protocol import ErrorResponse
from speaker.api.protocol_tts import ChunkEvent, DoneEvent, LongRequest, StreamRequest, Usage
from speaker.api.streaming import Started, audio_response, begin, begin_cached, speech_headers
from speaker.audio.formats import AudioFormat, content_type
from speaker.errors import SpeakerError
from speaker.service import EncodedChunk, SpeechService

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/tts", tags=["speaker"])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


def _sse(event: str, data: BaseModel | dict[str, object]) -> bytes:
    payload = (
        data.model_dump_json()
        if isinstance(data, BaseModel)
        else json.dumps(data, separators=(",", ":"))
    )
    return f"event: {event}\ndata: {payload}\n\n".encode()


async def _events(started: Started) -> AsyncIterator[bytes]:
    speech, rest = started.speech, started.rest
    count = 0
    seconds = 0.0
    try:
        chunk: EncodedChunk | None = started.first
        while chunk is not None:
            count += 1
            seconds += chunk.audio_seconds
            yield _sse(
                "chunk",
                ChunkEvent(
                    index=chunk.index,
                    text=chunk.text,
                    duration=chunk.audio_seconds,
                    audio=base64.b64encode(chunk.data).decode(),
                    format=speech.fmt,
                ),
            )
            chunk = await anext(rest, None)
        usage = SpeechService.usage(speech, seconds)
        yield _sse(
            "done",
            DoneEvent(
                chunks=count,
                audio_seconds=seconds,
                characters=speech.input_chars,
                usage=Usage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    total_tokens=usage.total_tokens,
                ),
            ),
        )
    # The status line is long gone, so a failure can only be told in the stream itself.
    except SpeakerError as exc:
        log.warning("stream failed after %d chunks: %s: %s", count, exc.code, exc.message)
        yield _sse("error", exc.to_dict())
    except Exception:
        log.exception("stream failed after %d chunks", count)
        yield _sse(
            "error",
            error_body("internal server error", code="internal_error", error_type="server_error"),
        )
    finally:
        await rest.aclose()


@router.post(
    "/stream",
    summary="Stream speech as server-sent events, one event per text chunk",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`chunk` events, then `done` (or `error` if synthesis fails).",
            "content": {"text/event-stream": {}},
        },
        **_ERRORS,
    },
)
async def stream_speech(
    body: StreamRequest,
    runtime: ReadyRuntime,
    client: ClientId,
    request: Request,
    caller: CurrentPrincipal,
    trace: Trace,
) -> StreamingResponse:
    """Speak `input` as SSE: each chunk's text, duration and base64 audio as soon as it exists."""
    await charge_characters(request, len(body.input))
    speech = await runtime.service.prepare(body.to_order(client, caller))
    started = await begin(runtime.service, speech, trace)
    return StreamingResponse(
        _events(started), media_type="text/event-stream", headers=speech_headers(started)
    )


@router.post(
    "/long",
    summary="Speak long-form text as one streamed audio file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One audio file, streamed as it is synthesized.",
            "content": {content_type(f): {} for f in AudioFormat},
        },
        **_ERRORS,
    },
)
async def long_speech(
    body: LongRequest,
    runtime: ReadyRuntime,
    client: ClientId,
    policy: CachePolicyDep,
    request: Request,
    caller: CurrentPrincipal,
    trace: Trace,
) -> StreamingResponse:
    """Speak up to SPEAKER_MAX_LONG_INPUT_CHARS characters, audio flowing as it is made."""
    await charge_characters(request, len(body.input))
    order = body.to_order(client, caller)
    speech = await runtime.service.prepare(order, long_form=True)
    return audio_response(await begin_cached(runtime.speech_cache, order, speech, policy, trace))
