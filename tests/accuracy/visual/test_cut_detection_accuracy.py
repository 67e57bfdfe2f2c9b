"""Cut detection against synthetic video with known truth.

Every hard cut must be found within +-1 frame of the first frame of the new shot and
labelled hard; every gradual transition (dissolve, fade through black) must be reported
inside its span and labelled gradual; nothing else may be reported: not the static shot,
the pans, the brightness ramps, the flashes or the moving objects. Parametrised over frame
rates, including a variable frame rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.visual.cut_detection import CutDetection, CutDetector, detect_cuts
from dp_features.visual.pacing import video_pacing

from .synthetic_clips import (
    ClipSpec,
    ShotSpec,
    SyntheticClip,
    cfr_times,
    clip_duration,
    match_cuts,
    random_clip_spec,
    render_clip,
    vfr_times,
)

pytestmark = pytest.mark.accuracy

# An edit with every kind of transition, separated by shots that must not be cut:
# static, slow pans (horizontal, vertical, faster), brightness ramps down and up, flashes
# of 2 and 3 frames and a moving object.
EDIT = ClipSpec(
    shots=(
        ShotSpec(3.0),
        ShotSpec(4.0, pan_px_s=(12.0, 0.0), flashes=((5.0, 2),)),
        ShotSpec(4.0, ramp=(7.8, 9.6, 0.55)),
        ShotSpec(3.0, pan_px_s=(0.0, 8.0), object_px_s=30.0),
        ShotSpec(2.5),
        ShotSpec(3.0, pan_px_s=(-20.0, 0.0)),
        ShotSpec(3.0),
        ShotSpec(2.5, flashes=((23.3, 3),)),
        ShotSpec(3.0, ramp=(25.2, 26.8, 1.3)),
        ShotSpec(2.0),
    ),
    joins=(
        ("hard", 0.0),
        ("dissolve", 1.0),
        ("fade", 1.2),
        ("hard", 0.0),
        ("dissolve", 2.0),
        ("dissolve", 0.5),
        ("hard", 0.0),
        ("fade", 0.6),
        ("hard", 0.0),
    ),
    seed=3,
)

RATES = ["12", "24", "25", "30", "vfr"]


def _times(rate: str, duration: float) -> np.ndarray:
    if rate == "vfr":
        return vfr_times(duration, 25.0, seed=7)
    return cfr_times(duration, float(rate))


def _assert_exact(clip: SyntheticClip, result: CutDetection) -> None:
    match = match_cuts(clip.transitions, result.cut_times_s, clip.times_s)
    found = {id(truth): t for truth, t in match.matched}
    for truth in clip.transitions:
        assert id(truth) in found, f"missed {truth}"
        i = int(np.argmin(np.abs(result.cut_times_s - found[id(truth)])))
        assert result.cut_kinds[i] == truth.kind, f"{truth} reported as {result.cut_kinds[i]}"
        if truth.kind == "hard":
            first_new = int(np.searchsorted(clip.times_s, truth.start_s - 1e-9))
            k = int(np.argmin(np.abs(clip.times_s - result.cut_times_s[i])))
            assert abs(k - first_new) <= 1
        else:
            dt = float(np.max(np.diff(clip.times_s)))
            assert truth.start_s - dt <= result.cut_times_s[i] <= truth.end_s + dt
    assert match.false_positives == 0, (
        f"false cuts at {sorted(set(result.cut_times_s.tolist()) - set(found.values()))}"
    )


@pytest.fixture(scope="module", params=RATES)
def edit_clip(request) -> SyntheticClip:
    return render_clip(EDIT, _times(request.param, clip_duration(EDIT)))


def test_every_transition_found_and_nothing_else(edit_clip):
    result = detect_cuts(edit_clip.frames, edit_clip.times_s, edit_clip.duration_s)
    _assert_exact(edit_clip, result)


def test_streaming_chunks_give_the_same_result(edit_clip):
    whole = detect_cuts(edit_clip.frames, edit_clip.times_s, edit_clip.duration_s)
    detector = CutDetector()
    for i in range(0, len(edit_clip.times_s), 97):
        detector.update(edit_clip.frames[i : i + 97], edit_clip.times_s[i : i + 97])
    streamed = detector.finish(edit_clip.duration_s)
    assert np.allclose(streamed.cut_times_s, whole.cut_times_s)
    assert streamed.cut_kinds.tolist() == whole.cut_kinds.tolist()
    assert np.allclose(streamed.transition_span_s, whole.transition_span_s)


def test_gradual_spans_cover_the_transitions(edit_clip):
    result = detect_cuts(edit_clip.frames, edit_clip.times_s, edit_clip.duration_s)
    dt = float(np.max(np.diff(edit_clip.times_s)))
    for truth in (t for t in edit_clip.transitions if t.kind == "gradual"):
        i = int(np.argmin(np.abs(result.cut_times_s - truth.center_s)))
        start, end = result.transition_span_s[i]
        # The reported span overlaps the true one and is of the same order of length.
        assert start < truth.end_s and end > truth.start_s
        assert 0.3 * (truth.end_s - truth.start_s) <= end - start
        assert end - start <= 2.0 * (truth.end_s - truth.start_s) + 2 * dt


def test_pacing_from_detected_cuts_matches_the_truth(edit_clip):
    result = detect_cuts(edit_clip.frames, edit_clip.times_s, edit_clip.duration_s)
    pacing = video_pacing(result.cut_times_s, result.shot_bounds_s, edit_clip.duration_s, [], [])
    n_truth = len(edit_clip.transitions)
    assert pacing.cuts_per_minute == pytest.approx(n_truth / (edit_clip.duration_s / 60))
    truth_lengths = np.diff([0.0, *[t.center_s for t in edit_clip.transitions], 30.0])
    assert pacing.shot_length_median_s == pytest.approx(np.median(truth_lengths), abs=0.1)


NEGATIVES = {
    "static": ShotSpec(8.0),
    "slow_pan": ShotSpec(8.0, pan_px_s=(10.0, 4.0)),
    "pan_20px_s": ShotSpec(8.0, pan_px_s=(-20.0, 0.0)),
    "darkening_ramp": ShotSpec(8.0, ramp=(1.0, 6.0, 0.45)),
    "brightening_ramp": ShotSpec(8.0, ramp=(1.0, 6.0, 1.5)),
    "flashes": ShotSpec(8.0, flashes=((2.0, 1),)),
    "flash_3_frames_on_pan": ShotSpec(8.0, pan_px_s=(8.0, 0.0), flashes=((4.0, 3),)),
    "moving_object": ShotSpec(8.0, object_px_s=40.0),
    "pan_ramp_object": ShotSpec(8.0, pan_px_s=(6.0, -6.0), ramp=(2.0, 6.0, 0.6), object_px_s=25.0),
}


@pytest.mark.parametrize("rate", ["12", "25", "vfr"])
@pytest.mark.parametrize("name", list(NEGATIVES))
def test_no_cut_in_a_single_shot(name, rate):
    spec = ClipSpec(shots=(NEGATIVES[name],), joins=(), seed=11)
    clip = render_clip(spec, _times(rate, 8.0))
    result = detect_cuts(clip.frames, clip.times_s, clip.duration_s)
    assert len(result.cut_times_s) == 0, f"false cuts at {result.cut_times_s}"
    assert result.shot_bounds_s.tolist() == [[0.0, 8.0]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_edits(seed):
    spec = random_clip_spec(seed)
    clip = render_clip(spec, cfr_times(clip_duration(spec), 25.0))
    result = detect_cuts(clip.frames, clip.times_s, clip.duration_s)
    match = match_cuts(clip.transitions, result.cut_times_s, clip.times_s)
    assert match.f1 >= 0.95, match


def _two_shots(rate: str) -> SyntheticClip:
    spec = ClipSpec(
        shots=(ShotSpec(4.0), ShotSpec(4.0, pan_px_s=(8.0, 0.0))), joins=(("hard", 0.0),), seed=2
    )
    return render_clip(spec, _times(rate, 8.0))


def _with_gain(clip: SyntheticClip, gain: np.ndarray) -> np.ndarray:
    return np.clip(clip.frames * gain[:, None, None, None], 0, 255).astype(np.uint8)


@pytest.mark.parametrize("rate", ["12", "25", "vfr"])
def test_fade_in_at_the_start_and_out_at_the_end_are_not_cuts(rate):
    clip = _two_shots(rate)
    t = clip.times_s
    gain = np.clip(t / 1.0, 0, 1) * np.clip((8.0 - t) / 1.5, 0, 1)
    result = detect_cuts(_with_gain(clip, gain), t, 8.0)
    assert result.cut_kinds.tolist() == ["hard"]
    assert abs(int(np.searchsorted(t, result.cut_times_s[0])) - np.searchsorted(t, 4.0)) <= 1


@pytest.mark.parametrize("rate", ["12", "25", "vfr"])
def test_a_long_black_hold_is_a_shot_of_its_own(rate):
    clip = _two_shots(rate)
    t = clip.times_s
    # Shot A, a cut to black at 2.5 s, 2 s of black (the cut from A to B at 4.0 s happens
    # inside it), a cut from black to B at 4.5 s: the black is a shot of its own.
    gain = np.where((t >= 2.5) & (t < 4.5), 0.0, 1.0)
    result = detect_cuts(_with_gain(clip, gain), t, 8.0)
    assert result.cut_kinds.tolist() == ["hard", "hard"]
    for got, want in zip(result.cut_times_s, (2.5, 4.5), strict=True):
        assert abs(int(np.searchsorted(t, got - 1e-9)) - int(np.searchsorted(t, want - 1e-9))) <= 1
