"""Cut detection on real footage labelled by us, HELD-OUT part (never tuned on; the set and
its labels: real_cut_set.py): ours + TransNetV2 (the default `combined` detector) against
ours alone, TransNetV2 alone and PySceneDetect's Content and Adaptive detectors on the
same files (benchmarks/cut_detection_real.py runs both parts and times them)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.cut_detection_real import DETECTORS, RUNNERS, evaluate
from dp_features.visual.cut_fusion import CombinedCutDetector
from dp_resources.models.families.transnetv2 import load_transnetv2
from dp_resources.models.registry import model_folder
from tests.accuracy.visual.real_cut_set import (
    HELD_OUT,
    TOLERANCE_FRAMES,
    Sources,
    load_clips,
    source_paths,
)

pytestmark = pytest.mark.accuracy


@pytest.fixture(scope="module")
def model():
    return load_transnetv2(model_folder("transnetv2"))


@pytest.fixture(scope="module")
def held_out(sample_clips, tmp_path_factory):
    sources = Sources(source_paths(sample_clips, model_folder("transnetv2")))
    return load_clips(HELD_OUT, sources, tmp_path_factory.mktemp("real_cuts"))


@pytest.fixture(scope="module")
def scores(held_out, model):
    return evaluate(held_out, model, DETECTORS)


def test_combined_f1_is_at_least_095_and_above_every_other_detector(scores):
    combined = scores["combined"].f1
    others = {name: round(s.f1, 3) for name, s in scores.items() if name != "combined"}
    assert combined >= 0.95, (combined, others)
    assert all(combined > f1 for f1 in others.values()), (combined, others)


def test_no_false_cut_on_flashes_or_in_shot_motion(scores):
    assert scores["combined"].quiet_false_cuts == 0
    assert scores["combined"].false_positives == 0


def test_every_dissolve_and_fade_is_one_transition_with_its_span(held_out, model):
    checked = 0
    for clip in held_out:
        if not clip.truth.gradual:
            continue
        detector = CombinedCutDetector(model)
        detector.update(clip.frames, clip.times_s)
        result = detector.finish(clip.duration_s)
        t, dt = clip.times_s, float(np.median(np.diff(clip.times_s)))
        reach = TOLERANCE_FRAMES * dt + 1e-6
        for a, b in clip.truth.gradual:
            times = result.cut_times_s
            inside = np.nonzero((times >= t[a] - reach) & (times <= t[b] + reach))[0]
            assert len(inside) == 1, (clip.name, (a, b), result.cut_times_s)
            [i] = inside
            assert result.cut_kinds[i] == "gradual"
            start, end = result.transition_span_s[i]
            # The reported span is the transition's: it overlaps the labelled one by an
            # IoU of at least 0.5 (edges within a few frames; seen: <= 6 frames early).
            overlap = min(end, t[b]) - max(start, t[a])
            union = max(end, t[b]) - min(start, t[a])
            assert overlap / union >= 0.5, (clip.name, (t[a], t[b]), (start, end))
            checked += 1
    assert checked == 4  # two dissolves and two fades in the held-out edits


def test_the_benchmark_runs_the_same_detectors():
    assert set(RUNNERS) == set(DETECTORS)
