"""How much a video repeats itself, and how varied its shots look, from CLIP embeddings.

Inputs: `core_clip`'s `frame_times_s` [N] (seconds) and `embeddings` [N, D] (L2-normalised)
and, when available, `cut_detection`'s `shot_bounds_s` [S, 2] (seconds). Similarity is the
cosine of two embeddings (frames re-normalised; a shot is the re-normalised mean of its
frames).

Definitions (`threshold` is `near_duplicate_cosine`):

* A *run* is a stretch of consecutive sampled frames of one shot that each look like the
  frame before them (cosine >= threshold). A new run starts at every shot boundary and at
  every frame that differs from the previous one. A static shot is one run however long
  it lasts.
* Frame i is a *near-duplicate* when an earlier frame j from another run, at least
  `min_gap_s` before it (t_i - t_j >= min_gap_s), has cosine(i, j) >= threshold: the
  picture comes back after something else was shown. Frames are never compared with
  their own run, so a static shot is not a repeat of itself frame by frame, and the gap
  keeps a flash of a frame or two from making its neighbours repeats.
  `near_duplicate_ratio` = near-duplicate frames / all frames.
* Shot k is a *repeat* when an earlier shot's centroid has cosine >= threshold with its
  centroid. `repeated_shot_ratio` = repeated shots / judged shots, where a shot is judged
  only if at least one frame was sampled inside it (a shot shorter than the sampling step
  has no embedding of its own, and borrowing a neighbour's would fake repeats).
* `visual_diversity` = mean cosine distance (1 - cosine) over all pairs of judged shots:
  0 for one shot or identical shots, 1 for mutually orthogonal ones (at most 2).

Without shot bounds the frames are one shot (`shot_source` says "single_shot_fallback"):
runs still split at content changes, so near-duplicates are still found, but the shot
measures are those of one shot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.shot_embeddings import (
    checked_frame_embeddings,
    checked_shot_bounds,
    frame_shot_index,
    shot_centroids,
)

_ROW_BLOCK = 1024  # frames compared at once: bounds the [block, N] similarity matrix


@dataclass(frozen=True)
class Uniqueness:
    """Repetition and diversity of one video (see the module docstring for definitions).

    Scalars: `near_duplicate_ratio`, `repeated_shot_ratio`, `visual_diversity` (NaN when
    empty). `frame_duplicate_of` int64 [N]: for a near-duplicate frame, the index of the
    earlier frame it matches best, else -1. `shot_bounds_s` float64 [S, 2] seconds,
    `shot_frame_counts` int64 [S], `shot_repeat_of` int64 [S] (best-matching earlier shot
    of a repeated shot, else -1), `shot_similarity` float32 [S, S] (cosine of shot
    centroids; NaN rows/columns for shots with no sampled frame). `signals_used` unicode
    [K] names the inputs that went in ("clip_embeddings", "shot_bounds"); `shot_source` is
    "shot_bounds" or "single_shot_fallback".
    """

    near_duplicate_ratio: float
    repeated_shot_ratio: float
    visual_diversity: float
    frame_duplicate_of: np.ndarray
    shot_bounds_s: np.ndarray
    shot_frame_counts: np.ndarray
    shot_repeat_of: np.ndarray
    shot_similarity: np.ndarray
    signals_used: np.ndarray
    shot_source: str
    status: Literal["ok", "empty"]
    reason: str = ""

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: the three ratios)."""
        return {
            "near_duplicate_ratio": np.asarray(self.near_duplicate_ratio, np.float64),
            "repeated_shot_ratio": np.asarray(self.repeated_shot_ratio, np.float64),
            "visual_diversity": np.asarray(self.visual_diversity, np.float64),
            "frame_duplicate_of": self.frame_duplicate_of,
            "shot_bounds_s": self.shot_bounds_s,
            "shot_frame_counts": self.shot_frame_counts,
            "shot_repeat_of": self.shot_repeat_of,
            "shot_similarity": self.shot_similarity,
            "signals_used": self.signals_used,
            "shot_source": np.asarray(self.shot_source, dtype=np.str_),
        }


def frame_runs(
    unit_embeddings: np.ndarray, shot_of_frame: np.ndarray, threshold: float
) -> np.ndarray:
    """Run id of each frame (int64 [N], frames in time order; see the module docstring)."""
    if len(unit_embeddings) == 0:
        return np.zeros(0, np.int64)
    step_cosine = np.einsum("ij,ij->i", unit_embeddings[1:], unit_embeddings[:-1])
    new_run = (step_cosine < threshold) | (shot_of_frame[1:] != shot_of_frame[:-1])
    return np.concatenate([[0], np.cumsum(new_run)]).astype(np.int64)


