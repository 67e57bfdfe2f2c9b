"""Zero-shot scene labels per shot from CLIP image embeddings and CLIP text prompts.

Inputs: `core_clip`'s `frame_times_s` [N] (seconds) and `embeddings` [N, D] (L2-normalised),
`cut_detection`'s `shot_bounds_s` [S, 2] (seconds), and the text embeddings [L, D] of
`scene_prompts(labels)` from the same CLIP model (L2-normalised).

How: each shot is represented by the mean of its frames' embeddings, re-normalised (a shot
with no sampled frame borrows the frame nearest to it); its label scores are
softmax(temperature * cosine) over the labels, as in CLIP's zero-shot classifier (CLIP's
learned logit scale is 100). The video's scores are the shots' scores weighted by shot
duration, so a long shot counts more than a flash of a few frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.shot_embeddings import (
    checked_frame_embeddings,
    checked_shot_bounds,
    shot_centroids,
    unit_rows,
)

# Places-style scene categories that are common in social video.
SCENE_LABELS: tuple[str, ...] = (
    "city street",
    "beach",
    "forest",
    "park",
    "mountains",
    "desert",
    "lake or river",
    "underwater scene",
    "night sky",
    "kitchen",
    "living room",
    "bedroom",
    "bathroom",
    "office",
    "classroom",
    "restaurant",
    "shop",
    "gym",
    "swimming pool",
    "sports field",
    "stage or concert",
    "crowd",
    "car interior",
    "airplane or airport",
    "studio with a plain background",
    "video game screen",
    "text slide or screenshot",
)
PROMPT_TEMPLATE = "a photo of a {}."


def scene_prompts(labels: Sequence[str] = SCENE_LABELS) -> list[str]:
    """The CLIP text prompts for `labels`, in the same order."""
    return [PROMPT_TEMPLATE.format(label) for label in labels]


@dataclass(frozen=True)
class SceneClassification:
    """Scene labels of one video.

    `shot_bounds_s` float64 [S, 2] seconds; `shot_labels` unicode [S] (the best label per
    shot); `shot_label_scores` float32 [S, L] (softmax over labels, rows sum to 1);
    `shot_frame_counts` int64 [S] (sampled frames in each shot; 0: the shot borrowed the
    nearest frame); `label_names` unicode [L]; `video_label_scores` float32 [L]
    (duration-weighted mean of the shot scores; NaN when empty); `video_top_label` unicode
    scalar ("" when empty). `status` is "empty" (with `reason`) when there is no frame.
    """

    shot_bounds_s: np.ndarray
    shot_labels: np.ndarray
    shot_label_scores: np.ndarray
    shot_frame_counts: np.ndarray
    label_names: np.ndarray
    video_label_scores: np.ndarray
    video_top_label: str
    status: Literal["ok", "empty"]
    reason: str = ""

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: `shot_labels`, `video_top_label`)."""
        return {
            "shot_labels": self.shot_labels,
            "shot_label_scores": self.shot_label_scores,
            "shot_bounds_s": self.shot_bounds_s,
            "shot_frame_counts": self.shot_frame_counts,
            "label_names": self.label_names,
            "video_label_scores": self.video_label_scores,
            "video_top_label": np.asarray(self.video_top_label, dtype=np.str_),
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def classify_shots(
    frame_times_s: np.ndarray,
    frame_embeddings: np.ndarray,
    shot_bounds_s: np.ndarray | None,
    prompt_embeddings: np.ndarray,
    labels: Sequence[str],
    temperature: float = 100.0,
) -> SceneClassification:
    """Zero-shot scene label of every shot (see the module docstring).

    `prompt_embeddings` [L, D] must be the text embeddings of `scene_prompts(labels)`.
    Without shot bounds (None or empty) the sampled frames form one shot spanning the first
    to the last frame time.
    """
    label_names = np.asarray(list(labels), dtype=np.str_)
    prompts = np.asarray(prompt_embeddings, np.float64)
    if prompts.ndim != 2 or prompts.shape[0] != len(label_names) or len(label_names) == 0:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"need one prompt embedding per label: {len(label_names)} labels, prompt "
            f"embeddings of shape {prompts.shape}",
        )
    if not np.all(np.isfinite(prompts)):
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, "CLIP prompt embeddings contain NaN or inf")
    if not temperature > 0:
        raise DpError(ErrorCode.CONFIG_INVALID, f"temperature must be > 0, got {temperature}")
    times, frames = checked_frame_embeddings(frame_times_s, frame_embeddings)
    n_labels = len(label_names)
    if len(times) == 0:
        return SceneClassification(
            shot_bounds_s=np.zeros((0, 2), np.float64),
            shot_labels=np.zeros(0, dtype=label_names.dtype),
            shot_label_scores=np.zeros((0, n_labels), np.float32),
            shot_frame_counts=np.zeros(0, np.int64),
            label_names=label_names,
            video_label_scores=np.full(n_labels, np.nan, np.float32),
            video_top_label="",
            status="empty",
            reason="no CLIP frame embeddings (no frame was sampled)",
        )
    if prompts.shape[1] != frames.shape[1]:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"prompt embeddings have {prompts.shape[1]} dimensions but frame embeddings "
            f"{frames.shape[1]}: both must come from the same CLIP model",
        )
    bounds = checked_shot_bounds(shot_bounds_s)
    if bounds is None:
        bounds = np.array([[times.min(), times.max()]], np.float64)
    centroids, counts = shot_centroids(times, frames, bounds, borrow_nearest=True)
    cosine = centroids @ unit_rows(prompts, "CLIP prompt embeddings").T
    scores = _softmax(temperature * cosine)
    durations = bounds[:, 1] - bounds[:, 0]
    weights = durations if durations.sum() > 0 else np.ones(len(bounds))
    video_scores = weights @ scores / weights.sum()
    return SceneClassification(
        shot_bounds_s=bounds,
        shot_labels=label_names[np.argmax(scores, axis=1)],
        shot_label_scores=scores.astype(np.float32),
        shot_frame_counts=counts,
        label_names=label_names,
        video_label_scores=video_scores.astype(np.float32),
        video_top_label=str(label_names[int(np.argmax(video_scores))]),
        status="ok",
    )
