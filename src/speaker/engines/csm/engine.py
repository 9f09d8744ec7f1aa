"""The CSM engine: Sesame's CSM-1B through transformers, cloning voices from a short reference.

A prompt is the reference's text segment, its audio codes and an end-of-audio frame, then the
text to speak (`<bos>[0]text<eos>` each, as in CSM's chat template). The reference's codes are
computed once by `condition()` and stored by the voice library; synthesis embeds them directly
and never runs the codec's encoder again.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import soxr
import torch
from transformers import AutoProcessor, CsmForConditionalGeneration
from transformers.models.mimi.modeling_mimi import MimiModel

from speaker.config import Settings
from speaker.engines.base import (
    AudioSegment,
    EngineCapabilities,
    EngineInfo,
    Samples,
    SynthesisParams,
    SynthesisTask,
    VoiceInfo,
    VoiceReference,
)
from speaker.engines.csm import codec
from speaker.engines.csm.generation import CachePool, FrameModel, Generation, Sampling
from speaker.engines.csm.weights import CSM_REPO, fingerprint, resolve_weights
from speaker.errors import EngineError, InvalidRequestError, NotFoundError
from speaker.observability.stages import stage

log = logging.getLogger(__name__)

ENGINE_NAME = "csm"
BUILTIN_VOICE = "csm-speaker-0"
# CSM conditions on a speaker number; a cloned voice speaks as the same number as its reference.
_SPEAKER = 0
# Streaming: a small first piece so audio starts early, larger ones after (fewer decoder calls).
FIRST_PIECE_FRAMES = 20
PIECE_FRAMES = 40
# The model ends speech with an end-of-audio frame, but may never draw one (and a random-weight
# model never does), so each text gets a frame budget: generous for slow speech, ~8 chars/s.
_BUDGET_BASE_SECONDS = 1.0
_BUDGET_SECONDS_PER_CHAR = 0.12
# Load-time speed measurement: a short fixed-length generation.
_CALIBRATION_TEXT = "Hello, this is a short test of the voice."
_CALIBRATION_FRAMES = 12

Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass(frozen=True)
class CsmOptions:
    """Everything the CSM engine is configured with."""

    models_dir: Path
    model: str = CSM_REPO
    offline: bool = False
    device: Device = "auto"
    dtype: DType = "auto"
    tf32: bool = True
    compile: bool = False
    expandable_segments: bool = True
    max_batch: int = 8
    cpu_threads: int | None = None
    """PyTorch's threads when running on CPU; None leaves PyTorch's default (all cores)."""
    max_audio_seconds: float = 30.0
    """Ceiling of any one text's frame budget."""
    seed: int | None = None
    """Seeds every request's sampling, which makes output reproducible; None: random."""
    sampling: Sampling = field(default_factory=Sampling)

    @classmethod
    def from_settings(cls, settings: Settings) -> CsmOptions:
        """The options the `SPEAKER_CSM_*` settings describe."""
        return cls(
            models_dir=settings.resolved_models_dir,
            model=settings.csm_model,
            offline=settings.models_offline,
            device=settings.csm_device,
            dtype=settings.csm_dtype,
            tf32=settings.csm_tf32,
            compile=settings.csm_compile,
            expandable_segments=settings.csm_expandable_segments,
            max_batch=settings.csm_max_batch,
            cpu_threads=settings.engine_threads,
        )


@dataclass
class LoadedModel:
    """What `load()` puts in memory."""

    frames: FrameModel
    tokenizer: Any
    codec: MimiModel
    device: torch.device
    dtype: torch.dtype


def frame_budget(text: str, frame_rate: float, max_seconds: float) -> int:
    """Most frames generated for a text: a slow speaker's time for it, within `max_seconds`."""
    seconds = min(max_seconds, _BUDGET_BASE_SECONDS + len(text) * _BUDGET_SECONDS_PER_CHAR)
    return max(1, math.ceil(seconds * frame_rate))


