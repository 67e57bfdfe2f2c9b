"""The combined detector's rules frame by frame (dp_features/visual/cut_fusion.py), with a
stand-in for TransNetV2 that answers a probability chosen here for each frame of the video:
every frame carries its index in a small corner patch, which the stand-in reads back from
the thumbnails it is given. A weak cut candidate is a cut only when the model peaks at
>= 0.5 within 2 frames of it; a dissolve only when the model reaches 0.3 inside its span;
strict cuts stand alone; the result does not depend on how the frames are chunked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.cut_fusion import CombinedCutDetector, FusionConfig

pytestmark = pytest.mark.unit
FPS = 25.0
WEAK_CUT = 40  # a cut between a picture and a 36 % blend of another: a weak candidate
STRICT_CUT = 100  # a cut to a different picture: strict, kept without the model
DISSOLVE = (140, 159)  # a 20-frame dissolve (frames of its span)
N = 200


def _texture(seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    return cv2.resize(coarse, (160, 96), interpolation=cv2.INTER_CUBIC)


def _frames() -> np.ndarray:
    a, b, c = _texture(1), _texture(2), _texture(3)
    weak = (0.64 * a + 0.36 * b).astype(np.uint8)
    frames = [a] * WEAK_CUT + [weak] * (STRICT_CUT - WEAK_CUT)
    frames += [b] * (DISSOLVE[0] - STRICT_CUT)
    frames += [((1 - w) * b + w * c).astype(np.uint8) for w in np.arange(1, 21) / 21]
    frames += [c] * (N - DISSOLVE[1] - 1)
    video = np.stack(frames)
    for i in range(N):  # the frame's index, for the stand-in: thumbnail pixel (0, 0)
        video[i, :16, :16] = (i % 256, i // 256, 0)
    return video


FRAMES = _frames()


class StandIn:
    """TransNetV2's interface: windows [W, L, 27, 48, 3] -> (single, many) [W, L]."""

    def __init__(self, single: dict[int, float], many: dict[int, float] | None = None):
        self.single, self.many = single, many or {}
        self.windows = 0

    def __call__(self, windows: np.ndarray):
        self.windows += len(windows)
        index = windows[:, :, 0, 0, 0].astype(int) + 256 * windows[:, :, 0, 0, 1].astype(int)
        single = np.vectorize(lambda i: self.single.get(i, 0.0))(index).astype(np.float32)
        many = np.vectorize(lambda i: self.many.get(i, 0.0))(index).astype(np.float32)
        return single, many


def detect(model: StandIn, chunk: int = 64, config: FusionConfig | None = None):
    detector = CombinedCutDetector(model, config)
    times = np.arange(N) / FPS
    for start in range(0, N, chunk):
        detector.update(FRAMES[start : start + chunk], times[start : start + chunk])
    result = detector.finish(N / FPS)
    return [
        (kind, round(float(t) * FPS))
        for kind, t in zip(result.cut_kinds, result.cut_times_s, strict=True)
    ], detector


def test_the_stand_in_reads_each_frames_index():
    model = StandIn({7: 0.25})
    single, _ = model(np.stack([np.stack([FRAMES[i, :27, :48] for i in (6, 7, 8)])]))
    np.testing.assert_array_equal(single, [[0.0, 0.25, 0.0]])


def test_without_the_model_only_the_strict_cut_stands():
    found, _ = detect(StandIn({}))
    assert found == [("hard", STRICT_CUT)]


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 2])
def test_a_weak_cut_is_kept_when_the_model_peaks_within_two_frames(offset):
    found, _ = detect(StandIn({WEAK_CUT + offset: 0.5}))
    assert found == [("hard", WEAK_CUT), ("hard", STRICT_CUT)]


@pytest.mark.parametrize("offset", [-3, 3])
def test_a_model_peak_three_frames_away_does_not_confirm_a_weak_cut(offset):
    found, _ = detect(StandIn({WEAK_CUT + offset: 1.0}))
    assert found == [("hard", STRICT_CUT)]


def test_a_weak_cut_needs_the_single_frame_output_at_half():
    assert detect(StandIn({WEAK_CUT: 0.49}))[0] == [("hard", STRICT_CUT)]
    # the many-frame output does not confirm a hard cut
    assert detect(StandIn({}, many={WEAK_CUT: 1.0}))[0] == [("hard", STRICT_CUT)]


@pytest.mark.parametrize("frame", [DISSOLVE[0], DISSOLVE[1]])
def test_a_dissolve_is_kept_when_either_output_reaches_0_3_inside_its_span(frame):
    found, _ = detect(StandIn({frame: 0.3}))
    assert [kind for kind, _ in found] == ["hard", "gradual"]
    found, _ = detect(StandIn({}, many={frame: 0.3}))
    assert [kind for kind, _ in found] == ["hard", "gradual"]


@pytest.mark.parametrize("frame", [DISSOLVE[0] - 3, DISSOLVE[1] + 3])
def test_the_model_outside_a_dissolves_span_does_not_confirm_it(frame):
    found, _ = detect(StandIn({frame: 1.0}, many={frame: 1.0}))
    assert found == [("hard", STRICT_CUT)]


@pytest.mark.parametrize("chunk", [1, 7, 33, N])
def test_the_result_and_the_model_calls_do_not_depend_on_chunking(chunk):
    answers = {WEAK_CUT: 0.9, DISSOLVE[0] + 5: 0.9}
    reference, _ = detect(StandIn(answers), chunk=64)
    assert [kind for kind, _ in reference] == ["hard", "hard", "gradual"]
    model = StandIn(answers)
    found, detector = detect(model, chunk=chunk)
    assert found == reference
    assert detector.model_windows == model.windows == 2  # the weak cut, the dissolve


def test_candidates_whose_frames_left_the_buffer_keep_our_verdict():
    """With 0.2 s of thumbnails kept and frames fed one by one, the weak cut's frames are
    gone when our detector reports it (it looks 2 s ahead): our verdict stands."""
    model = StandIn({})
    found, detector = detect(model, chunk=1, config=FusionConfig(keep_s=0.2))
    assert found[0] == ("hard", WEAK_CUT)
    assert detector.model_windows == model.windows


def test_a_chunk_with_a_wrong_timestamp_count_is_named_as_cut_detections():
    detector = CombinedCutDetector(StandIn({}))
    with pytest.raises(DpError) as refused:
        detector.update(FRAMES[:3], np.arange(2) / FPS)
    assert refused.value.code is ErrorCode.INPUT_CORRUPT
    assert refused.value.message == "cut detection: 3 frames but 2 timestamps"


def test_a_weak_cut_judged_with_a_strict_one_at_the_end_reads_the_last_frame():
    """Both cuts of this short clip are reported together at `finish` (the detector looks
    ahead 2 s): the strict one does not stop the weak one from being judged, and the weak
    one, 2 frames before the end, is confirmed by the model's peak on the last frame."""
    a, b, c = _texture(1), _texture(2), _texture(3)
    frames = np.stack([a] * 30 + [b] * 25 + [(0.64 * b + 0.36 * c).astype(np.uint8)] * 3)
    for i in range(len(frames)):
        frames[i, :16, :16] = (i, 0, 0)
    detector = CombinedCutDetector(StandIn({len(frames) - 1: 0.9}))
    detector.update(frames, np.arange(len(frames)) / FPS)
    result = detector.finish(len(frames) / FPS)
    assert list(result.cut_kinds) == ["hard", "hard"]
    np.testing.assert_allclose(result.cut_times_s * FPS, [30, 55], atol=1e-6)
