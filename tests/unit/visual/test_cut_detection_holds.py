"""A fade to black, a black hold longer than `max_flat_hold_s` (a shot of its own), and a
fade in from black: two gradual transitions, each spanning its own fade, at known frames
(issue 32: the long-hold branch of the fade test had no test reaching it)."""

import cv2
import numpy as np
import pytest

from dp_features.visual.cut_detection import CutDetector

pytestmark = pytest.mark.unit
FPS = 25.0


def _texture(seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    return cv2.resize(coarse, (160, 96), interpolation=cv2.INTER_CUBIC)


def test_a_long_black_hold_splits_into_a_fade_out_and_a_fade_in():
    a, b = _texture(1), _texture(2)
    ramp = np.arange(1, 11) / 11
    frames = [a] * 50  # A: frames 0..49
    frames += [(a * (1 - w)).astype(np.uint8) for w in ramp]  # fade out: 50..59
    frames += [np.zeros_like(a)] * 75  # black for 3 s: 60..134
    frames += [(b * w).astype(np.uint8) for w in ramp]  # fade in: 135..144
    frames += [b] * 50  # B: 145..194
    detector = CutDetector()
    detector.update(np.stack(frames), np.arange(len(frames)) / FPS)
    result = detector.finish(len(frames) / FPS)
    assert list(result.cut_kinds) == ["gradual", "gradual"]
    spans = np.asarray(result.transition_span_s) * FPS
    # fade out from the last frame of A to the first black frame; fade in from the last
    # black frame to the first frame of B (one frame either way)
    np.testing.assert_allclose(spans, [[49.5, 59.5], [134.5, 144.5]], atol=1.0)
    np.testing.assert_allclose(result.cut_times_s * FPS, spans.mean(axis=1), atol=0.5)


def test_a_long_black_hold_between_straight_cuts_is_two_hard_cuts():
    a, b = _texture(1), _texture(2)
    frames = [a] * 50 + [np.zeros_like(a)] * 75 + [b] * 50  # cuts at frames 50 and 125
    detector = CutDetector()
    detector.update(np.stack(frames), np.arange(len(frames)) / FPS)
    result = detector.finish(len(frames) / FPS)
    assert list(result.cut_kinds) == ["hard", "hard"]
    np.testing.assert_allclose(result.cut_times_s * FPS, [50, 125], atol=1e-6)
