"""Shared by the streaming audio models: chunks to mono, and a check that they are contiguous."""

from __future__ import annotations

import numpy as np

from dp_core.errors import DpError, ErrorCode


def to_mono(samples: np.ndarray) -> np.ndarray:
    """float32 [n] from [n] or planar [C, n] (channels averaged)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        return samples[0] if samples.shape[0] == 1 else samples.mean(axis=0)
    if samples.ndim != 1:
        raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"audio of shape {samples.shape}: want [C, n]")
    return samples


def stream_origin(
    origin_s: float | None, samples_seen: int, sample_rate: int, start_s: float
) -> float:
    """The stream's start time after a chunk starting at `start_s` (seconds in the video)
    arrives; a chunk that does not follow the previous one is INPUT_CORRUPT."""
    if origin_s is None:
        return float(start_s)
    expected = origin_s + samples_seen / sample_rate
    if abs(start_s - expected) > 1e-3:
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"audio chunk starts at {start_s:.4f} s, expected {expected:.4f} s "
            f"(chunks must be contiguous)",
        )
    return origin_s
