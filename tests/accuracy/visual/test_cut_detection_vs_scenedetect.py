"""Our cut detector against PySceneDetect's AdaptiveDetector on the same encoded file.

A synthetic edit with hard cuts and dissolves is encoded to H.264 with PyAV. PySceneDetect
reads the file itself; ours gets the frames from the product's own decoder (the segmenter's
full decode, INTER_AREA-scaled to 160 px wide: video_io.decode_chunks). F1 against the known truth: a hard cut counts within
+-1 frame, a gradual transition anywhere in its span.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.visual.cut_detection import detect_cuts

from .synthetic_clips import (
    ClipSpec,
    ShotSpec,
    cfr_times,
    clip_duration,
    clip_truth,
    iter_clip_frames,
    match_cuts,
)
from .video_io import decode_chunks, encode_mp4

pytestmark = pytest.mark.accuracy

EDIT = ClipSpec(
    shots=(
        ShotSpec(2.5),
        ShotSpec(3.0, pan_px_s=(10.0, 0.0)),
        ShotSpec(3.0),
        ShotSpec(3.0, object_px_s=30.0),
        ShotSpec(3.0, ramp=(12.0, 13.5, 0.6)),
        ShotSpec(3.0),
        ShotSpec(3.0, pan_px_s=(0.0, -8.0)),
        ShotSpec(2.5),
    ),
    joins=(
        ("hard", 0.0),
        ("dissolve", 1.0),
        ("hard", 0.0),
        ("dissolve", 2.0),
        ("hard", 0.0),
        ("dissolve", 0.5),
        ("fade", 1.0),
    ),
    seed=21,
)


def test_f1_at_least_pyscenedetect(tmp_path):
    import scenedetect

    fps = 25.0
    times = cfr_times(clip_duration(EDIT), fps)
    path = encode_mp4(tmp_path / "edit.mp4", iter_clip_frames(EDIT, times, 320, 180), fps)
    truth = clip_truth(EDIT)

    frame_times: list[np.ndarray] = []

    def chunks():
        for frames, chunk_times in decode_chunks(path, width=160):
            assert frames.shape[2] == 160
            frame_times.append(chunk_times)
            yield frames, chunk_times

    ours = detect_cuts(chunks()).cut_times_s
    decoded_times = np.concatenate(frame_times)
    assert len(decoded_times) == len(times)

    scenes = scenedetect.detect(str(path), scenedetect.AdaptiveDetector())
    theirs = np.array([start.seconds for start, _ in scenes[1:]], np.float64)

    f1_ours = match_cuts(truth, ours, decoded_times).f1
    f1_theirs = match_cuts(truth, theirs, decoded_times).f1
    assert f1_ours >= f1_theirs, (f1_ours, f1_theirs)
    assert f1_ours >= 0.9, (ours, truth)
