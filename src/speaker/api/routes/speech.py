"""`POST /v1/audio/speech`: OpenAI's speech endpoint, streamed as audio or SSE."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from speaker.api.auth import charge_characters
from speaker.api.cache_control import CachePolicyDep
from speaker.api.deps import ClientId, CurrentPrincipal, ReadyRuntime, Trace
from speaker.api.protocol import ErrorResponse, SpeechRequest
from speaker.api.streaming import Started, audio_response, begin_cached, speech_headers
from speaker.audio.formats import AudioFormat, content_type
from speaker.service import EncodedChunk, SpeechService

router = APIRouter(prefix="/v1/audio", tags=["openai"])

_AUDIO_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The audio, streamed as it is synthesized (one file per response).",
        "content": {content_type(f): {} for f in AudioFormat} | {"text/event-stream": {}},
    },
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


def _sse(event: dict[str, object]) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


async def _sse_events(started: Started) -> AsyncIterator[bytes]:
    speech, rest = started.speech, started.rest
    audio_seconds = 0.0
    try:
        chunk: EncodedChunk | None = started.first
        while chunk is not None:
            audio_seconds += chunk.audio_seconds
            if chunk.data:
                audio = base64.b64encode(chunk.data).decode()
                yield _sse({"type": "speech.audio.delta", "audio": audio})
            chunk = await anext(rest, None)
        usage = SpeechService.usage(speech, audio_seconds)
        yield _sse(
            {
                "type": "speech.audio.done",
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "total_tokens": usage.total_tokens,
                },
            }
        )
    finally:
        await rest.aclose()


@router.post(
    "/speech",
    summary="Create speech (OpenAI-compatible)",
    response_class=StreamingResponse,
    responses=_AUDIO_RESPONSES,
)
async def create_speech(
    body: SpeechRequest,
    runtime: ReadyRuntime,
    client: ClientId,
    policy: CachePolicyDep,
    request: Request,
    caller: CurrentPrincipal,
    trace: Trace,
) -> StreamingResponse:
    """Speak `input`; audio starts as soon as the first sentence is synthesized."""
    await charge_characters(request, len(body.input))
    order = body.to_order(client, caller)
    speech = await runtime.service.prepare(order)
    started = await begin_cached(runtime.speech_cache, order, speech, policy, trace)
    if body.stream_format == "sse":
        return StreamingResponse(
            _sse_events(started), media_type="text/event-stream", headers=speech_headers(started)
        )
    return audio_response(started)
