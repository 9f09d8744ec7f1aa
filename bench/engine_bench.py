"""Piper's graph as shipped against the graph Speaker loads (1-D convolutions run as 2-D).

Run on demand (it is not a test):

    python bench/engine_bench.py [--rounds 4] [--seconds 8]

Both graphs run the bench texts in the same process, one after the other in every round, on 1
and on 2 threads (one single-thread session shared by the threads, as Speaker's workers share
it). The table shows medians over the rounds and the median of the per-round ratios, which the
machine's drift affects least; the last rows show the largest sample difference between the two
graphs with the model's noise off, and each graph's load time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from piper import PiperVoice
from piper.config import PiperConfig
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import TEXTS
from speaker.engines.piper import builtin_voice, inference_session


def _voice(conv2d: bool) -> tuple[PiperVoice, float]:
    """The built-in voice on a session as Speaker's workers open it, and its load time."""
    files = builtin_voice()
    config = PiperConfig.from_dict(json.loads(files.config_path.read_text(encoding="utf-8")))
    started = time.perf_counter()
    session = inference_session(files.model_path, threads=1, conv2d=conv2d)
    loaded = time.perf_counter() - started
    voice = PiperVoice(session=session, config=config)
    list(voice.synthesize("Warm up the session."))
    return voice, loaded


def _rate(voice: PiperVoice, threads: int, seconds: float, seed: int) -> tuple[float, float]:
    """Audio seconds per wall second and per CPU second of `threads` threads on bench texts."""
    audio = [0.0] * threads
    deadline = time.perf_counter() + seconds

    def work(index: int) -> None:
        rng = random.Random(seed + index)
        while time.perf_counter() < deadline:
            for chunk in voice.synthesize(TEXTS[rng.randrange(len(TEXTS))]):
                audio[index] += len(chunk.audio_float_array) / chunk.sample_rate

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    wall, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return sum(audio) / wall, sum(audio) / cpu


def _difference(shipped: PiperVoice, rewritten: PiperVoice) -> tuple[float, float]:
    """Largest sample difference between the graphs, and the peak, with the noise off."""
    ids = shipped.phonemes_to_ids(shipped.phonemize(TEXTS[0])[0])
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    a = shipped.session.run(None, feeds)[0].reshape(-1)
    b = rewritten.session.run(None, feeds)[0].reshape(-1)
    return float(np.max(np.abs(a - b))), float(np.max(np.abs(a)))


def main() -> None:
    """Measure both graphs in interleaved rounds and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="per graph, threads, round")
    options = parser.parse_args()
    shipped, shipped_load = _voice(conv2d=False)
    rewritten, rewritten_load = _voice(conv2d=True)
    table = Table(title="Piper engine: shipped graph vs 2-D convolutions (medians)")
    for column in ("threads", "shipped audio-s/s", "2-D audio-s/s", "ratio", "per CPU s ratio"):
        table.add_column(column, justify="right")
    for threads in (1, 2):
        rows: dict[str, list[tuple[float, float]]] = {"shipped": [], "2d": []}
        for round_ in range(options.rounds):
            rows["shipped"].append(_rate(shipped, threads, options.seconds, round_))
            rows["2d"].append(_rate(rewritten, threads, options.seconds, round_))
        pairs = list(zip(rows["shipped"], rows["2d"], strict=True))
        table.add_row(
            str(threads),
            f"{statistics.median(r[0] for r in rows['shipped']):.2f}",
            f"{statistics.median(r[0] for r in rows['2d']):.2f}",
            f"{statistics.median(b[0] / a[0] for a, b in pairs):.3f}",
            f"{statistics.median(b[1] / a[1] for a, b in pairs):.3f}",
        )
    Console().print(table)
    difference, peak = _difference(shipped, rewritten)
    print(f"largest sample difference, noise off: {difference:.2e} (peak {peak:.2f})")
    print(f"load: shipped {shipped_load:.2f} s, 2-D {rewritten_load:.2f} s")


if __name__ == "__main__":
    main()
