"""Throughput of our loudness meter against pyloudnorm, and of tempo extraction.

Run from the repository root:  python -m benchmarks.loudness_vs_pyloudnorm [--minutes 10]

Speeds are seconds of audio measured per second of wall time (higher is faster), best of
--repeats runs, all in this one process on the same synthetic signal. Our meter computes
everything the loudness_extractor stores (integrated, LRA, true peak, short-term curve);
pyloudnorm is timed for integrated loudness alone and for integrated + LRA.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import pyloudnorm

from dp_features.audio.loudness import LoudnessMeter, measure_loudness
from dp_features.audio.tempo import estimate_tempo

LOUDNESS_RATE = 48000
TEMPO_RATE = 16000


def programme(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Stereo float32 [2, S]: noise whose level steps every 2.5 s, plus a tone."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    x = rng.standard_normal((2, n), dtype=np.float32)
    steps_db = rng.uniform(-40.0, -15.0, size=int(seconds / 2.5) + 1).astype(np.float32)
    x *= np.repeat(10.0 ** (steps_db / 20.0), round(2.5 * rate))[:n]
    x += 0.01 * np.sin(2 * np.pi * 440 * np.arange(n, dtype=np.float32) / rate)
    return x


def drum_loop(seconds: float, rate: int, bpm: float = 123.0) -> np.ndarray:
    """Mono float32 kick/hat loop at `bpm` with a noise floor."""
    n = round(seconds * rate)
    y = 0.003 * np.random.default_rng(1).standard_normal(n).astype(np.float32)
    t = np.arange(round(0.2 * rate)) / rate
    kick = (np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.08)).astype(np.float32)
    for at in np.arange(0.0, seconds - 0.2, 60.0 / bpm):
        start = round(at * rate)
        y[start : start + kick.size] += 0.5 * kick
    return y


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    seconds = args.minutes * 60.0

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"signal: {args.minutes:g} min synthetic stereo at {LOUDNESS_RATE} Hz, float32")
    x = programme(seconds, LOUDNESS_RATE)
    x_interleaved = np.ascontiguousarray(x.T, dtype=np.float64)  # pyloudnorm wants [S, C]

    def ours_chunked():
        meter = LoudnessMeter(LOUDNESS_RATE, "stereo", 2)
        step = 60 * LOUDNESS_RATE  # the segmenter's ~60 s chunks
        for start in range(0, x.shape[1], step):
            meter.add(x[:, start : start + step])
        return meter.result()

    meter = pyloudnorm.Meter(LOUDNESS_RATE)
    rows = [
        ("ours: measure_loudness (I+LRA+TP+short-term)", lambda: measure_loudness(x, LOUDNESS_RATE, "stereo")),
        ("ours: LoudnessMeter, 60 s chunks", ours_chunked),
        ("pyloudnorm: integrated_loudness", lambda: meter.integrated_loudness(x_interleaved)),
        ("pyloudnorm: integrated + loudness_range", lambda: (
            meter.integrated_loudness(x_interleaved), meter.loudness_range(x_interleaved))),
    ]  # fmt: skip
    speeds = {}
    for name, fn in rows:
        elapsed, result = best_of(args.repeats, fn)
        speeds[name] = seconds / elapsed
        value = getattr(result, "integrated_lufs", result)
        value = value[0] if isinstance(value, tuple) else value
        print(f"  {name:46s} {elapsed:7.3f} s  {speeds[name]:9.0f} x real time  I={value:.3f}")
    ours = speeds[rows[0][0]]
    print(f"ratio ours / pyloudnorm integrated:       {ours / speeds[rows[2][0]]:.2f}")
    print(f"ratio ours / pyloudnorm integrated + LRA: {ours / speeds[rows[3][0]]:.2f}")

    print(f"tempo: {args.minutes:g} min mono at {TEMPO_RATE} Hz (123 BPM drum loop)")
    y = drum_loop(seconds, TEMPO_RATE)
    start = time.perf_counter()
    estimate_tempo(y[: 10 * TEMPO_RATE], TEMPO_RATE)  # first call compiles librosa's numba code
    print(f"  first call on 10 s (numba compile)             {time.perf_counter() - start:7.3f} s")
    elapsed, result = best_of(args.repeats, lambda: estimate_tempo(y, TEMPO_RATE))
    print(
        f"  {'ours: estimate_tempo':46s} {elapsed:7.3f} s  {seconds / elapsed:9.0f} x real time"
        f"  tempo={result.tempo_bpm:.2f} BPM, {result.beat_times_s.size} beats"
    )


if __name__ == "__main__":
    main()
