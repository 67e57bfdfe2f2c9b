"""The combined detector's rules, with a stand-in for TransNetV2 that always says yes or
always says no: our hard cuts and fades stand on their own, a dissolve found by the blend
test needs the model's agreement, and the model only ever sees short windows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dp_features.visual.cut_fusion import CombinedCutDetector

pytestmark = pytest.mark.unit

FPS = 25.0


def _texture(seed: int) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 20, 3)).astype(np.uint8)
    return cv2.resize(coarse, (160, 96), interpolation=cv2.INTER_CUBIC)


def _clip() -> tuple[np.ndarray, np.ndarray, dict]:
    """A (2 s) | hard cut | B (2 s) | dissolve 20 frames | C (2 s) | fade 10+10 | D (2 s)."""
    a, b, c, d = (_texture(s) for s in (1, 2, 3, 4))
    frames = [a] * 50 + [b] * 50
    frames += [((1 - w) * b + w * c).astype(np.uint8) for w in np.arange(1, 21) / 21]
    frames += [c] * 40
    frames += [(c * (1 - w)).astype(np.uint8) for w in np.arange(1, 11) / 11]
    frames += [(d * w).astype(np.uint8) for w in np.arange(1, 11) / 11]
    frames += [d] * 50
    truth = {"hard": 50 / FPS, "dissolve": (100 / FPS, 119 / FPS), "fade": (160 / FPS, 179 / FPS)}
    return np.stack(frames), np.arange(len(frames)) / FPS, truth


def _run(answer: float):
    calls: list[tuple[int, ...]] = []

    def transnet(windows: np.ndarray):
        calls.append(windows.shape)
        shape = windows.shape[:2]
        return np.full(shape, answer, np.float32), np.full(shape, answer, np.float32)

    frames, times, truth = _clip()
    detector = CombinedCutDetector(transnet)
    for start in range(0, len(frames), 64):
        detector.update(frames[start : start + 64], times[start : start + 64])
    return detector.finish(len(frames) / FPS), calls, truth


def _kinds_at(result, truth) -> dict[str, str]:
    found = {}
    for name, when in truth.items():
        lo, hi = (when, when) if isinstance(when, float) else when
        inside = np.nonzero((result.cut_times_s >= lo - 0.08) & (result.cut_times_s <= hi + 0.08))
        found[name] = ",".join(result.cut_kinds[inside[0]])
    return found


def test_a_dissolve_is_kept_when_the_model_agrees():
    result, calls, truth = _run(0.9)
    assert _kinds_at(result, truth) == {"hard": "hard", "dissolve": "gradual", "fade": "gradual"}
    assert len(result.cut_times_s) == 3
    assert calls and all(shape[1] <= 125 for shape in calls)  # short windows, not the video


def test_our_cuts_and_fades_stand_when_the_model_disagrees_but_the_dissolve_does_not():
    result, _, truth = _run(0.0)
    assert _kinds_at(result, truth) == {"hard": "hard", "dissolve": "", "fade": "gradual"}
