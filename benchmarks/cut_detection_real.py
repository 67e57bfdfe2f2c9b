"""Cut detection on real footage we labelled (tests/accuracy/visual/real_cut_set.py): F1 of
ours, TransNetV2 alone, ours + TransNetV2 (combined), PySceneDetect's ContentDetector and
AdaptiveDetector on the same files, for the tuning part and the held-out part; and the
speed of the cut step (ours, combined) on the segmenter's dense stream (the labelled
clips, and the wheel's whole 212 s test video with the dense stream's JPEG round trip).

Matching: a hard cut is found within +-2 frames, a dissolve or fade anywhere in its span
+-2 frames, one-to-one; every other detection is a false positive. Run from the repository
root after `scripts/setup.sh` (samples, opencv-doc, `dp models prepare transnetv2`):

    .venv/bin/python benchmarks/cut_detection_real.py [--part tuning|held_out|both]
        [--set labelled|broad|both]

`--set fresh` is that set's fresh held-out part (broad_cut_set.FRESH: sources nobody had
looked at, measured once; every detector, PySceneDetect included, on the product's decoded
frames).

`--set broad` is the broad set of tests/accuracy/visual/broad_cut_set.py (23 packaged
sources, every transition kind and hazard; held-out sources disjoint from the tuning ones):
recall per transition kind and false cuts per hazard for every detector.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dp_cli.samples import fetch_samples
from dp_features.visual.cut_detection import detect_cuts
from dp_features.visual.cut_fusion import CombinedCutDetector
from dp_features.visual.transnet_windows import transnet_thumbnails
from dp_resources.models.families.transnetv2 import TransNetV2, load_transnetv2
from dp_resources.models.registry import model_folder
from tests.accuracy.visual import broad_cut_set as broad
from tests.accuracy.visual.broad_cut_set import (
    GRADUAL_KINDS,
    HARD_KINDS,
    HAZARD_KINDS,
    KindScore,
    score_by_kind,
)
from tests.accuracy.visual.real_cut_set import (
    HELD_OUT,
    TUNING,
    Clip,
    Score,
    Sources,
    load_clips,
    score_clip,
    source_paths,
)

REPO = Path(__file__).resolve().parents[1]
DETECTORS = ("ours", "transnetv2", "combined", "scenedetect_content", "scenedetect_adaptive")


def ours(clip: Clip, model: TransNetV2) -> np.ndarray:
    return detect_cuts(clip.frames, clip.times_s, clip.duration_s).cut_times_s


def combined(clip: Clip, model: TransNetV2) -> np.ndarray:
    detector = CombinedCutDetector(model)
    for start in range(0, len(clip.frames), 256):  # chunks, as the segmenter hands them over
        detector.update(clip.frames[start : start + 256], clip.times_s[start : start + 256])
    return detector.finish(clip.duration_s).cut_times_s


def transnetv2_alone(clip: Clip, model: TransNetV2, threshold: float = 0.5) -> np.ndarray:
    """The published use: every frame, windows of 100 / stride 50, single-frame
    probability > 0.5; one transition per run of frames above it (its middle frame)."""
    single, _ = model.frame_probabilities(transnet_thumbnails(clip.frames))
    above = np.r_[False, single > threshold, False].astype(np.int8)
    starts = np.nonzero(np.diff(above) == 1)[0]
    ends = np.nonzero(np.diff(above) == -1)[0] - 1
    middle = (starts + ends + 1) // 2
    return clip.times_s[middle]


def _scenedetect(clip: Clip, detector) -> np.ndarray:
    from scenedetect import detect

    scenes = detect(str(clip.path), detector)
    return np.array([start.seconds for start, _ in scenes[1:]], np.float64)


def scenedetect_content(clip: Clip, model: TransNetV2) -> np.ndarray:
    from scenedetect import ContentDetector

    return _scenedetect(clip, ContentDetector())


def scenedetect_adaptive(clip: Clip, model: TransNetV2) -> np.ndarray:
    from scenedetect import AdaptiveDetector

    return _scenedetect(clip, AdaptiveDetector())


def _scenedetect_on_frames(clip: Clip, detector) -> np.ndarray:
    """PySceneDetect's detector fed the product's decoded frames (as its SceneManager feeds
    them: BGR, each frame's timecode, then post_process at the last one), so that it sees
    the very pixels our detectors see (issue 32: comparisons on the product's path)."""
    from scenedetect import FrameTimecode

    fps = 1.0 / float(np.median(np.diff(clip.times_s)))
    cuts = []
    for index, frame in enumerate(clip.frames):
        bgr = np.ascontiguousarray(frame[..., ::-1])
        cuts += detector.process_frame(FrameTimecode(index, fps), bgr)
    cuts += detector.post_process(FrameTimecode(len(clip.frames) - 1, fps))
    frames = sorted({cut.frame_num for cut in cuts if 0 < cut.frame_num < len(clip.frames)})
    return clip.times_s[np.asarray(frames, np.int64)]


def scenedetect_content_on_frames(clip: Clip, model: TransNetV2) -> np.ndarray:
    from scenedetect import ContentDetector

    return _scenedetect_on_frames(clip, ContentDetector())


def scenedetect_adaptive_on_frames(clip: Clip, model: TransNetV2) -> np.ndarray:
    from scenedetect import AdaptiveDetector

    return _scenedetect_on_frames(clip, AdaptiveDetector())


RUNNERS: dict[str, Callable[[Clip, TransNetV2], np.ndarray]] = {
    "ours": ours,
    "transnetv2": transnetv2_alone,
    "combined": combined,
    "scenedetect_content": scenedetect_content,
    "scenedetect_adaptive": scenedetect_adaptive,
}


# The fresh held-out part (broad_cut_set.FRESH): every detector on the product's decoded
# frames, PySceneDetect included.
FRESH_RUNNERS: dict[str, Callable[[Clip, TransNetV2], np.ndarray]] = {
    **RUNNERS,
    "scenedetect_content": scenedetect_content_on_frames,
    "scenedetect_adaptive": scenedetect_adaptive_on_frames,
}


def evaluate(
    clips: list[Clip], model: TransNetV2, detectors=DETECTORS, verbose: bool = False
) -> dict[str, Score]:
    totals = {name: Score() for name in detectors}
    for clip in clips:
        for name in detectors:
            score = score_clip(clip, RUNNERS[name](clip, model))
            totals[name].add(score)
            if verbose:
                print(
                    f"  {clip.name:14s} {name:22s} tp {score.true_positives} "
                    f"fp {score.false_positives} fn {score.false_negatives} "
                    f"split {score.split_transitions} quiet {score.quiet_false_cuts}"
                )
    return totals


def table(title: str, totals: dict[str, Score]) -> str:
    lines = [
        f"{title}",
        "| detector | F1 | TP | FP | FN | split fades/dissolves | false cuts on flash/motion |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in totals.items():
        lines.append(
            f"| {name} | {s.f1:.3f} | {s.true_positives} | {s.false_positives} | "
            f"{s.false_negatives} | {s.split_transitions} | {s.quiet_false_cuts} |"
        )
    return "\n".join(lines)


def speed(clips: list[Clip], model: TransNetV2, repeats: int = 3) -> str:
    """Seconds of video per second of detection (combined and ours), best of `repeats`, on
    frames already decoded and in memory: the detector alone, not the decode (the
    segmenter decodes once for every component) nor the dense stream's JPEG round trip.

    Both wall-clock and CPU time (the process's, all threads): on a shared machine the
    wall clock measures the load; video seconds per CPU second is what one free core would
    give (ONNX's threads are summed, so it is a lower bound on a free 2-core machine).
    """
    video_s = sum(c.duration_s for c in clips)
    rows = []
    for name in ("combined", "ours"):
        best = best_cpu = np.inf
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            for clip in clips:
                RUNNERS[name](clip, model)
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        rows.append(
            f"{name}: {video_s / best:.1f}x real time wall, {video_s / best_cpu:.1f}x per CPU "
            f"second ({video_s:.1f} s of video)"
        )
    return "; ".join(rows)


def speed_on_the_trailer(model: TransNetV2) -> str:
    """The cut step on the whole wheel test video (212 s, 5301 frames at 25 fps) as the
    segmenter's dense stream, including its JPEG round trip (the segmenter stores dense
    frames as JPEG, quality 90, and the step decodes them again)."""
    import cv2

    from dp_features.visual.cut_detection import CutDetector
    from dp_resources.media.dense_frames import dense_frames

    frames, times, duration = dense_frames(model_folder("transnetv2") / "test_video.mp4")
    encoded = [
        cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1] for f in frames
    ]
    rows = []
    for name in ("ours", "combined"):
        started = time.perf_counter()
        decoded = np.stack([cv2.imdecode(j, cv2.IMREAD_COLOR)[..., ::-1] for j in encoded])
        detector = CombinedCutDetector(model) if name == "combined" else CutDetector()
        for start in range(0, len(decoded), 256):
            detector.update(decoded[start : start + 256], times[start : start + 256])
        cuts = len(detector.finish(duration).cut_times_s)
        seconds = time.perf_counter() - started
        windows = f", {detector.model_windows} model windows" if name == "combined" else ""
        rows.append(f"{name}: {duration / seconds:.1f}x real time ({cuts} cuts{windows})")
    return f"speed (trailer, {duration:.0f} s, {len(frames)} frames): " + "; ".join(rows)


def broad_tables(title: str, totals: dict[str, KindScore]) -> str:
    """F1, recall per transition kind and false cuts per hazard, one column per detector."""
    names = list(totals)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = [f"{title}", head]
    rows.append("| **F1** | " + " | ".join(f"{totals[n].score.f1:.3f}" for n in names) + " |")
    rows.append(
        "| TP / FP / FN | "
        + " | ".join(
            f"{t.score.true_positives} / {t.score.false_positives} / {t.score.false_negatives}"
            for t in totals.values()
        )
        + " |"
    )
    first = totals[names[0]]
    for kind in (*HARD_KINDS, *GRADUAL_KINDS):
        if kind in first.total:
            cells = [f"{totals[n].found.get(kind, 0)}/{first.total[kind]}" for n in names]
            rows.append(f"| recall {kind} | " + " | ".join(cells) + " |")
    for hazard in HAZARD_KINDS:
        if hazard in first.hazard_total:
            cells = [str(totals[n].hazard_false.get(hazard, 0)) for n in names]
            rows.append(
                f"| false cuts: {hazard} ({first.hazard_total[hazard]} spans) | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(rows)


def evaluate_broad(
    clips: list, model: TransNetV2, verbose: bool = False, runners: dict | None = None
) -> dict:
    runners = runners or RUNNERS
    totals = {name: KindScore() for name in DETECTORS}
    for clip in clips:
        for name in DETECTORS:
            score = score_by_kind(clip, runners[name](clip, model))
            totals[name].add(score)
            if verbose:
                s = score.score
                print(
                    f"  {clip.name:14s} {name:22s} tp {s.true_positives} fp {s.false_positives} "
                    f"fn {s.false_negatives} hazards {score.hazard_false}"
                )
    return totals


def run_broad(model: TransNetV2, samples: dict, chosen: dict, verbose: bool) -> None:
    paths = broad.source_paths(samples, model_folder("transnetv2"), REPO / "samples/cut_photos")
    sources = broad.Sources(paths)
    with tempfile.TemporaryDirectory() as tmp:
        for part, items in chosen.items():
            clips = broad.load_clips(items, sources, Path(tmp))
            frames = sum(len(c.frames) for c in clips)
            totals = evaluate_broad(clips, model, verbose)
            n_sources = len(broad.sources_of(items))
            title = f"broad set, {part}: {len(clips)} edits, {frames} frames, {n_sources} sources"
            print(broad_tables(title, totals))
            print(f"speed ({part}, frames already decoded, in memory): {speed(clips, model)}")


def run_fresh(model: TransNetV2, verbose: bool) -> None:
    """The fresh held-out part (sources no part or rule has seen), measured once: see
    broad_cut_set's docstring for its rule."""
    sources = broad.Sources(broad.fresh_source_paths(REPO / "samples/cut_photos/fresh"))
    with tempfile.TemporaryDirectory() as tmp:
        clips = broad.load_clips(broad.FRESH, sources, Path(tmp))
        frames = sum(len(c.frames) for c in clips)
        totals = evaluate_broad(clips, model, verbose, FRESH_RUNNERS)
        n_sources = len(broad.sources_of(broad.FRESH))
        title = f"fresh held-out: {len(clips)} edits, {frames} frames, {n_sources} sources"
        print(broad_tables(title, totals))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("tuning", "held_out", "both"), default="both")
    parser.add_argument("--set", choices=("labelled", "broad", "fresh", "both"), default="both")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    samples = {p.stem: p for p in fetch_samples(REPO / "samples")}
    model = load_transnetv2(intra_op_threads=2)
    if args.set == "fresh":
        run_fresh(model, args.verbose)
        return 0
    if args.set in ("broad", "both"):
        parts = {"tuning": broad.TUNING, "held_out": broad.HELD_OUT}
        chosen = parts if args.part == "both" else {args.part: parts[args.part]}
        run_broad(model, samples, chosen, args.verbose)
        if args.set == "broad":
            return 0
    sources = Sources(source_paths(samples, model_folder("transnetv2")))
    parts = {"tuning": TUNING, "held_out": HELD_OUT}
    chosen = parts if args.part == "both" else {args.part: parts[args.part]}
    with tempfile.TemporaryDirectory() as tmp:
        for part, items in chosen.items():
            clips = load_clips(items, sources, Path(tmp))
            totals = evaluate(clips, model, verbose=args.verbose)
            frames = sum(len(c.frames) for c in clips)
            print(table(f"{part}: {len(clips)} clips, {frames} frames", totals))
            print(f"speed ({part}): {speed(clips, model)}")
    print(speed_on_the_trailer(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
