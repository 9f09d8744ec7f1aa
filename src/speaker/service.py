"""Speech synthesis as a service: text in, encoded audio chunks out. No HTTP here."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from speaker.audio.formats import AudioFormat
from speaker.audio.pipeline import AudioPipeline
from speaker.auth.principal import ANONYMOUS, Principal
from speaker.config import Settings
from speaker.engines.base import CloningEngine, Engine, SynthesisParams, VoiceInfo, VoiceReference
from speaker.engines.registry import resolve_model
from speaker.errors import InvalidRequestError
from speaker.observability.metrics import Metrics
from speaker.observability.timing import ChunkTiming
from speaker.scheduler import Scheduler, SpeechStream
from speaker.scheduler.stream import Piece
from speaker.scheduler.work import INTERACTIVE
from speaker.text import chunk_text, normalize_text
from speaker.text.chunking import MAX_OVERSHOOT
from speaker.text.incremental import SentenceBuffer
from speaker.voices.catalog import VoiceCatalog

_TOKEN = re.compile(r"\w+|[^\w\s]")
# The least text a first chunk is cut to, however slow the engine: a word or two.
_MIN_FIRST_CHUNK_CHARS = 10
# On a slow engine a sentence may run over its chunk's budget by at most this share of the
# engine's speed (times the text before it, and never more than MAX_OVERSHOOT): a chunk's
# synthesis then takes at most a quarter of the time the audio before it plays.
_OVERSHOOT_PER_SPEED = 0.25
# Usage is reported like OpenAI's: output tokens as 20 ms audio frames.
AUDIO_TOKENS_PER_SECOND = 50


async def _encode(pipeline: AudioPipeline, work: Callable[[], bytes]) -> tuple[bytes, float, float]:
    """Run encoder work off the event loop; return its bytes, the seconds of audio it wrote and
    the seconds it took."""
    before = pipeline.seconds_out
    started = time.perf_counter()
    data = await asyncio.to_thread(work)
    return data, pipeline.seconds_out - before, time.perf_counter() - started


async def _encode_piece(
    pipeline: AudioPipeline,
    piece: Piece,
    texts: Sequence[str],
    *,
    last: bool,
    engine: str,
    metrics: Metrics,
) -> EncodedChunk:
    """Encode one piece of a stream; only the first piece of a chunk carries its text."""
    feed = partial(
        pipeline.feed, piece.audio.samples, last=last, opens=piece.opens, closes=piece.closes
    )
    data, seconds, took = await _encode(pipeline, feed)
    metrics.stage(engine, "encode", took)
    text = texts[piece.index] if piece.opens else ""
    timing = piece.timing.encoded(took) if piece.timing is not None else None
    return EncodedChunk(piece.index, text, data, seconds, last, timing)


@dataclass(frozen=True)
class SpeechOrder:
    """What a caller asks for, before any resolution."""

    text: str
    model: str
    voice: str | None = None
    voice_by_id: bool = False
    fmt: AudioFormat = AudioFormat.MP3
    speed: float = 1.0
    instructions: str | None = None
    normalize: bool | None = None
    client: str = "local"
    first_chunk_chars: int | None = None
    max_chunk_chars: int | None = None
    reference: VoiceReference | None = None
    """A voice given as reference audio in the request itself (not stored)."""
    language: str = "en"
    viewer: Principal = ANONYMOUS
    """Who asks: cloned voices this caller may not see do not exist for the order (the command
    line and other in-process callers are the anonymous local user)."""


@dataclass(frozen=True)
class PreparedSpeech:
    """An order resolved to an engine, a voice and text chunks, ready to synthesize."""

    engine: str
    voice: VoiceInfo
    fmt: AudioFormat
    params: SynthesisParams
    chunks: list[str]
    input_chars: int
    input_tokens: int
    instructions_ignored: bool
    client: str = "local"
    prepare_seconds: float = 0.0
    """Time spent resolving the voice, normalizing and chunking the text."""


@dataclass(frozen=True)
class EncodedChunk:
    """Encoded bytes for one text chunk, or part of one from an engine that streams within
    chunks (then only the first part carries the text); the last one also closes the file."""

    index: int
    text: str
    data: bytes
    audio_seconds: float
    last: bool
    timing: ChunkTiming | None = None
    """Where the time went, on the first encoded bytes of each chunk."""


@dataclass(frozen=True)
class Usage:
    """Token accounting reported at the end of an SSE stream."""

    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class SpeechService:
    """Resolves orders, chunks their text and streams encoded audio through the scheduler."""

    def __init__(
        self,
        settings: Settings,
        engines: Mapping[str, Engine],
        catalog: VoiceCatalog,
        scheduler: Scheduler,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._engines = engines
        self._catalog = catalog
        self._scheduler = scheduler
        self._metrics = metrics or Metrics(enabled=False)

    def _check_text(self, text: str, limit: int, variable: str) -> None:
        if len(text) > limit:
            raise InvalidRequestError(
                f"input is {len(text)} characters; the limit is {limit}",
                code="input_too_long",
                param="input",
                suggestion=f"split the text into several requests, or raise {variable}",
            )
        if not text.strip():
            raise InvalidRequestError(
                "input is empty", code="empty_input", param="input", suggestion="send some text"
            )

    @property
    def first_chunk_chars(self) -> int:
        """Budget of a stream's first chunk: the configured one, or less on a slow engine."""
        configured = self._settings.first_chunk_chars
        target = self._settings.first_chunk_seconds
        if target <= 0:
            return configured
        # The engine's measured speed says how much text it says in the target time; a first
        # chunk that takes longer delays every listener's first audio by the difference.
        speed = self._scheduler.worker_speed() * self._scheduler.speaking_rate()
        fits = round(speed * target)
        return max(_MIN_FIRST_CHUNK_CHARS, min(configured, fits))

    @property
    def chunk_overshoot(self) -> float:
        """How far a whole sentence may run over its chunk's budget, in times the text before
        it: less on an engine too slow to synthesize such a chunk well within that text's audio."""
        if self._settings.first_chunk_seconds <= 0:
            return MAX_OVERSHOOT
        speed = self._scheduler.worker_speed()
        return max(1.0, min(MAX_OVERSHOOT, _OVERSHOOT_PER_SPEED * speed))

    @property
    def max_chunk_chars(self) -> int:
        """Configured budget of later chunks."""
        return self._settings.max_chunk_chars

    def _normalizes(self, order: SpeechOrder) -> bool:
        return self._settings.normalize_text if order.normalize is None else order.normalize

    def resolve(self, order: SpeechOrder) -> tuple[str, VoiceInfo]:
        """The engine and voice an order names."""
        engine = resolve_model(order.model, self._engines, self._settings.default_engine)
        if order.reference is not None:
            engine = self.cloning_engine(order.model, "the reference audio")
            return engine, VoiceInfo(
                id=order.reference.voice_id,
                name="reference audio",
                engine=engine,
                language=order.language,
                sample_rate=self._sample_rate(engine),
                source="reference",
            )
        cloned = self._catalog.cloned(order.voice, order.viewer)
        if cloned is None:
            return engine, self._catalog.resolve(order.voice, engine, by_id=order.voice_by_id)
        engine = self.cloning_engine(order.model, f"voice {cloned.id!r} ({cloned.name})")
        return engine, VoiceInfo(
            id=cloned.id,
            name=cloned.name,
            engine=engine,
            language=cloned.language,
            sample_rate=self._sample_rate(engine),
            gender=cloned.gender,
            description=cloned.description,
            tags=cloned.tags,
            source="cloned",
        )

    def _sample_rate(self, engine: str) -> int:
        voices = self._engines[engine].voices()
        return voices[0].sample_rate if voices else 24_000

    def cloning_engine(self, model: str, what: str) -> str:
        """The engine that speaks a cloned voice for a `model` field, or a clear 400."""
        engine = resolve_model(model, self._engines, self._settings.default_engine)
        if self._engines[engine].capabilities.cloning:
            return engine
        cloning = [n for n, e in self._engines.items() if e.capabilities.cloning]
        # OpenAI model names mean "the best engine for this voice"; a named engine is taken
        # at its word.
        if cloning and model not in self._engines:
            return cloning[0]
        suggestion = (
            f"use model {cloning[0]!r}, which can speak cloned voices"
            if cloning
            else 'install a cloning engine (pip install "speaker-tts[csm]") and start the '
            "server with SPEAKER_ENGINES=csm"
        )
        raise InvalidRequestError(
            f"{what} needs a voice-cloning engine; engine {engine!r} cannot clone",
            code="voice_requires_cloning_engine",
            param="model" if model in self._engines else "voice",
            suggestion=suggestion,
            extra={"cloning_engines": cloning},
        )

    def reference(self, engine: str, voice: VoiceInfo) -> VoiceReference | None:
        """A cloned voice's conditioning for the engine; None for built-in voices."""
        model = self._engines[engine]
        if voice.source != "cloned" or self._catalog.library is None:
            return None
        assert isinstance(model, CloningEngine)
        return self._catalog.library.reference(voice.id, model)

    def check(self, order: SpeechOrder, *, long_form: bool = False) -> tuple[str, VoiceInfo]:
        """The cheap checks of `prepare` (text length, engine, voice) for work synthesized later."""
        if long_form:
            self._check_text(
                order.text, self._settings.max_long_input_chars, "SPEAKER_MAX_LONG_INPUT_CHARS"
            )
        else:
            self._check_text(order.text, self._settings.max_input_chars, "SPEAKER_MAX_INPUT_CHARS")
        return self.resolve(order)

    async def prepare(self, order: SpeechOrder, *, long_form: bool = False) -> PreparedSpeech:
        """Validate and resolve an order; every input error is raised here, before any audio.

        Long-form orders may be up to SPEAKER_MAX_LONG_INPUT_CHARS instead of the speech limit.
        """
        started = time.perf_counter()
        engine, voice = self.check(order, long_form=long_form)
        reference = order.reference or await asyncio.to_thread(self.reference, engine, voice)
        normalize = self._normalizes(order)
        first = order.first_chunk_chars or self.first_chunk_chars
        most = order.max_chunk_chars or max(self._settings.max_chunk_chars, first)
        chunks = await asyncio.to_thread(
            self.chunk,
            order.text,
            voice.language,
            normalize,
            min(first, most),
            most,
            self.chunk_overshoot,
        )
        if not chunks:
            raise InvalidRequestError(
                "input has nothing speakable after removing markup and emoji",
                code="empty_input",
                param="input",
                suggestion="send words, numbers or symbols that can be read aloud",
            )
        took = time.perf_counter() - started
        self._metrics.stage(engine, "prepare", took)
        self._metrics.accepted(engine, len(order.text))
        return PreparedSpeech(
            engine=engine,
            voice=voice,
            fmt=order.fmt,
            params=SynthesisParams(
                speed=order.speed, instructions=order.instructions, reference=reference
            ),
            chunks=chunks,
            input_chars=len(order.text),
            input_tokens=len(_TOKEN.findall(order.text)),
            instructions_ignored=bool(order.instructions)
            and not self._engines[engine].capabilities.instructions,
            client=order.client,
            prepare_seconds=took,
        )

    def chunk(
        self,
        text: str,
        language: str,
        normalize: bool,
        first_chunk_chars: int,
        max_chunk_chars: int,
        overshoot: float = MAX_OVERSHOOT,
    ) -> list[str]:
        """Normalized text chunks; the first is kept short so audio starts early."""
        spoken = normalize_text(text, language=language.split("_")[0]) if normalize else text
        chunks = chunk_text(
            spoken,
            first_chunk_chars=first_chunk_chars,
            max_chunk_chars=max_chunk_chars,
            overshoot=overshoot,
        )
        return [c.text for c in chunks if c.text.strip()]

    def live(self, order: SpeechOrder) -> LiveSpeech:
        """A session whose text arrives over time (WebSocket, LLM tokens); `order.text` unused."""
        engine, voice = self.resolve(order)
        normalize = self._normalizes(order)
        params = SynthesisParams(
            speed=order.speed,
            instructions=order.instructions,
            reference=order.reference or self.reference(engine, voice),
        )
        stream = self._scheduler.open_stream(
            engine,
            voice.id,
            params,
            [],
            open_ended=True,
            client=order.client,
        )
        pipeline = AudioPipeline(order.fmt, voice.sample_rate, self._settings.max_pause_ms / 1000)
        return LiveSpeech(self, engine, voice, normalize, stream, pipeline, self._metrics)

    async def stream(
        self, speech: PreparedSpeech, *, tier: int = INTERACTIVE
    ) -> AsyncGenerator[EncodedChunk, None]:
        """Encoded chunks in order; the audio path runs off the event loop.

        Batch work (`tier=BATCH`) yields to every listener and takes no admission slot.
        """
        pipeline = AudioPipeline(
            speech.fmt, speech.voice.sample_rate, self._settings.max_pause_ms / 1000
        )
        stream = self._scheduler.open_stream(
            speech.engine,
            speech.voice.id,
            speech.params,
            speech.chunks,
            client=speech.client,
            tier=tier,
        )
        last_index = stream.chunk_count - 1
        pieces = stream.pieces()
        try:
            async for piece in pieces:
                last = piece.index == last_index and piece.closes
                yield await _encode_piece(
                    pipeline,
                    piece,
                    speech.chunks,
                    last=last,
                    engine=speech.engine,
                    metrics=self._metrics,
                )
        finally:
            await pieces.aclose()
            stream.cancel()

    async def synthesize(self, order: SpeechOrder) -> bytes:
        """The whole file at once (for the CLI and non-streaming callers)."""
        speech = await self.prepare(order)
        return b"".join([chunk.data async for chunk in self.stream(speech)])

    @staticmethod
    def usage(speech: PreparedSpeech, audio_seconds: float) -> Usage:
        """Token usage for a finished stream."""
        return Usage(speech.input_tokens, math.ceil(audio_seconds * AUDIO_TOKENS_PER_SECOND))


