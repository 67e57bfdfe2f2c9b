"""CLIP frame embeddings grouped by shot: input checks, frame-to-shot assignment, centroids;
and `core_clip`'s feature-table columns (how similar consecutive frames are).

Shared by `scene_classification` and `uniqueness`. Inputs are `core_clip`'s arrays
(`frame_times_s` float [N] seconds, `embeddings` float [N, D], L2-normalised) and
`cut_detection`'s `shot_bounds_s` float [S, 2] (seconds, sorted, tiling the video).
"""

from __future__ import annotations

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import Arrays


def checked_frame_embeddings(
    frame_times_s: np.ndarray, frame_embeddings: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validated (times float64 [N] seconds, embeddings float64 [N, D] re-normalised to unit
    length). Wrong shapes, NaN/inf or all-zero embeddings are MODEL_BAD_OUTPUT."""
    times = np.asarray(frame_times_s, np.float64).reshape(-1)
    emb = np.asarray(frame_embeddings, np.float64)
    if emb.ndim != 2 or emb.shape[0] != len(times):
        raise DpError(
            ErrorCode.MODEL_BAD_OUTPUT,
            f"CLIP embeddings must be [N, D] with one row per frame time; got shape "
            f"{emb.shape} for {len(times)} frame times",
        )
    if not (np.all(np.isfinite(emb)) and np.all(np.isfinite(times))):
        raise DpError(
            ErrorCode.MODEL_BAD_OUTPUT, "CLIP embeddings or frame times contain NaN or inf"
        )
    return times, unit_rows(emb, "CLIP frame embeddings")


def unit_rows(vectors: np.ndarray, what: str) -> np.ndarray:
    """Rows scaled to unit L2 norm (float64); an all-zero row is MODEL_BAD_OUTPUT."""
    vectors = np.asarray(vectors, np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, f"{what} contain an all-zero vector")
    return vectors / norms


def checked_shot_bounds(shot_bounds_s: np.ndarray | None) -> np.ndarray | None:
    """Shot bounds as float64 [S, 2] seconds, or None when absent or empty.

    Bounds must be finite, with end >= start and starts in increasing order (as
    `cut_detection` writes them); anything else is DEPENDENCY_ERROR (a broken upstream).
    """
    if shot_bounds_s is None:
        return None
    bounds = np.asarray(shot_bounds_s, np.float64)
    if bounds.size == 0:
        return None
    if bounds.ndim != 2 or bounds.shape[1] != 2:
        raise DpError(
            ErrorCode.DEPENDENCY_ERROR, f"shot_bounds_s must be [S, 2], got shape {bounds.shape}"
        )
    if (
        not np.all(np.isfinite(bounds))
        or np.any(bounds[:, 1] < bounds[:, 0])
        or np.any(np.diff(bounds[:, 0]) < 0)
    ):
        raise DpError(
            ErrorCode.DEPENDENCY_ERROR,
            "shot_bounds_s must be finite, sorted by start, with end >= start; "
            "re-run cut_detection",
        )
    return bounds


def frame_shot_index(frame_times_s: np.ndarray, shot_bounds_s: np.ndarray) -> np.ndarray:
    """Index of the shot holding each frame, int64 [N]; -1 for a frame outside every shot.

    A shot holds the times start <= t < end; the last shot also holds t == end (the frame at
    the very end of the video).
    """
    times = np.asarray(frame_times_s, np.float64)
    starts, ends = shot_bounds_s[:, 0], shot_bounds_s[:, 1]
    idx = np.searchsorted(starts, times, side="right") - 1
    inside = idx >= 0
    safe = np.clip(idx, 0, len(starts) - 1)
    is_last = safe == len(starts) - 1
    inside &= (times < ends[safe]) | (is_last & (times <= ends[safe]))
    return np.where(inside, idx, -1).astype(np.int64)


def shot_centroids(
    frame_times_s: np.ndarray,
    unit_embeddings: np.ndarray,
    shot_bounds_s: np.ndarray,
    borrow_nearest: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per shot, the mean of its frames' unit embeddings, re-normalised to unit length.

    Returns (centroids float64 [S, D], frame counts int64 [S]). A shot with no sampled frame
    (shorter than the sampling step) takes the embedding of the frame nearest to its time
    span when `borrow_nearest`, else a row of NaN.
    """
    n_shots = len(shot_bounds_s)
    shot_of_frame = frame_shot_index(frame_times_s, shot_bounds_s)
    held = shot_of_frame >= 0
    counts = np.bincount(shot_of_frame[held], minlength=n_shots).astype(np.int64)
    sums = np.zeros((n_shots, unit_embeddings.shape[1]), np.float64)
    np.add.at(sums, shot_of_frame[held], unit_embeddings[held])
    centroids = np.full_like(sums, np.nan)
    seen = counts > 0
    norms = np.linalg.norm(sums[seen], axis=1, keepdims=True)
    # Frames pointing in opposite directions can cancel; the tiny floor only avoids 0/0.
    centroids[seen] = sums[seen] / np.maximum(norms, 1e-12)
    if borrow_nearest and not seen.all() and len(frame_times_s):
        for shot in np.nonzero(~seen)[0]:
            start, end = shot_bounds_s[shot]
            gap = np.maximum(np.maximum(start - frame_times_s, frame_times_s - end), 0.0)
            centroids[shot] = unit_embeddings[int(np.argmin(gap))]
    return centroids, counts


def _clip_features(a: Arrays) -> dict[str, float]:
    embeddings = np.asarray(a.get("embeddings", np.zeros((0, 1))), np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        return {"core_clip_frame_to_frame_similarity_mean": float("nan")}
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    return {"core_clip_frame_to_frame_similarity_mean": float((unit[1:] * unit[:-1]).sum(1).mean())}


# core_clip's feature-table columns ({column: description, units}).
CLIP_FEATURES = FeatureSet(
    _clip_features,
    {
        "core_clip_frame_to_frame_similarity_mean": (
            "mean cosine similarity of consecutive CLIP frame embeddings (1 = static)"
        )
    },
)
