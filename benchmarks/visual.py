"""Visual components: frames per second of each, and of the whole visual set, on the frames
the segmenter delivers; cut detection against PySceneDetect on the same file.

Run from the repository root:  python -m benchmarks.visual [VIDEO ...]

Without arguments: the Big Buck Bunny sample and a synthetic 60 s 720p clip. For each
file the segmenter runs once (timed, it is the shared decode); then each component runs
on the stored streams as it does in the graph. PySceneDetect (AdaptiveDetector) reads the
file itself: the ratio compares its whole run with ours (segmenter + cut_detection).
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dp_assets.components import load_profile
from dp_cli.samples import fetch_samples
from dp_features.visual.cut_detection import CutDetector
from dp_features.visual.optical_flow import FlowStats, OpticalFlowStream
from dp_features.visual.pacing import video_pacing
from dp_features.visual.shot_quality import frame_quality, shot_quality
from dp_resources.media.segmentation import segment_video
from dp_resources.media.segmented_video import SegmentedVideo
from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.faces import load_face_landmarker
from dp_resources.models.families.midas import load_midas
from dp_resources.models.families.nanodet import load_object_detector
from dp_resources.storage.backends import LocalStorage
from dp_tools.stand_ins.clip import build_clip_stand_in
from dp_tools.stand_ins.midas import build_midas_stand_in
from tests.fixtures.media import ClipSpec, make_clip

REPO = Path(__file__).resolve().parents[1]


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def components(video: SegmentedVideo) -> dict[str, tuple[int, float]]:
    """{component: (frames it read, seconds)}, each reading the stored streams."""
    meta = video.metadata
    dense = list(video.dense_chunks())  # decoded once here; each component below reuses it
    n_dense = sum(len(c.frames) for c in dense)

    def cuts():
        detector = CutDetector()
        for chunk in dense:
            detector.update(chunk.frames, chunk.times_s)
        return detector.finish(meta["duration_s"])

    def flow():
        stream = OpticalFlowStream(scale=meta["width"] / meta["dense_width"])
        return FlowStats.concat([stream.update(c.frames, c.times_s) for c in dense])

    cut_result, cut_s = timed(cuts)
    flow_result, flow_s = timed(flow)
    analysis = list(video.analysis_chunks())
    frames = np.concatenate([c.frames for c in analysis])
    times = np.concatenate([c.times_s for c in analysis])
    _, quality_s = timed(
        lambda: shot_quality(times, frame_quality(frames), cut_result.shot_bounds_s)
    )
    _, pacing_s = timed(
        lambda: video_pacing(
            cut_result.cut_times_s,
            cut_result.shot_bounds_s,
            meta["duration_s"],
            flow_result.pair_times_s,
            flow_result.magnitude_mean_px_s,
        )
    )
    return {
        "cut_detection": (n_dense, cut_s),
        "core_optical_flow": (n_dense, flow_s),
        "shot_quality": (len(frames), quality_s),
        "video_pacing": (n_dense, pacing_s),
        **model_components(frames),
    }


def model_components(frames: np.ndarray) -> dict[str, tuple[int, float]]:
    """The model components on the analysis frames (all of them: the profiles sample
    fewer), models loaded before timing. CLIP and MiDaS are stand-ins (random weights, toy
    size): their rows time the code path, not the production models."""
    with tempfile.TemporaryDirectory() as tmp:
        faces = load_face_landmarker()
        objects = load_object_detector(batch_size=8)
        clip = load_clip(build_clip_stand_in(Path(tmp) / "clip"), batch_size=32)
        depth = load_midas(build_midas_stand_in(Path(tmp) / "midas"), batch_size=8)
        rows = {
            "core_face_landmarks": timed(lambda: faces.detect(frames))[1],
            "core_object_detections": timed(lambda: objects.detect(frames))[1],
            "core_clip (stand-in)": timed(lambda: clip.embed_frames(frames))[1],
            "core_depth (stand-in)": timed(lambda: depth.depth(frames))[1],
        }
        faces.close()
    return {name: (len(frames), seconds) for name, seconds in rows.items()}


def scenedetect_seconds(path: Path) -> float:
    from scenedetect import AdaptiveDetector, detect

    _, took = timed(lambda: detect(str(path), AdaptiveDetector()))
    return took


def main(paths: list[Path]) -> None:
    profile = load_profile("cpu_baseline")
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            storage = LocalStorage(tmp)
            _, segment_s = timed(
                functools.partial(segment_video, path, storage, "frames_dir/b/v/r", profile)
            )
            video = SegmentedVideo(storage, "frames_dir/b/v/r")
            rows = components(video)
        decoded = video.metadata["decoded_frames"]
        print(f"{path.name}: {decoded} frames decoded, segmenter {decoded / segment_s:.0f} fps")
        for name, (frames, seconds) in rows.items():
            print(f"  {name:<20} {frames:>6} frames  {frames / seconds:>9.0f} frames/s")
        visual_s = sum(s for _, s in rows.values())
        print(
            f"  {'whole visual set':<20} {decoded:>6} frames  {decoded / visual_s:>9.0f} frames/s (of video)"
        )
        theirs = scenedetect_seconds(path)
        ours = segment_s + rows["cut_detection"][1]
        print(
            f"  PySceneDetect {theirs:.2f} s, our segmenter + cut_detection {ours:.2f} s: "
            f"time ratio theirs/ours {theirs / ours:.2f} (the segmenter also feeds every "
            f"other component; cut_detection alone {rows['cut_detection'][1]:.3f} s)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        files = [Path(p) for p in sys.argv[1:]]
    else:
        sample = {p.stem: p for p in fetch_samples(REPO / "samples")}["bigbuckbunny"]
        synthetic = Path(tempfile.gettempdir()) / "dp_bench_60s_720p.mp4"
        if not synthetic.exists():
            make_clip(
                synthetic, ClipSpec(duration_s=60, fps=30, width=1280, height=720, texture=True)
            )
        files = [sample, synthetic]
    main(files)
