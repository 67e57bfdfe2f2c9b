"""The frame-chunk contract every visual algorithm checks at its door."""

from __future__ import annotations

import numpy as np

from dp_core.errors import DpError, ErrorCode


def rgb_frames(frames: np.ndarray, what: str) -> np.ndarray:
    """`frames` as uint8 RGB [N, H, W, 3]; anything else is INPUT_UNSUPPORTED for `what`."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DpError(
            ErrorCode.INPUT_UNSUPPORTED,
            f"{what} needs uint8 RGB frames [N, H, W, 3], got {frames.dtype} {frames.shape}",
        )
    return frames


def rgb_chunk(frames: np.ndarray, times_s: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A chunk of frames with one time (seconds) each; a count mismatch is INPUT_CORRUPT."""
    frames = rgb_frames(frames, what)
    times_s = np.asarray(times_s, np.float64)
    if len(times_s) != len(frames):
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"{what}: {len(frames)} frames but {len(times_s)} timestamps"
        )
    return frames, times_s
