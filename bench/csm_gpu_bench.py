"""CSM engine speed on this machine, with random weights of the full CSM-1B architecture.

Run on demand: `python bench/csm_gpu_bench.py` (CUDA, needs `pip install -e ".[csm]"`). Nothing is
downloaded: the model is built from CSM-1B's configuration with random weights, which cost the
same to run as the real ones. `--tiny --device cpu` runs a small smoke version anywhere.

Each mode (eager, compiled with CUDA graphs) goes through the engine's own sessions:
- per-frame latency and time to first audio of one stream (`synthesize_stream`);
- real-time factor of 1, 8 and 32 concurrent streams decoded as one batch (`synthesize_batch`).
A random model never ends a text, so every stream runs exactly `--frames` frames.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

FRAME_SECONDS = 0.08  # Mimi: 12.5 frames a second
TEXT = "The quick brown fox jumps over the lazy dog, and keeps on running far away."


def build_model(tiny: bool, device: str) -> Any:
    """A random-weight CSM: CSM-1B's architecture, or a tiny one for smoke runs."""
    import torch
    from transformers import CsmConfig, CsmForConditionalGeneration

    if tiny:
        config = CsmConfig(
            num_codebooks=8,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            text_vocab_size=512,
            # Within the tiny vocabularies, like the byte tokenizer's special tokens.
            bos_token_id=256,
            pad_token_id=258,
            audio_token_id=258,
            audio_eos_token_id=259,
            depth_decoder_config={
                "num_codebooks": 8,
                "backbone_hidden_size": 64,
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "max_position_embeddings": 9,
            },
            codec_config={
                "model_type": "mimi",
                "hidden_size": 32,
                "num_filters": 4,
                "codebook_dim": 16,
                "vector_quantization_hidden_dimension": 16,
                "num_quantizers": 8,
                "upsample_groups": 32,
                "num_hidden_layers": 2,
                "intermediate_size": 64,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
            },
        )
    else:
        config = CsmConfig()  # its defaults are CSM-1B's dimensions
    torch.manual_seed(0)
    # Initialised where it runs: a billion parameters initialise in seconds on a GPU.
    with torch.device(device):
        model = CsmForConditionalGeneration(config)
    return model.eval()


