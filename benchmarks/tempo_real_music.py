"""Tempo on real music played at other speeds: ours against librosa's `feature.tempo`.

Run from the repository root:  python -m benchmarks.tempo_real_music [--part heldout]
(`--part fresh`: the part added after tempo_extractor v3, measured once; `--part all`: all
three; the default `both` is the tuning and held-out parts.)

Each piece of tests/fixtures/real_music.py (Debian packages; `scripts/test.sh` installs
them) is a 20 s excerpt, also rendered 0.8x, 1.25x and 1.5x as fast with FFmpeg's `atempo`
(pitch kept). The truth is the speed: a case passes when tempo(speed) / tempo(1.0) is
within 3 % of the speed, so a jump to another metrical level (x2, x1/2, x1/3) fails.
Both estimators run in this one process on the same 16 kHz samples: ours
(`estimate_tempo`) and librosa 0.11's `feature.tempo(y=..., sr=16000)` with its defaults (32 ms hop; the summary line
also counts it at our 10 ms hop).
The synthetic click tracks and drum patterns of the accuracy tests are added at 1.0x with
their known tempo (within 2 %). Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import librosa
import numpy as np

from dp_features.audio.tempo import estimate_tempo
from tests.fixtures import real_music
from tests.fixtures.audio_synth import click_track, drum_pattern

RATE = real_music.RATE
RATIO_TOLERANCE = 0.03
SYNTH_TOLERANCE = 0.02


def ours(y: np.ndarray) -> float:
    return estimate_tempo(y, RATE).tempo_bpm


def theirs(y: np.ndarray) -> float:
    return float(librosa.feature.tempo(y=y, sr=RATE)[0])


def theirs_fine(y: np.ndarray) -> float:
    """librosa at our 10 ms hop: its default 32 ms lag grid alone misses 3 % at ~100 BPM."""
    return float(librosa.feature.tempo(y=y, sr=RATE, hop_length=160)[0])


def _ok(ratio: float, speed: float) -> bool:
    return abs(ratio / speed - 1.0) <= RATIO_TOLERANCE


def real_part(part: str) -> tuple[list[str], dict[str, int], int]:
    rows, passed, cases = [], {"ours": 0, "librosa": 0, "librosa_10ms": 0}, 0
    for piece in real_music.pieces(part):
        fine_base = theirs_fine(real_music.rendered(piece, 1.0))
        base = {
            name: f(real_music.rendered(piece, 1.0))
            for name, f in (("ours", ours), ("librosa", theirs))
        }
        cells = []
        for speed in real_music.SPEEDS:
            y = real_music.rendered(piece, speed)
            cases += 1
            pair = []
            for name, f in (("ours", ours), ("librosa", theirs)):
                ratio = f(y) / base[name] if base[name] > 0 else 0.0
                good = _ok(ratio, speed)
                passed[name] += good
                pair.append(f"{ratio:.3f}{'' if good else ' ✗'}")
            cells.append(" / ".join(pair))
            fine = theirs_fine(y) / fine_base if fine_base > 0 else 0.0
            passed["librosa_10ms"] += _ok(fine, speed)
        rows.append(
            f"| {piece.name} | {base['ours']:.1f} / {base['librosa']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    return rows, passed, cases


def charted() -> list[str]:
    rows = []
    for part in ("tuning", "heldout"):
        for piece in real_music.pieces(part):
            truth = real_music.chart_bpm(piece)
            if truth is None:
                continue
            y = real_music.rendered(piece, 1.0)
            mine, lib = ours(y), theirs(y)
            rows.append(
                f"| {piece.name} | {truth:.0f} | {mine:.1f} ({mine / truth:.2f}x) | {lib:.1f} ({lib / truth:.2f}x) |"
            )
    return rows


def synthetic() -> tuple[list[str], dict[str, int], int]:
    material = [
        (f"click {b}", b, click_track(b, 20.0, RATE)[0])
        for b in (70, 90, 100, 120, 128, 140, 160, 180)
    ]
    material += [
        (
            f"accented clicks + noise {b}",
            b,
            click_track(b, 20.0, RATE, offset_s=o, accent_every=4, noise_dbfs=-35.0, seed=b)[0],
        )
        for b, o in ((72, 0.37), (110, 0.05), (128, 0.21), (172, 0.5))
    ]
    material += [
        (f"drums {b}", b, drum_pattern(b, 20.0, RATE, seed=b)[0])
        for b in (70, 85, 100, 120, 140, 160, 180)
    ]
    rows, passed = [], {"ours": 0, "librosa": 0}
    for label, bpm, y in material:
        got = {"ours": ours(y), "librosa": theirs(y)}
        marks = {}
        for name, value in got.items():
            good = abs(value / bpm - 1.0) <= SYNTH_TOLERANCE
            passed[name] += good
            marks[name] = "" if good else " ✗"
        rows.append(
            f"| {label} | {got['ours']:.1f}{marks['ours']} | {got['librosa']:.1f}{marks['librosa']} |"
        )
    return rows, passed, len(material)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=(*real_music.PARTS, "both", "all"), default="both")
    args = parser.parse_args()
    parts = {"both": ("tuning", "heldout"), "all": real_music.PARTS}.get(args.part, (args.part,))
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, librosa {librosa.__version__}"
    )
    started = time.perf_counter()
    for part in parts:
        rows, passed, cases = real_part(part)
        print(f"\n### {part}: {', '.join(real_music.packages(part))}\n")
        print("| piece | BPM at 1.0x, ours / librosa | 0.8x: ratio ours / librosa | 1.25x | 1.5x |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(rows))
        print(
            f"\n{part}: within 3 % of the speed: ours {passed['ours']}/{cases} "
            f"({passed['ours'] / cases:.0%}), librosa {passed['librosa']}/{cases} "
            f"({passed['librosa'] / cases:.0%}), librosa at a 10 ms hop "
            f"{passed['librosa_10ms']}/{cases} ({passed['librosa_10ms'] / cases:.0%})"
        )
    print("\n### Frets on Fire songs: tempo at 1.0x against the note chart's tempo\n")
    print("| piece | chart BPM | ours | librosa |\n| --- | --- | --- | --- |")
    print("\n".join(charted()))
    rows, passed, n = synthetic()
    print("\n### synthetic (known tempo, 1.0x)\n")
    print("| signal | ours BPM | librosa BPM |\n| --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nsynthetic within 2 %: ours {passed['ours']}/{n}, librosa {passed['librosa']}/{n}")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
