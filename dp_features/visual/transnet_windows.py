"""TransNetV2's input and windowing, as numpy over the segmenter's dense frames.

TransNetV2 (Souček & Lokoč, 2020) reads 48x27 RGB frames at the native frame sequence and
gives two per-frame transition probabilities: `single_frame` (the frame where a transition
happens) and `many_hot` (every frame inside a transition). The model itself is an ONNX file
(dp_resources/models/families/transnetv2.py); here it is only a callable
`run(frames uint8 [B, T, 27, 48, 3]) -> (single [B, T], many_hot [B, T])`.

* `transnet_thumbnails`: the dense frames (about 160 px wide) shrunk to 48x27 with
  OpenCV's INTER_AREA (a pixel-area mean: no second decode of the video).
* `window_probabilities`: the published inference scheme (the wheel's `predict_frames`):
  the sequence is padded with 25 copies of the first frame before and copies of the last
  after, cut into windows of 100 frames at a stride of 50, and only the middle 50 of each
  window are kept, so every frame sees at least 25 frames of context on both sides.
* `probabilities_around`: the model on short windows around chosen frames only (replicated
  edges as above), for detectors that ask it about candidates rather than every frame.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

INPUT_HEIGHT, INPUT_WIDTH = 27, 48
WINDOW, STRIDE, CONTEXT = 100, 50, 25

Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def transnet_thumbnails(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB [n, H, W, 3] -> uint8 [n, 27, 48, 3] (area mean, one OpenCV call)."""
    frames = np.ascontiguousarray(frames)
    n, height, width = frames.shape[:3]
    if n == 0:
        return np.zeros((0, INPUT_HEIGHT, INPUT_WIDTH, 3), np.uint8)
    if (height, width) == (INPUT_HEIGHT, INPUT_WIDTH):
        return frames
    # One tall image: INTER_AREA never mixes rows of neighbouring frames when the
    # vertical scale is a whole number of rows per output row; else resize frame by frame.
    if height % INPUT_HEIGHT == 0:
        tall = cv2.resize(
            frames.reshape(n * height, width, 3),
            (INPUT_WIDTH, n * INPUT_HEIGHT),
            interpolation=cv2.INTER_AREA,
        )
        return tall.reshape(n, INPUT_HEIGHT, INPUT_WIDTH, 3)
    return np.stack(
        [cv2.resize(f, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA) for f in frames]
    )


def window_probabilities(
    run: Runner, thumbnails: np.ndarray, batch_windows: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame `single_frame` and `many_hot` probabilities float32 [n] over a whole
    sequence of 48x27 thumbnails, windowed as the published model does (module doc)."""
    n = len(thumbnails)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    tail = CONTEXT + STRIDE - (n % STRIDE or STRIDE)
    padded = np.concatenate(
        [np.repeat(thumbnails[:1], CONTEXT, 0), thumbnails, np.repeat(thumbnails[-1:], tail, 0)]
    )
    starts = list(range(0, len(padded) - WINDOW + 1, STRIDE))
    single, many = [], []
    for i in range(0, len(starts), batch_windows):
        batch = np.stack([padded[s : s + WINDOW] for s in starts[i : i + batch_windows]])
        s_prob, m_prob = run(batch)
        single.append(s_prob[:, CONTEXT : CONTEXT + STRIDE].reshape(-1))
        many.append(m_prob[:, CONTEXT : CONTEXT + STRIDE].reshape(-1))
    return (
        np.concatenate(single)[:n].astype(np.float32),
        np.concatenate(many)[:n].astype(np.float32),
    )


def probabilities_around(
    run: Runner, thumbnails: np.ndarray, spans: list[tuple[int, int]], context: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each frame span [a, b) (indices into `thumbnails`), the probabilities of its
    frames from one window holding the span plus `context` frames on each side (edges
    replicated where the sequence ends). Spans of the same length run as one batch."""
    n = len(thumbnails)
    results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(spans)
    by_length: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        by_length.setdefault(b - a, []).append(i)
    for length, members in by_length.items():
        windows = []
        for i in members:
            a = spans[i][0]
            idx = np.clip(np.arange(a - context, a + length + context), 0, n - 1)
            windows.append(thumbnails[idx])
        s_prob, m_prob = run(np.stack(windows))
        for row, i in enumerate(members):
            results[i] = (
                s_prob[row, context : context + length].astype(np.float32),
                m_prob[row, context : context + length].astype(np.float32),
            )
    return results  # type: ignore[return-value]
