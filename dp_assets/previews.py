"""What the `preview` hooks of several components share; each hook sits in its component's
module (dp_assets/components/<name>.py), reads what its picture needs (result arrays, a few
frames of the segmenter's analysis stream) and draws it with `dp_features.previews`.

Here: the analysis frames nearest given times (also read by `dp report`), and the boxes of
`core_object_detections` and `core_face_landmarks` drawn on their frames (one hook, two specs).

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
from dp_features.previews import annotated_frames, frames_with_most_boxes
from dp_resources.media.segmented_video import SegmentedVideo
from dp_resources.storage.frame_store import read_index


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