def near_duplicate_frames(
    frame_times_s: np.ndarray,
    unit_embeddings: np.ndarray,
    runs: np.ndarray,
    threshold: float,
    min_gap_s: float,
) -> np.ndarray:
    """For each frame, the earlier frame it repeats (int64 [N], -1 if none); frames in
    time order, embeddings unit length."""
    n = len(frame_times_s)
    duplicate_of = np.full(n, -1, np.int64)
    for lo in range(0, n, _ROW_BLOCK):
        hi = min(n, lo + _ROW_BLOCK)
        cosine = unit_embeddings[lo:hi] @ unit_embeddings[:hi].T
        eligible = (runs[None, :hi] < runs[lo:hi, None]) & (
            frame_times_s[None, :hi] <= frame_times_s[lo:hi, None] - min_gap_s
        )
        cosine = np.where(eligible, cosine, -np.inf)
        best = np.argmax(cosine, axis=1)
        hit = cosine[np.arange(hi - lo), best] >= threshold
        duplicate_of[lo:hi] = np.where(hit, best, -1)
    return duplicate_of


def _shot_measures(
    centroids: np.ndarray, judged: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(similarity [S, S], repeat_of [S], repeated_shot_ratio, visual_diversity)."""
    n_shots = len(centroids)
    similarity = np.full((n_shots, n_shots), np.nan)
    idx = np.nonzero(judged)[0]
    similarity[np.ix_(idx, idx)] = centroids[idx] @ centroids[idx].T
    repeat_of = np.full(n_shots, -1, np.int64)
    for pos, shot in enumerate(idx[1:], start=1):
        earlier = idx[:pos]
        best = earlier[int(np.argmax(similarity[shot, earlier]))]
        if similarity[shot, best] >= threshold:
            repeat_of[shot] = best
    n_judged = len(idx)
    repeated = float(np.sum(repeat_of >= 0) / n_judged) if n_judged else float("nan")
    if n_judged >= 2:
        upper = np.triu_indices(n_judged, k=1)
        diversity = float(np.mean(1.0 - similarity[np.ix_(idx, idx)][upper]))
    else:
        diversity = 0.0 if n_judged == 1 else float("nan")
    return similarity, repeat_of, repeated, diversity


def visual_uniqueness(
    frame_times_s: np.ndarray,
    frame_embeddings: np.ndarray,
    shot_bounds_s: np.ndarray | None = None,
    near_duplicate_cosine: float = 0.95,
    min_gap_s: float = 2.0,
) -> Uniqueness:
    """Repetition and diversity measures (see the module docstring); times in seconds."""
    if not -1.0 <= near_duplicate_cosine <= 1.0:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"near_duplicate_cosine must be in [-1, 1], got {near_duplicate_cosine}",
        )
    if not min_gap_s >= 0:
        raise DpError(ErrorCode.CONFIG_INVALID, f"min_gap_s must be >= 0, got {min_gap_s}")
    times, frames = checked_frame_embeddings(frame_times_s, frame_embeddings)
    order = np.argsort(times, kind="stable")
    times, frames = times[order], frames[order]
    bounds = checked_shot_bounds(shot_bounds_s)
    if len(times) == 0:
        bounds = np.zeros((0, 2), np.float64) if bounds is None else bounds
        nan = float("nan")
        n_shots = len(bounds)
        return Uniqueness(
            near_duplicate_ratio=nan,
            repeated_shot_ratio=nan,
            visual_diversity=nan,
            frame_duplicate_of=np.zeros(0, np.int64),
            shot_bounds_s=bounds,
            shot_frame_counts=np.zeros(n_shots, np.int64),
            shot_repeat_of=np.full(n_shots, -1, np.int64),
            shot_similarity=np.full((n_shots, n_shots), np.nan, np.float32),
            signals_used=np.zeros(0, dtype="<U16"),
            shot_source="",
            status="empty",
            reason="no CLIP frame embeddings (no frame was sampled)",
        )
    signals = ["clip_embeddings"]
    if bounds is None:
        bounds = np.array([[times[0], times[-1]]], np.float64)
        shot_source = "single_shot_fallback"
    else:
        signals.append("shot_bounds")
        shot_source = "shot_bounds"
    shot_of_frame = frame_shot_index(times, bounds)
    runs = frame_runs(frames, shot_of_frame, near_duplicate_cosine)
    duplicate_sorted = near_duplicate_frames(times, frames, runs, near_duplicate_cosine, min_gap_s)
    # Report frame indices in the caller's order.
    duplicate_of = np.full(len(times), -1, np.int64)
    hits = duplicate_sorted >= 0
    duplicate_of[order[hits]] = order[duplicate_sorted[hits]]
    centroids, counts = shot_centroids(times, frames, bounds, borrow_nearest=False)
    similarity, repeat_of, repeated, diversity = _shot_measures(
        centroids, counts > 0, near_duplicate_cosine
    )
    return Uniqueness(
        near_duplicate_ratio=float(np.mean(hits)),
        repeated_shot_ratio=repeated,
        visual_diversity=diversity,
        frame_duplicate_of=duplicate_of,
        shot_bounds_s=bounds,
        shot_frame_counts=counts,
        shot_repeat_of=repeat_of,
        shot_similarity=similarity.astype(np.float32),
        signals_used=np.asarray(signals, dtype=np.str_),
        shot_source=shot_source,
        status="ok",
    )
