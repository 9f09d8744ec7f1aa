"""CSM's frame loop: the backbone picks each frame's first code, the depth decoder the rest.

This is `CsmForConditionalGeneration.generate` taken apart, so that a caller can stop after any
frame (cancellation), take frames as they come (streaming) and run a batch of prompts of
different lengths (left-padded) through static KV caches. The model's own modules do all the
maths; the steps can be compiled with CUDA graphs, since every shape in them is fixed.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import CsmForConditionalGeneration, StaticCache

from speaker.errors import EngineError
from speaker.observability.stages import stage

# Cache lengths are rounded up to this, so a compiled step sees few distinct shapes.
_CACHE_LENGTH_STEP = 256
# Static caches a session keeps for reuse (by batch size and length); each costs GPU memory.
_KEPT_CACHES = 2
# Compiled steps: batches are padded to a power of two, so a few graphs cover every size.
_COMPILED_SHAPES = 64

Step = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Sampling:
    """How each code is drawn: top-k, then temperature (Sesame's defaults)."""

    temperature: float = 0.9
    top_k: int = 50


class FrameModel:
    """The loaded CSM model as step functions, shared by every session."""

    def __init__(
        self,
        model: CsmForConditionalGeneration,
        *,
        codebook_size: int,
        sampling: Sampling,
        compiled: bool,
        lock: AbstractContextManager[Any],
    ) -> None:
        codebooks = model.config.num_codebooks
        eos_code = model.config.codebook_eos_token_id
        if codebooks is None or not isinstance(eos_code, int):
            raise EngineError(
                "this CSM config lacks num_codebooks or a single codebook_eos_token_id",
                code="model_unsupported",
            )
        self.model = model
        self.codebooks = codebooks
        # Codes the codec can decode; the model's vocabulary also holds a few it must not emit.
        self.codebook_size = codebook_size
        self.eos_code = eos_code
        self.max_positions = int(model.config.max_position_embeddings)
        self.sampling = sampling
        self.lock = lock
        self.device = model.device
        self.dtype = model.lm_head.weight.dtype
        self.compiled = compiled
        self._vocab = int(model.depth_decoder.config.vocab_size)
        # The depth decoder's positions: [0, 1] for its first step, then one at a time.
        self._positions = [torch.arange(2, device=self.device)] + [
            torch.tensor([p], device=self.device) for p in range(2, codebooks)
        ]
        self._backbone_step: Step = self._backbone_decode
        self._depth_first: Step = self._depth_decode_first
        self._depth_next: Step = self._depth_decode_next
        if compiled:
            # Decoding steps only: their shapes are fixed per batch size and cache length. The
            # prefill's length varies with every prompt, so it stays eager. Each batch bucket
            # and cache length is a graph of its own, more than torch's default limit of 8.
            torch._dynamo.config.recompile_limit = max(
                torch._dynamo.config.recompile_limit, _COMPILED_SHAPES
            )
            self._backbone_step = torch.compile(
                self._backbone_decode, mode="reduce-overhead", dynamic=False
            )
            self._depth_first = torch.compile(
                self._depth_decode_first, mode="reduce-overhead", dynamic=False
            )
            self._depth_next = torch.compile(
                self._depth_decode_next, mode="reduce-overhead", dynamic=False
            )

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings `[tokens, hidden]` of text token ids."""
        embeds: torch.Tensor = self.model.embed_text_tokens(ids.to(self.device))
        return embeds

    def embed_frames(self, codes: torch.Tensor) -> torch.Tensor:
        """Embeddings `[frames, hidden]` of `[frames, codebooks]` codes (the sum over codebooks)."""
        embeds: torch.Tensor = self.model.backbone_model.embed_tokens(codes.to(self.device)[None])
        return embeds[0]

    def eos_frame(self) -> torch.Tensor:
        """The end-of-audio frame that closes a reference's audio, `[1, codebooks]`."""
        return torch.full((1, self.codebooks), self.eos_code, dtype=torch.long, device=self.device)

    def prefill(
        self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        """Run the prompts through the backbone; the last position's hidden state."""
        out = self.model.backbone_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
        )
        # Laid out like the decoding steps' output: compiled steps guard on strides, even those
        # of a batch of one, which `contiguous()` would leave alone.
        last = out.last_hidden_state[:, -1]
        hidden: torch.Tensor = last.clone(memory_format=torch.contiguous_format)
        return hidden

    def advance(
        self, codes: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        """Feed the last frame `[batch, codebooks]` to the backbone; its hidden state."""
        return self._backbone_step(codes, mask, positions, cache)

    def sample_frame(
        self, hidden: torch.Tensor, cache: StaticCache, generator: torch.Generator
    ) -> torch.Tensor:
        """Draw one frame `[batch, codebooks]` from the backbone's hidden state."""
        first = self._sample(self.model.lm_head(hidden), generator)
        cache.reset()  # type: ignore[no-untyped-call]
        codes = [first]
        logits = self._depth_first(first, hidden, self._positions[0], cache)
        for codebook in range(1, self.codebooks):
            codes.append(self._sample(logits, generator))
            if codebook + 1 < self.codebooks:
                logits = self._depth_next(codes[-1], self._positions[codebook], cache)
        return torch.stack(codes, dim=1)

    def _sample(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        logits = logits[:, : self.codebook_size].float()
        top, index = torch.topk(logits, min(self.sampling.top_k, self.codebook_size), dim=-1)
        probs = torch.softmax(top / self.sampling.temperature, dim=-1)
        choice = torch.multinomial(probs, 1, generator=generator)
        return index.gather(-1, choice)[:, 0]

    def _backbone_decode(
        self, codes: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        embeds = self.model.backbone_model.embed_tokens(codes[:, None, :])
        out = self.model.backbone_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
        )
        hidden: torch.Tensor = out.last_hidden_state[:, -1]
        return hidden

    # The depth decoder runs through its own layers here rather than its `forward`, which reads
    # its position from the cache as a Python number: that breaks a compiled graph at every
    # codebook. Positions are tensors instead, so one graph serves all codebooks.

    def _depth_decode_first(
        self, first: torch.Tensor, hidden: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        # Position 0 holds the backbone's state, position 1 the first codebook's code.
        table = self.model.depth_decoder.model.embed_tokens
        embeds = torch.stack([hidden, table(first)], dim=1)
        return self._depth_layers(embeds, positions, cache)

    def _depth_decode_next(
        self, previous: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        # The code at position p belongs to codebook p - 1, whose embeddings are that slice of
        # the shared table.
        table = self.model.depth_decoder.model.embed_tokens
        embeds = table(previous[:, None] + (positions - 1) * self._vocab)
        return self._depth_layers(embeds, positions, cache)

    def _depth_layers(
        self, embeds: torch.Tensor, positions: torch.Tensor, cache: StaticCache
    ) -> torch.Tensor:
        decoder = self.model.depth_decoder.model
        hidden = decoder.inputs_embeds_projector(embeds)
        position_ids = positions[None]
        rotary = decoder.rotary_emb(hidden, position_ids=position_ids)
        slots = torch.arange(self.codebooks, device=positions.device)
        blocked = slots[None, :] > positions[:, None]
        mask = torch.zeros(blocked.shape, dtype=hidden.dtype, device=hidden.device)
        mask = mask.masked_fill(blocked, torch.finfo(hidden.dtype).min)[None, None]
        for layer in decoder.layers:
            hidden = layer(
                hidden,
                attention_mask=mask,
                position_ids=position_ids,
                cache=cache,
                use_cache=True,
                position_embeddings=rotary,
            )
        last = decoder.norm(hidden[:, -1])
        # The head at position p predicts codebook p.
        head = self.model.depth_decoder.codebooks_head.weight.index_select(0, positions[-1:] - 1)
        logits: torch.Tensor = last @ head[0]
        return logits


class CachePool:
    """A session's static KV caches, kept for reuse: a compiled step keeps its CUDA graph only
    while its caches stay at the same addresses."""

    def __init__(self, frames: FrameModel) -> None:
        self._frames = frames
        self._kept: OrderedDict[tuple[int, int], tuple[StaticCache, StaticCache]] = OrderedDict()

    def get(self, batch: int, length: int) -> tuple[StaticCache, StaticCache, int]:
        """Empty backbone and depth-decoder caches for `batch` rows of at least `length`
        positions, and the backbone cache's actual length."""
        length = math.ceil(length / _CACHE_LENGTH_STEP) * _CACHE_LENGTH_STEP
        key = (batch, length)
        caches = self._kept.pop(key, None)
        if caches is None:
            model = self._frames.model
            caches = (
                self._allocate(model.backbone_model.config, batch, length),
                self._allocate(model.depth_decoder.config, batch, self._frames.codebooks),
            )
        else:
            for cache in caches:
                cache.reset()  # type: ignore[no-untyped-call]
        self._kept[key] = caches
        while len(self._kept) > _KEPT_CACHES:
            self._kept.popitem(last=False)
        return (*caches, length)

    def _allocate(self, config: Any, batch: int, length: int) -> StaticCache:
        # Allocated now rather than on first use, which may be inside a compiled step: only
        # tensors allocated outside get the fixed addresses CUDA graphs need.
        cache = StaticCache(config=config, max_cache_len=length)
        cache.early_initialization(
            batch_size=batch,
            num_heads=int(config.num_key_value_heads),
            head_dim=int(config.head_dim),
            dtype=self._frames.dtype,
            device=self._frames.device,
        )
        return cache

    def clear(self) -> None:
        """Drop every kept cache."""
        self._kept.clear()


class Generation:
    """A batch of prompts continued frame by frame until each ends or reaches its budget."""

    def __init__(
        self,
        frames: FrameModel,
        prompts: list[torch.Tensor],
        budgets: list[int],
        caches: CachePool,
        generator: torch.Generator,
    ) -> None:
        longest = max(len(p) for p in prompts)
        if longest >= frames.max_positions:
            raise EngineError(
                f"the prompt ({longest} positions with the voice reference) leaves no room in the "
                f"model's {frames.max_positions} positions",
                code="input_too_long",
                suggestion="use a shorter voice reference or shorter text chunks",
            )
        self._frames = frames
        self._generator = generator
        self.rows = len(prompts)
        self.budgets = [
            max(1, min(budget, frames.max_positions - len(prompt)))
            for budget, prompt in zip(budgets, prompts, strict=True)
        ]
        # Compiled steps run filler rows up to a power of two (fewer graphs); their frames are
        # dropped.
        batch = 1 << (self.rows - 1).bit_length() if frames.compiled else self.rows
        prompts = prompts + [prompts[0]] * (batch - self.rows)
        device = frames.device
        self._backbone_cache, self._depth_cache, length = caches.get(
            batch, longest + max(self.budgets)
        )
        pads = torch.tensor([longest - len(p) for p in prompts], device=device)
        # Left padding: every row's next frame goes to the same cache slot. Padded slots are
        # masked out, and each row counts its positions from its own first token.
        hidden_size = prompts[0].shape[-1]
        embeds = prompts[0].new_zeros(batch, longest, hidden_size)
        for row, prompt in enumerate(prompts):
            embeds[row, longest - len(prompt) :] = prompt
        slots = torch.arange(length, device=device)
        self._mask = (slots[None, :] >= pads[:, None]).long()
        self._prompt = (embeds, (slots[None, :longest] - pads[:, None]).clamp(min=0))
        self._positions = (longest - pads)[:, None]
        self._last: torch.Tensor | None = None
        self.produced = [0] * self.rows
        self.finished = [False] * self.rows

    @property
    def done(self) -> bool:
        """Whether every row has ended."""
        return all(self.finished)

    def step(self) -> torch.Tensor:
        """The next frame of every row, `[rows, codebooks]`; rows that had ended are ignored.

        A row ends when it draws the end-of-audio frame (not counted in `produced`) or when it
        reaches its budget. The previous frame is fed to the backbone here rather than right
        after it was drawn, so nothing is computed for a frame that is never asked for.
        """
        frames = self._frames
        with frames.lock:
            with stage("backbone"):
                if self._last is None:
                    embeds, positions = self._prompt
                    hidden = frames.prefill(embeds, self._mask, positions, self._backbone_cache)
                else:
                    hidden = frames.advance(
                        self._last, self._mask, self._positions, self._backbone_cache
                    )
                    self._positions = self._positions + 1
            # On CUDA the kernels run asynchronously: this reading of the end-of-audio flags
            # waits for them, so GPU time lands in `depth_decoder` rather than `backbone`.
            with stage("depth_decoder"):
                drawn = frames.sample_frame(hidden, self._depth_cache, self._generator)
                codes = drawn[: self.rows]
                ended = (codes == frames.eos_code).all(dim=-1).tolist()
        self._last = drawn
        for row, is_eos in enumerate(ended):
            if self.finished[row]:
                continue
            if is_eos:
                self.finished[row] = True
                continue
            self.produced[row] += 1
            if self.produced[row] >= self.budgets[row]:
                self.finished[row] = True
        return codes
