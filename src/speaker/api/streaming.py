"""What every audio-streaming route shares: starting a stream, its headers, its body."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from fastapi.responses import StreamingResponse

from speaker.audio.formats import OUTPUT_SAMPLE_RATE, content_type
from speaker.cache import CachePolicy, CacheStatus, SpeechCache
from speaker.service import EncodedChunk, PreparedSpeech, SpeechOrder, SpeechService


async def begin(
    service: SpeechService, speech: PreparedSpeech
) -> tuple[EncodedChunk, AsyncGenerator[EncodedChunk, None]]:
    """Start synthesis and wait for the first chunk.

    Waiting before answering lets engine failures and refusals still become a proper error
    status; the listener loses nothing, since no audio exists before it anyway.
    """
    chunks = service.stream(speech)
    first = await anext(chunks)
    return first, chunks


async def begin_cached(
    cache: SpeechCache, order: SpeechOrder, speech: PreparedSpeech, policy: CachePolicy
) -> tuple[CacheStatus | None, EncodedChunk, AsyncGenerator[EncodedChunk, None]]:
    """Like `begin`, but served from the audio cache when it holds this response."""
    served = await cache.open(order, speech, policy)
    first = await anext(served.chunks)
    return served.status, first, served.chunks


def speech_headers(speech: PreparedSpeech, cache: CacheStatus | None = None) -> dict[str, str]:
    """Response headers naming the engine, voice and sample rate (and ignored instructions,
    and where the audio came from when the audio cache is on)."""
    headers = {
        "x-speaker-engine": speech.engine,
        "x-speaker-voice": speech.voice.id,
        "x-speaker-sample-rate": str(OUTPUT_SAMPLE_RATE),
        "cache-control": "no-store",
    }
    if speech.instructions_ignored:
        headers["x-speaker-instructions"] = "ignored"
    if cache is not None:
        headers["x-speaker-cache"] = cache.value
    return headers


async def _audio_bytes(
    first: EncodedChunk, rest: AsyncGenerator[EncodedChunk, None]
) -> AsyncIterator[bytes]:
    try:
        if first.data:
            yield first.data
        async for chunk in rest:
            if chunk.data:
                yield chunk.data
    finally:
        await rest.aclose()


def audio_response(
    speech: PreparedSpeech,
    first: EncodedChunk,
    rest: AsyncGenerator[EncodedChunk, None],
    cache: CacheStatus | None = None,
) -> StreamingResponse:
    """One audio file, streamed chunk by chunk."""
    return StreamingResponse(
        _audio_bytes(first, rest),
        media_type=content_type(speech.fmt),
        headers=speech_headers(speech, cache),
    )
