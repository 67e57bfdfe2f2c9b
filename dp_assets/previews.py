"""The `preview` hooks of the component specs: read what a picture needs (result arrays, a
few frames of the segmenter's analysis stream) and draw it with `dp_features.previews`.

A hook runs in the component's step (the picture goes into the partition's metadata) and in
`dp report` (from storage); it reads at most a handful of frames, so it costs a small part of
its step.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from dp_assets.step_api import PreviewSource
from dp_core.artifact import verify_digest
from dp_features.previews import (
    CurveLane,
    HeatLane,
    SpanLane,
    annotated_frames,
    contact_sheet,
    frames_with_most_boxes,
    shots_shown,
    timeline,
)
from dp_resources.media.segmented_video import SegmentedVideo
from dp_resources.storage.frame_store import read_index

AUDIO_EVENT_ROWS = 5


def frames_near(video: SegmentedVideo, times_s: Sequence[float]) -> list[np.ndarray]:
    """The analysis frame nearest to each time (RGB uint8), decoding only those frames: a
    chunk's JPEGs are read but only the chosen ones decoded."""
    prefix = f"{video.prefix}/analysis"
    index = read_index(video.storage, prefix, video.digests.get("analysis/index.json"))
    wanted = np.asarray(times_s, np.float64).ravel()
    best: list[tuple[float, bytes]] = [(math.inf, b"")] * len(wanted)
    digests = index.get("chunk_sha256") or [None] * len(index["chunks"])
    for key, expected in zip(index["chunks"], digests, strict=True):
        data = verify_digest(video.storage.get_bytes(key), expected, key)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            times, offsets = npz["times_s"], npz["jpeg_offsets"]
            raw = npz["jpeg_bytes"].tobytes()
        if not len(times):
            continue
        for i, t in enumerate(wanted):
            j = int(np.argmin(np.abs(times - t)))
            if abs(times[j] - t) < best[i][0]:
                best[i] = (abs(times[j] - t), raw[offsets[j] : offsets[j + 1]])
    return [np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")) for _, jpeg in best if jpeg]


def shots_preview(source: PreviewSource) -> bytes:
    """cut_detection: a frame from the middle of each shot, cuts marked (contact sheet)."""
    arrays = source.arrays
    bounds = np.asarray(arrays["shot_bounds_s"], np.float64).reshape(-1, 2)
    shown = shots_shown(len(bounds))
    thumbnails = frames_near(source.frames, bounds[shown].mean(axis=1))
    return contact_sheet(
        thumbnails,
        shown,
        bounds,
        arrays["cut_times_s"],
        arrays["cut_kinds"],
        source.duration_s,
    )


def detections_preview(source: PreviewSource) -> bytes:
    """core_object_detections / core_face_landmarks: boxes drawn on the frames with most."""
    arrays = source.arrays
    times = np.asarray(arrays["frame_times_s"], np.float64)
    box_frame = np.asarray(arrays["box_frame"], np.int64)
    chosen = frames_with_most_boxes(box_frame, len(times))
    names = arrays.get("class_names")
    scores = np.asarray(arrays["scores"], np.float64)
    boxes, labels = [], []
    for frame in chosen:
        mine = np.flatnonzero(box_frame == frame)
        boxes.append(np.asarray(arrays["boxes"])[mine])
        kinds = [str(names[m]) if names is not None else "face" for m in mine]
        labels.append([f"{kind} {scores[m]:.2f}" for kind, m in zip(kinds, mine, strict=True)])
    frames = frames_near(source.frames, times[chosen])
    return annotated_frames(frames, times[chosen].tolist(), boxes, labels)


def loudness_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    title = (
        f"integrated {float(a['integrated_lufs']):.1f} LUFS · range "
        f"{float(a['loudness_range_lu']):.1f} LU · true peak {float(a['true_peak_dbtp']):.1f} dBTP"
    )
    curve = CurveLane("short-term (3 s)", a["short_term_times_s"], a["short_term_lufs"], "LUFS")
    return timeline(source.duration_s, [curve], title)


def motion_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    curve = CurveLane("motion energy", a["pair_times_s"], a["magnitude_mean_px_s"], "px/s")
    return timeline(source.duration_s, [curve], "mean optical-flow magnitude per frame pair")


def speech_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    lanes: list = [SpanLane("speech", a["speech_segments_s"])]
    if "speech_probability" in a:
        lanes.append(CurveLane("probability", a["probability_times_s"], a["speech_probability"]))
    title = f"speech {float(a['speech_ratio']) * 100:.0f} % of the audio"
    return timeline(source.duration_s, lanes, title)


def ocr_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    texts = [str(t) for t in np.asarray(a["lines_text"]).ravel()]
    lane = SpanLane("text lines", a["lines_span_s"], texts)
    title = f"{len(texts)} on-screen text line(s), first {lane.rows()} by time"
    return timeline(source.duration_s, [lane], title)


def audio_events_preview(source: PreviewSource) -> bytes:
    """The top labels' scores per window, one row each (columns found by mean score)."""
    a = source.arrays
    labels = [str(t) for t in np.asarray(a["top_labels"]).ravel()[:AUDIO_EVENT_ROWS]]
    columns = np.argsort(-np.asarray(a["class_scores"]), kind="stable")[: len(labels)]
    scores = np.asarray(a["window_scores"])[:, columns]
    lane = HeatLane("audio events", a["window_times_s"], scores, labels)
    return timeline(source.duration_s, [lane], "top audio events, score per 0.96 s window")