class LiveSpeech:
    """Speech for text that arrives in pieces: each completed sentence is synthesized at once."""

    def __init__(
        self,
        service: SpeechService,
        engine: str,
        voice: VoiceInfo,
        normalize: bool,
        stream: SpeechStream,
        pipeline: AudioPipeline,
        metrics: Metrics,
    ) -> None:
        self.engine = engine
        self.voice = voice
        self._metrics = metrics
        self._service = service
        self._normalize = normalize
        self._stream = stream
        self._pipeline = pipeline
        self._buffer = SentenceBuffer()
        self._texts: list[str] = []
        self.characters = 0

    def _submit(self, sentences: list[str]) -> None:
        text = " ".join(sentences).strip()
        if not text or self._stream.ended:
            return
        most = self._service.max_chunk_chars
        # Only the session's very first chunk is kept short; later ones may be full size.
        first = most if self._texts else min(self._service.first_chunk_chars, most)
        chunks = self._service.chunk(text, self.voice.language, self._normalize, first, most)
        self._texts.extend(chunks)
        self._stream.append(chunks)

    def feed(self, text: str) -> None:
        """Add text; complete sentences start synthesizing now."""
        self.characters += len(text)
        self._metrics.accepted(self.engine, len(text))
        self._submit(self._buffer.feed(text))

    def flush(self) -> None:
        """Synthesize everything received so far, even an unfinished sentence."""
        self._submit(self._buffer.flush())

    def close(self) -> None:
        """Flush and declare the end of the text; `chunks()` finishes after the last audio."""
        self.flush()
        if not self._stream.ended:
            self._stream.end()

    def cancel(self) -> None:
        """Stop at once, dropping text not yet synthesized."""
        self._stream.cancel()
        if not self._stream.ended:
            self._stream.end()

    async def chunks(self) -> AsyncGenerator[EncodedChunk, None]:
        """Encoded audio as each chunk is synthesized; the last item closes the file."""
        pieces = self._stream.pieces()
        try:
            pipeline = self._pipeline
            async for piece in pieces:
                yield await _encode_piece(
                    pipeline,
                    piece,
                    self._texts,
                    last=False,
                    engine=self.engine,
                    metrics=self._metrics,
                )
            tail, seconds, _ = await _encode(pipeline, pipeline.close)
            yield EncodedChunk(len(self._texts), "", tail, seconds, True)
        finally:
            await pieces.aclose()
