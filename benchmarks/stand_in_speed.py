"""CLIP image and MiDaS stand-ins on one CPU thread: milliseconds per 224 x 224 frame.

Moved here from the test suite (speed is measured in benchmarks, never asserted in tests).
The brief's budget is < 20 ms per frame on CPU; each figure is printed with its ratio to that
budget and to the frame preprocessing measured in the same run (resize + normalise, numpy).
Run from the repository root: `python -m benchmarks.stand_in_speed [--frames 10] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.midas import load_midas
from dp_tools.stand_ins.clip import build_clip_stand_in
from dp_tools.stand_ins.midas import build_midas_stand_in

BUDGET_MS = 20.0


def _best_ms_per_frame(run, frames: np.ndarray, runs: int) -> float:
    run(frames[:2])  # warm-up
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        run(frames)
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frames = np.random.default_rng(2).integers(0, 256, (args.frames, 224, 224, 3), np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        clip = load_clip(build_clip_stand_in(Path(tmp) / "clip"), batch_size=5, intra_op_threads=1)
        midas = load_midas(
            build_midas_stand_in(Path(tmp) / "midas"), batch_size=5, intra_op_threads=1
        )

        def preprocess(batch: np.ndarray) -> np.ndarray:  # the baseline: numpy only
            return (batch[:, ::2, ::2].astype(np.float32) / 255.0 - 0.5).transpose(0, 3, 1, 2)

        baseline = _best_ms_per_frame(preprocess, frames, args.runs)
        print(f"baseline numpy preprocessing: {baseline:.2f} ms/frame")
        for name, run in (("clip image", clip.embed_frames), ("midas depth", midas.depth)):
            ms = _best_ms_per_frame(run, frames, args.runs)
            print(
                f"{name:<12} {ms:6.2f} ms/frame = {ms / BUDGET_MS:.2f}x the {BUDGET_MS:.0f} ms "
                f"budget, {ms / baseline:.1f}x the baseline (1 thread, best of {args.runs})"
            )


if __name__ == "__main__":
    main()
