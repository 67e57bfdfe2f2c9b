"""Compile the JIT code paths once at set-up, so a user's first `dp process` does not.

librosa's onset and beat-tracking kernels are numba functions cached on disk (`cache=True`,
next to their sources in the venv): the first call in a fresh venv compiles them for
~12 s, every later process loads them in well under a second.

    .venv/bin/python -m dp_cli.warm_up      (scripts/setup.sh runs it)
"""

from __future__ import annotations

import time

import numpy as np

from dp_features.audio.tempo import estimate_tempo


def click_track(sample_rate: int = 16000, seconds: float = 4.0, bpm: float = 120.0) -> np.ndarray:
    audio = np.zeros(int(sample_rate * seconds), dtype=np.float32)
    period = int(sample_rate * 60.0 / bpm)
    for start in range(0, audio.size - 160, period):
        audio[start : start + 160] = np.hanning(160)
    return audio


def main() -> None:
    started = time.perf_counter()
    estimate_tempo(click_track(), 16000)
    print(f"JIT code paths compiled and cached in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
