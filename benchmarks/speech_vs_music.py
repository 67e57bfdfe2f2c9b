"""Speech activity on music: Silero VAD alone against Silero + the music gate (YAMNet's
music and speech evidence, `gate_music`), on the same audio.

* music only: every piece of the tuning packages (hyperrogue-music, asc-music) and of the
  held-out package (pushover-data), 20 s excerpts, plus Big Buck Bunny's audio (birds over
  an orchestra; decoded by the product's decoder);
* speech only: the pyannote sample (real two-speaker speech, RTTM truth);
* speech over music: espeak-ng sentences over every held-out piece at +6 and 0 dB.

Prints the speech ratio on music (goal <= 0.05) and the speech IoU (goal >= 0.95) per part.
Run from the repository root after scripts/test.sh's apt step and scripts/setup.sh:

    .venv/bin/python benchmarks/speech_vs_music.py [--levels 6,0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dp_features.audio.audio_events import WINDOW_S, audio_events
from dp_features.audio.speech_activity import gate_music, speech_activity
from dp_resources.media.decoder import DecodePlan, decode_once
from dp_resources.models.families import packaged
from tests.fixtures.pyannote_sample import fetch_pyannote_sample, parse_rttm, read_wav_mono
from tests.fixtures.speech_music import (
    FRAME_S,
    covered,
    iou,
    load_excerpt,
    music_files,
    speech_over_music,
)

REPO = Path(__file__).resolve().parents[1]


class Detector:
    def __init__(self) -> None:
        self.vad = packaged.load_silero_vad()
        self.yamnet = (
            packaged.load_yamnet(intra_op_threads=1),
            packaged.yamnet_quantization(),
            packaged.yamnet_class_names(),
        )

    def both(self, samples: np.ndarray):
        """(Silero alone, Silero + music gate) on float32 16 kHz mono samples."""
        alone = speech_activity([(samples[None], 0.0)], self.vad)
        events = audio_events([(samples[None], 0.0)], *self.yamnet)
        gated = gate_music(alone, events.window_times_s, events.window_scores, WINDOW_S)
        return alone, gated.activity


class _AudioSink:
    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def analysis_frame(self, *args) -> None:
        pass

    def dense_frame(self, *args) -> None:
        pass

    def audio_format(self, *args) -> None:
        pass

    def native_audio(self, *args) -> None:
        pass

    def model_audio(self, samples: np.ndarray, start_s: float) -> None:
        self.parts.append(np.asarray(samples, np.float32).reshape(-1))


def video_audio(path: Path) -> np.ndarray:
    """The segmenter's 16 kHz mono model track of a video file."""
    plan = DecodePlan(0.01, 160, 160, 1.0, 160, 16000, 7680 * 4320, 6 * 3600)
    sink = _AudioSink()
    decode_once(path, plan, sink)
    return np.concatenate(sink.parts)


def music_rows(detector: Detector, part: str) -> tuple:
    """Mean speech ratio over the part's pieces (alone, gated) and the worst pieces."""
    alone, gated, notes = [], [], []
    for path in music_files(part):
        excerpt = load_excerpt(path)
        a, g = detector.both(excerpt.samples)
        alone.append(a.speech_ratio)
        gated.append(g.speech_ratio)
        if a.speech_ratio > 0.05 or g.speech_ratio > 0.05:
            notes.append(f"{path.name}: {a.speech_ratio:.2f} -> {g.speech_ratio:.2f}")
    return float(np.mean(alone)), float(np.mean(gated)), notes, max(gated), len(alone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="6,0", help="speech over music levels (dB)")
    args = parser.parse_args()
    detector = Detector()
    print("| audio | pieces | Silero alone: speech ratio | + music gate | worst gated |")
    print("|---|---|---|---|---|")
    for part in ("tuning", "heldout"):
        alone, gated, notes, worst, n = music_rows(detector, part)
        print(f"| music only, {part} | {n} | {alone:.3f} | {gated:.3f} | {worst:.3f} |")
        for note in notes:
            print(f"  {note}")
    bbb = video_audio(REPO / "samples" / "bigbuckbunny.mp4")
    a, g = detector.both(bbb)
    print(f"| Big Buck Bunny (music, birds) | 1 | {a.speech_ratio:.3f} | {g.speech_ratio:.3f} | |")

    wav, rttm = fetch_pyannote_sample()
    samples, _ = read_wav_mono(wav)
    turns = parse_rttm(rttm)
    n = int(len(samples) / 16000 / FRAME_S)
    truth = covered(np.array([[t.start_s, t.end_s] for t in turns]), n)
    a, g = detector.both(samples)
    print("\n| speech | clips | Silero alone: IoU | + music gate: IoU |")
    print("|---|---|---|---|")
    a_iou = iou(covered(a.speech_segments_s, n), truth)
    g_iou = iou(covered(g.speech_segments_s, n), truth)
    print(f"| pyannote sample (real speech) | 1 | {a_iou:.3f} | {g_iou:.3f} |")
    for level in (float(x) for x in args.levels.split(",")):
        alone_iou, gated_iou = [], []
        for i, path in enumerate(music_files("heldout")):
            mix = speech_over_music(load_excerpt(path), level, seed=i)
            a, g = detector.both(mix.samples)
            m = len(mix.truth)
            alone_iou.append(iou(covered(a.speech_segments_s, m), mix.truth))
            gated_iou.append(iou(covered(g.speech_segments_s, m), mix.truth))
        print(
            f"| TTS over held-out music, {level:+.0f} dB | {len(alone_iou)} | "
            f"{np.mean(alone_iou):.3f} (min {min(alone_iou):.3f}) | "
            f"{np.mean(gated_iou):.3f} (min {min(gated_iou):.3f}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
