"""Unit tests of dp_features.visual.scene_classification: synthetic CLIP-like embeddings
built along known prompt directions, so the right label of every shot is known."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.scene_classification import (
    PROMPT_TEMPLATE,
    SCENE_LABELS,
    classify_shots,
    scene_prompts,
)

pytestmark = pytest.mark.unit

DIM = 64
LABELS = list(SCENE_LABELS)


def _prompt_directions(seed: int = 0) -> np.ndarray:
    """Orthonormal prompt embeddings [L, DIM], one per label."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(DIM, DIM)))
    return q[: len(LABELS)].astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _frames_along(direction: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` unit embeddings close to `direction` (small isotropic noise)."""
    return _unit(direction[None, :] + 0.05 * rng.normal(size=(count, DIM)))


def _round_trips(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_labels_and_prompts():
    assert 20 <= len(SCENE_LABELS) <= 30 and len(set(SCENE_LABELS)) == len(SCENE_LABELS)
    assert "beach" in SCENE_LABELS and "studio with a plain background" in SCENE_LABELS
    assert PROMPT_TEMPLATE == "a photo of a {}."
    assert scene_prompts(["beach", "gym"]) == ["a photo of a beach.", "a photo of a gym."]
    assert len(scene_prompts()) == len(SCENE_LABELS)


def test_each_shot_gets_the_label_its_frames_point_at():
    rng = np.random.default_rng(1)
    prompts = _prompt_directions()
    street, beach = prompts[LABELS.index("city street")], prompts[LABELS.index("beach")]
    kitchen, office = prompts[LABELS.index("kitchen")], prompts[LABELS.index("office")]
    # Shots: [0, 2) street, [2, 10) beach, [10, 12] mostly kitchen with some office.
    bounds = np.array([[0.0, 2.0], [2.0, 10.0], [10.0, 12.0]])
    times = np.arange(24) * 0.5
    frames = np.concatenate(
        [
            _frames_along(street, 4, rng),
            _frames_along(beach, 16, rng),
            _frames_along(_unit(0.8 * kitchen + 0.6 * office), 4, rng),
        ]
    )
    result = classify_shots(times, frames, bounds, prompts, LABELS)
    assert result.status == "ok"
    assert list(result.shot_labels) == ["city street", "beach", "kitchen"]
    assert list(result.shot_frame_counts) == [4, 16, 4]
    scores = result.shot_label_scores
    assert scores.shape == (3, len(LABELS)) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert scores[1, LABELS.index("beach")] > 0.99
    # Mixed shot: the runner-up is office, with exp(100 * (0.8 - 0.6)) odds against it.
    top2 = np.argsort(scores[2])[::-1][:2]
    assert [LABELS[i] for i in top2] == ["kitchen", "office"]
    # Video scores: duration-weighted (2 s, 8 s, 2 s) mean of the shot scores.
    expected = (2 * scores[0] + 8 * scores[1] + 2 * scores[2]) / 12
    np.testing.assert_allclose(result.video_label_scores, expected, atol=1e-5)
    assert result.video_top_label == "beach"


def test_temperature_sharpens_the_scores():
    rng = np.random.default_rng(2)
    prompts = _prompt_directions()
    frames = _frames_along(prompts[LABELS.index("forest")], 5, rng)
    times = np.arange(5.0)
    bounds = np.array([[0.0, 5.0]])
    sharp = classify_shots(times, frames, bounds, prompts, LABELS, temperature=100.0)
    soft = classify_shots(times, frames, bounds, prompts, LABELS, temperature=1.0)
    assert sharp.shot_labels[0] == soft.shot_labels[0] == "forest"
    forest = LABELS.index("forest")
    assert sharp.shot_label_scores[0, forest] > 0.99
    assert soft.shot_label_scores[0, forest] < 0.2  # cosine gaps of ~1 give odds of only e


def test_shot_without_a_frame_borrows_the_nearest_one():
    rng = np.random.default_rng(3)
    prompts = _prompt_directions()
    gym, crowd = prompts[LABELS.index("gym")], prompts[LABELS.index("crowd")]
    times = np.array([0.5, 1.5, 2.5, 3.5])
    frames = np.concatenate([_frames_along(gym, 2, rng), _frames_along(crowd, 2, rng)])
    # The middle shot [2.0, 2.2) holds no frame; the nearest one (2.5 s) shows a crowd.
    bounds = np.array([[0.0, 2.0], [2.0, 2.2], [2.2, 4.0]])
    result = classify_shots(times, frames, bounds, prompts, LABELS)
    assert list(result.shot_frame_counts) == [2, 0, 2]
    assert list(result.shot_labels) == ["gym", "crowd", "crowd"]


def test_without_shot_bounds_the_frames_are_one_shot():
    rng = np.random.default_rng(4)
    prompts = _prompt_directions()
    frames = _frames_along(prompts[LABELS.index("night sky")], 6, rng)
    times = np.arange(6.0) + 0.25
    for bounds in (None, np.zeros((0, 2))):
        result = classify_shots(times, frames, bounds, prompts, LABELS)
        np.testing.assert_allclose(result.shot_bounds_s, [[0.25, 5.25]])
        assert list(result.shot_labels) == ["night sky"]
        assert result.video_top_label == "night sky"


def test_no_frame_is_empty():
    prompts = _prompt_directions()
    result = classify_shots(
        np.zeros(0), np.zeros((0, DIM)), np.array([[0.0, 3.0]]), prompts, LABELS
    )
    assert result.status == "empty" and result.reason
    arrays = result.as_arrays()
    assert arrays["shot_labels"].shape == (0,)
    assert arrays["shot_label_scores"].shape == (0, len(LABELS))
    assert np.all(np.isnan(arrays["video_label_scores"]))
    assert arrays["video_top_label"] == ""


def test_arrays_are_plain_numpy():
    rng = np.random.default_rng(5)
    prompts = _prompt_directions()
    frames = _frames_along(prompts[0], 4, rng)
    result = classify_shots(np.arange(4.0), frames, np.array([[0.0, 4.0]]), prompts, LABELS)
    arrays = _round_trips(result.as_arrays())
    for name, array in arrays.items():
        assert array.dtype.kind in "fiuU", name
    assert arrays["label_names"].dtype.kind == "U" and list(arrays["label_names"]) == LABELS
    assert str(arrays["video_top_label"]) == LABELS[0]


def test_bad_inputs_are_reported():
    prompts = _prompt_directions()
    frames = _unit(np.ones((3, DIM)))
    times = np.arange(3.0)
    bounds = np.array([[0.0, 3.0]])
    with pytest.raises(DpError) as err:
        classify_shots(times, frames, bounds, prompts[:5], LABELS)
    assert err.value.code == ErrorCode.CONFIG_INVALID
    with pytest.raises(DpError) as err:
        classify_shots(times, frames[:, :32], bounds, prompts, LABELS)
    assert err.value.code == ErrorCode.CONFIG_INVALID
    broken = frames.copy()
    broken[1, 0] = np.nan
    with pytest.raises(DpError) as err:
        classify_shots(times, broken, bounds, prompts, LABELS)
    assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        classify_shots(times, frames, np.array([[0.0, 3.0], [2.0, 1.0]]), prompts, LABELS)
    assert err.value.code == ErrorCode.DEPENDENCY_ERROR
