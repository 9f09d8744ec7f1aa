"""What every audio-streaming route shares: starting a stream, its headers, its body."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from fastapi.responses import StreamingResponse

from speaker.audio.formats import OUTPUT_SAMPLE_RATE, content_type
from speaker.cache import CachePolicy, CacheStatus, SpeechCache
from speaker.observability.trace import SpeechTrace
from speaker.service import EncodedChunk, PreparedSpeech, SpeechOrder, SpeechService


@dataclass(frozen=True)
class Started:
    """A response whose first audio exists: that chunk, the rest to come, and its timeline."""

    speech: PreparedSpeech
    first: EncodedChunk
    rest: AsyncGenerator[EncodedChunk, None]
    trace: SpeechTrace
    cache: CacheStatus | None = None


async def _traced(
    first: EncodedChunk, rest: AsyncGenerator[EncodedChunk, None], trace: SpeechTrace
) -> AsyncGenerator[EncodedChunk, None]:
    """Pass the chunks after the first through, and close the trace with how it ended."""
    seconds = first.audio_seconds
    outcome = "disconnected"
    try:
        async for chunk in rest:
            seconds += chunk.audio_seconds
            yield chunk
        outcome = "ok"
    except Exception:
        outcome = "error"
        raise
    finally:
        await rest.aclose()
        trace.finished(seconds, outcome)


async def _start(
    speech: PreparedSpeech,
    chunks: AsyncGenerator[EncodedChunk, None],
    trace: SpeechTrace,
    cache: CacheStatus | None,
) -> Started:
    trace.prepared(speech.engine, speech.voice.id, speech.input_chars, speech.prepare_seconds)
    try:
        first = await anext(chunks)
    except BaseException:
        await chunks.aclose()
        trace.finished(0.0, "error")
        raise
    trace.began(len(speech.chunks), first.timing, cache.value if cache else None)
    return Started(speech, first, _traced(first, chunks, trace), trace, cache)


async def begin(service: SpeechService, speech: PreparedSpeech, trace: SpeechTrace) -> Started:
    """Start synthesis and wait for the first chunk.

    Waiting before answering lets engine failures and refusals still become a proper error
    status; the listener loses nothing, since no audio exists before it anyway.
    """
    return await _start(speech, service.stream(speech), trace, None)


async def begin_cached(
    cache: SpeechCache,
    order: SpeechOrder,
    speech: PreparedSpeech,
    policy: CachePolicy,
    trace: SpeechTrace,
) -> Started:
    """Like `begin`, but served from the audio cache when it holds this response."""
    looking = time.perf_counter()
    served = await cache.open(order, speech, policy)
    trace.cache_seconds = time.perf_counter() - looking
    return await _start(speech, served.chunks, trace, served.status)


def speech_headers(started: Started) -> dict[str, str]:
    """Response headers naming the engine, voice and sample rate, where the time went (and
    ignored instructions, and where the audio came from when the audio cache is on)."""
    speech = started.speech
    headers = {
        "x-speaker-engine": speech.engine,
        "x-speaker-voice": speech.voice.id,
        "x-speaker-sample-rate": str(OUTPUT_SAMPLE_RATE),
        "cache-control": "no-store",
        "server-timing": started.trace.server_timing(),
    }
    if speech.instructions_ignored:
        headers["x-speaker-instructions"] = "ignored"
    if started.cache is not None:
        headers["x-speaker-cache"] = started.cache.value
    return headers


async def _audio_bytes(started: Started) -> AsyncIterator[bytes]:
    rest = started.rest
    try:
        if started.first.data:
            yield started.first.data
        async for chunk in rest:
            if chunk.data:
                yield chunk.data
    finally:
        await rest.aclose()


def audio_response(started: Started) -> StreamingResponse:
    """One audio file, streamed chunk by chunk."""
    return StreamingResponse(
        _audio_bytes(started),
        media_type=content_type(started.speech.fmt),
        headers=speech_headers(started),
    )
