"""Audio and text components: throughput of each, against baselines in the same run.

Run from the repository root:  python -m benchmarks.audio_text [--minutes 5]

Audio: seconds of audio processed per second of wall time for every audio component, on
the same synthetic programme (stereo 48 kHz for loudness, 16 kHz mono for the models);
loudness is compared with pyloudnorm (integrated + LRA) on the same signal. OCR: frames
per second read by RapidOCR on rendered 640x360 overlay frames, and the share of frames
skipped as near-duplicates on a clip whose text changes every 5 s (2 fps sampling).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyloudnorm

from benchmarks.loudness_vs_pyloudnorm import drum_loop, programme
from dp_features.audio.audio_events import audio_events
from dp_features.audio.loudness import measure_loudness
from dp_features.audio.speech_activity import speech_activity
from dp_features.audio.tempo import estimate_tempo
from dp_features.text.ocr import read_frames
from dp_resources.models.families.packaged import (
    load_silero_vad,
    load_yamnet,
    yamnet_class_names,
    yamnet_quantization,
)
from dp_resources.models.families.text import load_ocr_reader
from tests.fixtures.text_overlays import Overlay, render


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def audio(minutes: float) -> None:
    seconds = minutes * 60
    stereo = programme(seconds, 48000)
    mono16 = drum_loop(seconds, 16000)
    chunks = [
        (mono16[np.newaxis, i : i + 960000], i / 16000) for i in range(0, mono16.size, 960000)
    ]
    vad, yamnet = load_silero_vad(), load_yamnet()
    quantization, names = yamnet_quantization(), yamnet_class_names()
    estimate_tempo(mono16[: 16000 * 10], 16000)  # numba compiles once; not timed
    meter = pyloudnorm.Meter(48000)
    rows = {
        "loudness_extractor (ours: I, LRA, TP, curve)": timed(
            lambda: measure_loudness(stereo, 48000, "stereo")
        ),
        "  baseline pyloudnorm (I + LRA)": timed(
            lambda: (meter.integrated_loudness(stereo.T), meter.loudness_range(stereo.T))
        ),
        "tempo_extractor": timed(lambda: estimate_tempo(mono16, 16000)),
        "speech_activity (Silero VAD)": timed(lambda: speech_activity(chunks, vad)),
        "audio_events (YAMNet, batch 32)": timed(
            lambda: audio_events(chunks, yamnet, quantization, names, batch_size=32)
        ),
    }
    print(f"audio: {seconds:.0f} s of programme")
    for name, took in rows.items():
        print(f"  {name:<46} {seconds / took:8.0f} x real time  ({took:.2f} s)")
    ratio = (
        rows["  baseline pyloudnorm (I + LRA)"]
        / rows["loudness_extractor (ours: I, LRA, TP, curve)"]
    )
    print(f"  loudness speed-up over pyloudnorm: {ratio:.2f}x")


def ocr(seconds: float = 30.0) -> None:
    overlays = [
        Overlay(
            f"Scene number {i} of the show", 5.0 * i, 5.0 * (i + 1), (40, 60 + 20 * (i % 5)), 28
        )
        for i in range(int(seconds // 5))
    ]
    times = np.arange(0, seconds, 0.5)  # the analysis stream's 2 fps
    frames = render(overlays, times)
    reader = load_ocr_reader("rapidocr")
    read_frames(frames[:1], times[:1], reader)  # warm-up
    started = time.perf_counter()
    result = read_frames(frames, times, reader)
    took = time.perf_counter() - started
    print(f"ocr: {len(frames)} frames of 640x360, text changing every 5 s")
    print(f"  frames/s (incl. skipped)  {len(frames) / took:8.2f}")
    print(f"  frames/s actually read    {result.frame_read.sum() / took:8.2f}")
    print(f"  share skipped as repeats  {result.skipped_frames / len(frames):8.2%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    audio(args.minutes)
    ocr()