def byte_tokenizer() -> Any:
    """A byte-level tokenizer with CSM's special tokens: every text encodes, nothing to download."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    backend = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(alphabet)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]
    backend.add_special_tokens([AddedToken(token, special=True) for token in specials])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=specials[0], eos_token=specials[1]
    )


@dataclass
class Row:
    """One line of the results table."""

    mode: str
    streams: int
    frame_ms: float
    per_stream_rtf: float
    aggregate_rtf: float
    ttfa_s: float | None
    warm_up_s: float


def measure_mode(
    mode: str, model: Any, tokenizer: Any, args: argparse.Namespace, streams: list[int]
) -> list[Row]:
    """Every measurement of one mode (eager or compiled)."""
    import numpy as np

    from speaker.engines.base import SynthesisParams, SynthesisTask, VoiceReference
    from speaker.engines.csm.engine import BUILTIN_VOICE, CsmEngine, CsmOptions

    options = CsmOptions(
        models_dir=Path(tempfile.gettempdir()),
        device=args.device,
        dtype=args.dtype,
        compile=mode == "compiled",
        max_batch=max(streams),
        seed=0,
    )
    engine = CsmEngine(options)
    loaded = engine.adopt(model, tokenizer, "bench")
    params = SynthesisParams()
    voice = BUILTIN_VOICE
    if args.reference_seconds > 0:
        rng = np.random.default_rng(0)
        audio = (0.1 * rng.standard_normal(int(args.reference_seconds * 24_000))).astype(np.float32)
        conditioning = engine.condition(audio, 24_000, "A reference sentence of the voice.")
        params = SynthesisParams(reference=VoiceReference("ref", "reference", conditioning))
        voice = "ref"
    session = engine.open_session()

    def sync() -> None:
        if loaded.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    rows = []
    for count in streams:
        tasks = [SynthesisTask(TEXT, voice, params)] * count
        started = time.perf_counter()
        session.render(tasks, [args.frames] * count)  # warm-up (and compilation)
        sync()
        warm_up = time.perf_counter() - started
        walls = []
        for _ in range(args.runs):
            started = time.perf_counter()
            session.render(tasks, [args.frames] * count)
            sync()
            walls.append(time.perf_counter() - started)
        wall = statistics.median(walls)
        per_stream = args.frames * FRAME_SECONDS / wall
        ttfa = None
        frame_ms = wall / args.frames * 1000
        if count == 1:
            ttfa, frame_ms = stream_timings(session, voice, params, args.frames, sync)
        rows.append(Row(mode, count, frame_ms, per_stream, per_stream * count, ttfa, warm_up))
    session.close()
    engine.close()
    return rows


def stream_timings(
    session: Any, voice: str, params: Any, frames: int, sync: Any
) -> tuple[float, float]:
    """Time to first audio and the median time between frames of one stream."""
    from speaker.engines.csm import engine as csm

    checks: list[float] = []
    # At least one piece, or there is no first audio to time.
    frames = max(frames, csm.FIRST_PIECE_FRAMES)

    def cancelled() -> bool:
        # Called once before every frame: the gaps are the per-frame latency.
        checks.append(time.perf_counter())
        return len(checks) > frames

    started = time.perf_counter()
    first: float | None = None
    for _ in session.synthesize_stream(TEXT * 4, voice, params, cancelled):
        sync()
        first = first or time.perf_counter() - started
    gaps = [b - a for a, b in itertools.pairwise(checks)]
    # The gaps that included decoding a piece are not frame latency.
    pieces = {csm.FIRST_PIECE_FRAMES, *range(csm.FIRST_PIECE_FRAMES, frames, csm.PIECE_FRAMES)}
    frame_gaps = [g for i, g in enumerate(gaps, start=1) if i not in pieces] or gaps
    return first or float("nan"), statistics.median(frame_gaps) * 1000


def main() -> None:
    """Parse the options, run every mode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument("--tiny", action="store_true", help="a tiny model: a smoke test")
    parser.add_argument("--streams", default="1,8,32", help="concurrent stream counts")
    parser.add_argument("--frames", type=int, default=100, help="frames per stream (0.08 s)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument(
        "--modes", default=None, help="eager,compiled (default: both on CUDA, eager on CPU)"
    )
    parser.add_argument(
        "--reference-seconds",
        type=float,
        default=10.0,
        help="length of a cloned voice's reference in each prompt; 0: the built-in voice",
    )
    args = parser.parse_args()
    if args.device == "cuda":
        # Before CUDA initialises, as the engine does for its own start-up.
        os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: use --device cpu (with --tiny for a quick smoke run)")
    modes = (args.modes or ("eager,compiled" if args.device == "cuda" else "eager")).split(",")
    if "compiled" in modes and args.device != "cuda":
        sys.exit("compiled mode needs CUDA: the engine compiles only there")
    streams = [int(n) for n in args.streams.split(",")]
    console = Console()
    started = time.perf_counter()
    model = build_model(args.tiny, args.device)
    parameters = sum(p.numel() for p in model.parameters())
    console.print(
        f"{'tiny' if args.tiny else 'CSM-1B'} architecture, {parameters / 1e6:.0f} M random "
        f"parameters, built in {time.perf_counter() - started:.1f} s on {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
    )
    tokenizer = byte_tokenizer()
    rows = [row for mode in modes for row in measure_mode(mode, model, tokenizer, args, streams)]
    table = Table(
        "mode",
        "streams",
        "ms / frame",
        "x real time / stream",
        "x real time, all",
        "first audio s",
        "warm-up s",
        title=(
            f"CSM, {args.frames} frames a stream ({args.frames * FRAME_SECONDS:.1f} s of audio), "
            f"reference {args.reference_seconds:g} s, median of {args.runs}"
        ),
    )
    for row in rows:
        table.add_row(
            row.mode,
            str(row.streams),
            f"{row.frame_ms:.1f}",
            f"{row.per_stream_rtf:.2f}",
            f"{row.aggregate_rtf:.2f}",
            "-" if row.ttfa_s is None else f"{row.ttfa_s:.2f}",
            f"{row.warm_up_s:.1f}",
        )
    console.print(table)
    console.print(
        "ms / frame: one stream's gap between frames, or a batch's wall time per frame. "
        "x real time / stream >= 1 keeps every stream ahead of its listener."
    )


if __name__ == "__main__":
    main()