def _torch_dtype(dtype: DType, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    resolved: torch.dtype = getattr(torch, dtype)
    return resolved


def _prepare_cuda_allocator() -> None:
    # The allocator reads its configuration once, when CUDA first allocates.
    current = os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")
    if "expandable_segments" in current:
        return
    if torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        log.warning("CUDA is already initialised; expandable segments cannot be switched on")
        return
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = ",".join(
        part for part in (current, "expandable_segments:True") if part
    )


class CsmEngine:
    """CSM-1B: one built-in voice and any cloned voice, batched and streamed on GPU or CPU."""

    name = ENGINE_NAME

    def __init__(self, options: CsmOptions) -> None:
        self.options = options
        self.capabilities = EngineCapabilities(
            cloning=True, instructions=False, max_batch_size=options.max_batch, languages=("en",)
        )
        # Replaced by the checkpoint's fingerprint at load; matches no stored conditioning.
        self.conditioning_version = "csm:unloaded"
        self._loaded: LoadedModel | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CsmEngine:
        """An engine configured by the `SPEAKER_CSM_*` settings."""
        return cls(CsmOptions.from_settings(settings))

    def load(self) -> EngineInfo:
        """Find (or download) the weights, load them and measure the speed."""
        started = time.perf_counter()
        options = self.options
        directory = resolve_weights(options.model, options.models_dir, offline=options.offline)
        device = self._device()
        # Read at full precision; `adopt` lowers what should run at `csm_dtype`.
        model = CsmForConditionalGeneration.from_pretrained(  # type: ignore[no-untyped-call]
            directory, dtype=torch.float32, use_safetensors=True, local_files_only=True
        )
        processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            directory, local_files_only=True
        )
        loaded = self.adopt(model, processor.tokenizer, fingerprint(directory), device)
        realtime_factor = self._measure(warm_up=loaded.frames.compiled)
        elapsed = time.perf_counter() - started
        dtype = str(loaded.dtype).removeprefix("torch.")
        log.info(
            "csm loaded %s on %s (%s) in %.1f s, %.2fx real time",
            directory,
            device,
            dtype,
            elapsed,
            realtime_factor,
        )
        return EngineInfo(
            name=ENGINE_NAME,
            model=options.model,
            version=self.conditioning_version,
            device=str(device),
            load_seconds=elapsed,
            realtime_factor=realtime_factor,
            details={
                "torch": torch.__version__,
                "transformers": version("transformers"),
                "dtype": dtype,
                "compiled": str(loaded.frames.compiled).lower(),
                "max_batch": str(options.max_batch),
                "weights": str(directory),
            },
        )

    def adopt(
        self,
        model: CsmForConditionalGeneration,
        tokenizer: Any,
        version: str,
        device: torch.device | None = None,
    ) -> LoadedModel:
        """Run with a model already in memory: the part of `load()` after reading weights.

        Benchmarks use it with random weights of the full architecture. `version` becomes the
        `conditioning_version`.
        """
        device = device or self._device()
        options = self.options
        dtype = _torch_dtype(options.dtype, device)
        if device.type == "cuda":
            torch.set_float32_matmul_precision("high" if options.tf32 else "highest")
        elif options.cpu_threads is not None:
            # Every worker thread runs its own team of this many threads: PyTorch's default of
            # one per core, times the workers, would oversubscribe the cores many times over.
            torch.set_num_threads(options.cpu_threads)
        # Everything but the codec runs at `dtype`. The codec is small next to the transformers,
        # and float32 keeps its codebooks and output free of rounding noise for little cost.
        for child in model.children():
            child.to(device=device, dtype=torch.float32 if child is model.codec_model else dtype)
        model.eval()  # type: ignore[no-untyped-call]
        codec.check_streamable(model.codec_model)
        # One GPU step at a time: CUDA graphs must not interleave across worker threads.
        lock: AbstractContextManager[Any] = (
            threading.Lock() if device.type == "cuda" else nullcontext()
        )
        frames = FrameModel(
            model,
            codebook_size=int(model.codec_model.config.codebook_size),
            sampling=options.sampling,
            compiled=options.compile and device.type == "cuda",
            lock=lock,
        )
        self._loaded = LoadedModel(frames, tokenizer, model.codec_model, device, dtype)
        self.conditioning_version = version
        return self._loaded

    def _device(self) -> torch.device:
        wanted = self.options.device
        if wanted != "cpu" and self.options.expandable_segments:
            _prepare_cuda_allocator()
        if wanted == "cpu" or (wanted == "auto" and not torch.cuda.is_available()):
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise EngineError(
                "SPEAKER_CSM_DEVICE=cuda, but PyTorch sees no CUDA device",
                code="device_unavailable",
                suggestion="install a CUDA build of PyTorch, or set SPEAKER_CSM_DEVICE=cpu",
            )
        return torch.device("cuda")

    def _measure(self, *, warm_up: bool) -> float:
        session = self.open_session()
        task = SynthesisTask(_CALIBRATION_TEXT, BUILTIN_VOICE, SynthesisParams())
        try:
            if warm_up:
                session.render([task], [_CALIBRATION_FRAMES])
            started = time.perf_counter()
            audio = session.render([task], [_CALIBRATION_FRAMES])[0]
            return audio.duration / max(time.perf_counter() - started, 1e-6)
        finally:
            session.close()

    @property
    def loaded(self) -> LoadedModel:
        """The model in memory; raises before `load()`."""
        if self._loaded is None:
            raise EngineError("the csm engine is not loaded", code="engine_not_loaded")
        return self._loaded

    @property
    def sample_rate(self) -> int:
        """Rate of the audio the engine makes (24 kHz for Mimi)."""
        return int(self.loaded.codec.config.sampling_rate)

    def voices(self) -> list[VoiceInfo]:
        """The built-in voice; cloned voices come from the voice library."""
        return [
            VoiceInfo(
                id=BUILTIN_VOICE,
                name="CSM speaker 0",
                engine=ENGINE_NAME,
                language="en",
                sample_rate=24_000,
                description="CSM-1B without a reference: its timbre varies from request to request",
                tags=("csm",),
            )
        ]

    def frame_budget(self, text: str) -> int:
        """Most frames generated for a text (see `frame_budget`)."""
        frame_rate = float(self.loaded.codec.config.frame_rate)
        return frame_budget(text, frame_rate, self.options.max_audio_seconds)

    def text_ids(self, text: str) -> list[int]:
        """Token ids of one turn's text segment, `<bos>[0]text<eos>`."""
        tokenizer = self.loaded.tokenizer
        segment = f"{tokenizer.bos_token}[{_SPEAKER}]{text}{tokenizer.eos_token}"
        ids: list[int] = tokenizer(segment, add_special_tokens=False)["input_ids"]
        return ids

    def condition(
        self, samples: Samples, sample_rate: int, transcript: str
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Encode a reference once: `audio_codes` int32 `[frames, codebooks]` and the
        transcript's `text_ids` int32 `[tokens]`."""
        loaded = self.loaded
        rate = self.sample_rate
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if sample_rate != rate:
            audio = soxr.resample(audio, sample_rate, rate, quality="HQ").astype(np.float32)
        frame_samples = codec.samples_per_frame(loaded.codec)
        if len(audio) < frame_samples:
            raise InvalidRequestError(
                "the reference audio is shorter than one codec frame",
                code="reference_too_short",
                param="audio",
            )
        with loaded.frames.lock, torch.inference_mode():
            codes = codec.encode(loaded.codec, audio)
        return {
            "audio_codes": codes,
            "text_ids": np.asarray(self.text_ids(transcript), dtype=np.int32),
        }

    def prompt(self, text: str, voice_id: str, reference: VoiceReference | None) -> torch.Tensor:
        """The backbone's input embeddings `[positions, hidden]` for speaking `text`."""
        frames = self.loaded.frames
        parts = []
        if reference is not None:
            text_ids, audio_codes = self._reference_arrays(reference.conditioning)
            parts += [
                frames.embed_text(text_ids),
                frames.embed_frames(audio_codes),
                frames.embed_frames(frames.eos_frame()),
            ]
        elif voice_id != BUILTIN_VOICE:
            raise NotFoundError(
                f"CSM has no voice {voice_id!r}",
                code="voice_not_found",
                param="voice",
                suggestion=f"use {BUILTIN_VOICE} or a cloned voice",
            )
        parts.append(frames.embed_text(torch.tensor(self.text_ids(text))))
        return torch.cat(parts)

    def _reference_arrays(
        self, conditioning: Mapping[str, npt.NDArray[np.generic]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        frames = self.loaded.frames
        ids = conditioning.get("text_ids")
        codes = conditioning.get("audio_codes")
        valid = (
            ids is not None
            and codes is not None
            and ids.ndim == 1
            and codes.ndim == 2
            and codes.shape[1] == frames.codebooks
            and np.issubdtype(codes.dtype, np.integer)
            and np.issubdtype(ids.dtype, np.integer)
            and (codes.size == 0 or 0 <= codes.min() <= codes.max() < frames.codebook_size)
        )
        if not valid or ids is None or codes is None:
            raise EngineError(
                "this voice's CSM conditioning does not fit the loaded model",
                code="conditioning_invalid",
                suggestion="re-create the voice from its reference audio",
            )
        return (
            torch.from_numpy(ids.astype(np.int64)),
            torch.from_numpy(codes.astype(np.int64)),
        )

    def generator(self) -> torch.Generator:
        """A random generator for one request, seeded when the options fix a seed."""
        generator = torch.Generator(device=self.loaded.device)
        if self.options.seed is None:
            generator.seed()
        else:
            generator.manual_seed(self.options.seed)
        return generator

    def open_session(self) -> CsmSession:
        """A worker's session: its own KV caches over the shared model."""
        return CsmSession(self)

    def close(self) -> None:
        """Drop the model and release GPU memory."""
        loaded, self._loaded = self._loaded, None
        if loaded is not None and loaded.device.type == "cuda":
            del loaded
            torch.cuda.empty_cache()


class CsmSession:
    """Synthesizes on the calling worker thread; keeps its static KV caches between requests."""

    def __init__(self, engine: CsmEngine) -> None:
        self._engine = engine
        self._caches = CachePool(engine.loaded.frames)

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> AudioSegment:
        """Speak one text; `params.reference` carries a cloned voice's conditioning.

        CSM has no control of pace or style: `params.speed` and `instructions` are not used.
        """
        return self.synthesize_batch([SynthesisTask(text, voice_id, params)])[0]

    def synthesize_batch(self, tasks: list[SynthesisTask]) -> list[AudioSegment]:
        """Speak several texts in one batched generation, results in order."""
        return self.render(tasks, [self._engine.frame_budget(task.text) for task in tasks])

    def render(self, tasks: list[SynthesisTask], budgets: list[int]) -> list[AudioSegment]:
        """Speak `tasks` with explicit frame budgets (one generation for all of them)."""
        engine = self._engine
        loaded = engine.loaded
        rate = engine.sample_rate
        results = [AudioSegment(np.zeros(0, dtype=np.float32), rate) for _ in tasks]
        live = [i for i, task in enumerate(tasks) if task.text.strip()]
        if not live:
            return results
        with torch.inference_mode():
            prompts = [
                engine.prompt(tasks[i].text, tasks[i].voice_id, tasks[i].params.reference)
                for i in live
            ]
            generation = Generation(
                loaded.frames, prompts, [budgets[i] for i in live], self._caches, engine.generator()
            )
            steps = []
            while not generation.done:
                steps.append(generation.step())
            with loaded.frames.lock, stage("codec_decode"):
                audio = codec.decode(loaded.codec, torch.stack(steps, dim=2))
        frame_samples = codec.samples_per_frame(loaded.codec)
        for row, index in enumerate(live):
            # Decoding is causal: what a row drew after its end never reaches its own samples.
            samples = audio[row, : generation.produced[row] * frame_samples]
            results[index] = AudioSegment(_to_numpy(samples), rate)
        return results

    def synthesize_stream(
        self,
        text: str,
        voice_id: str,
        params: SynthesisParams,
        cancelled: Callable[[], bool],
    ) -> Iterator[AudioSegment]:
        """Yield the audio of one text as its frames are drawn: 20 frames first, then 40 at a
        time. The pieces join seamlessly; generation stops at once when `cancelled()`."""
        if not text.strip():
            return
        engine = self._engine
        loaded = engine.loaded
        rate = engine.sample_rate
        with torch.inference_mode():
            prompt = engine.prompt(text, voice_id, params.reference)
            generation = Generation(
                loaded.frames,
                [prompt],
                [engine.frame_budget(text)],
                self._caches,
                engine.generator(),
            )
            decoder = codec.StreamDecoder(loaded.codec)
        pending: list[torch.Tensor] = []
        piece = FIRST_PIECE_FRAMES
        ended = False
        while not ended:
            if cancelled():
                return
            made = generation.produced[0]
            with torch.inference_mode():
                frame = generation.step()
            if generation.produced[0] > made:
                pending.append(frame)
            ended = generation.done
            if pending and (len(pending) >= piece or ended):
                yield AudioSegment(self._decode_piece(decoder, pending), rate)
                pending = []
                piece = PIECE_FRAMES

    def _decode_piece(self, decoder: codec.StreamDecoder, frames: list[torch.Tensor]) -> Samples:
        with self._engine.loaded.frames.lock, torch.inference_mode(), stage("codec_decode"):
            return _to_numpy(decoder.decode(torch.stack(frames, dim=2))[0])

    def close(self) -> None:
        """Free this session's KV caches."""
        self._caches.clear()


def _to_numpy(samples: torch.Tensor) -> Samples:
    result: Samples = samples.float().clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)
    return result
