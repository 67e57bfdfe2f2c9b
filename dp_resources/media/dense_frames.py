"""The segmenter's dense stream of a file, in memory: for set-up checks, benchmarks and
tests that need exactly the frames `cut_detection` sees (same decode, sampling and scaling:
dp_resources/media/decoder.py), without a storage backend. The segmenter additionally
stores them as JPEG (dp_resources/media/segmentation.py); that step is not repeated here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dp_resources.media.decoder import DecodePlan, decode_once


class _DenseSink:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []

    def analysis_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None:
        pass

    def dense_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None:
        self.frames.append(frame)
        self.times.append(time_s)

    def audio_format(self, sample_rate: int, channel_names: list[str]) -> None:
        pass

    def model_audio(self, samples: np.ndarray, start_s: float) -> None:
        pass

    def native_audio(self, samples: np.ndarray, start_s: float) -> None:
        pass


def dense_frames(
    path: Path, max_fps: float = 25.0, width: int = 160
) -> tuple[np.ndarray, np.ndarray, float]:
    """uint8 RGB [n, h, width, 3], their times (s) [n] and the video's duration (s), as the
    segmenter's dense stream holds them for a profile with `dense: {max_fps, width}`."""
    plan = DecodePlan(
        analysis_fps=0.01,  # the analysis stream is not wanted: one frame
        analysis_max_width=width,
        analysis_max_height=width,
        dense_max_fps=max_fps,
        dense_width=width,
        model_sample_rate=16000,
        max_pixels=7680 * 4320,
        max_duration_s=6 * 3600,
    )
    sink = _DenseSink()
    report = decode_once(Path(path), plan, sink)
    frames = np.stack(sink.frames) if sink.frames else np.zeros((0, 1, width, 3), np.uint8)
    return frames, np.asarray(sink.times, np.float64), float(report.duration_s)
