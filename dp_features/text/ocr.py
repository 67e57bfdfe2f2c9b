"""On-screen text per sampled frame: boxes, strings and confidences from an OCR engine.

Input: the segmenter's analysis frames for this component (uint8 RGB [n, H, W, 3], about
640 px on the long side) with their times in seconds, all at once (`read_frames`) or chunk
by chunk (`FrameOcr.add`, then `FrameOcr.result`).

Near-duplicate frames are not read again. Every frame is shrunk to a grey thumbnail (block
means, about 128 px wide); a frame whose thumbnail differs from that of the last frame that
was *read* in fewer than `max_changed_fraction` of its pixels (by more than `pixel_delta`
grey levels) repeats that frame: its text is taken to be the same. Comparing with the last
read frame (not the previous one) means a slow drift still triggers a new read once it adds
up. The per-pixel threshold ignores compression noise; the small changed fraction still
catches a short caption appearing (its strokes change a few hundred thumbnail pixels).

The engine is any `TextReader` (see `dp_resources.models.families.text`: RapidOCR, the default, for
Latin text; Tesseract `rus+eng` for Cyrillic overlays; or the two combined); each chunk's
frames that need reading go to it in one call, so an engine that batches can. Readings
under `min_confidence`, or without a single letter or digit, are dropped.

Output (`OcrResult`): boxes [M, 4] as x0, y0, x1, y1 in pixels of the frame, strings as a
numpy unicode array, confidences in [0, 1], `box_frame` [M] (index of the frame read), and
per frame: times, whether it was read, and `frame_source` (the index of the read frame that
stands for it; a frame that was read stands for itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dp_core.artifact import ModelUsed
from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.feature_stats import Arrays, finite_values, mean_or_nan, ratio_or_nan, span_rows


@dataclass(frozen=True)
class FrameText:
    """What an engine read on one frame: boxes [k, 4] (x0, y0, x1, y1 px), texts, conf [k]."""

    boxes: np.ndarray
    texts: tuple[str, ...]
    confidences: np.ndarray

    @staticmethod
    def empty() -> FrameText:
        return FrameText(np.zeros((0, 4), np.float32), (), np.zeros(0, np.float32))


class TextReader(Protocol):
    """An OCR engine: reads a batch of uint8 RGB frames, one `FrameText` per frame."""

    name: str

    @property
    def models_used(self) -> list[ModelUsed]: ...

    def read(self, frames: Sequence[np.ndarray]) -> list[FrameText]: ...


@dataclass(frozen=True)
class OcrConfig:
    min_confidence: float = 0.5  # drop readings below this (engine confidence, 0..1)
    skip_duplicates: bool = True
    thumb_width: int = 128  # px, width of the grey thumbnail for the duplicate test
    pixel_delta: float = 12.0  # grey levels: a thumbnail pixel that changed more counts
    max_changed_fraction: float = 0.001  # below this share of changed pixels: a repeat


@dataclass
class OcrResult:
    frame_times_s: np.ndarray  # float64 [n]
    frame_read: np.ndarray  # bool [n]: OCR ran on this frame
    frame_source: np.ndarray  # int32 [n]: the read frame whose text stands for this one
    boxes: np.ndarray  # float32 [M, 4] x0, y0, x1, y1 px
    texts: np.ndarray  # unicode [M]
    confidences: np.ndarray  # float32 [M]
    box_frame: np.ndarray  # int32 [M], always a read frame

    @property
    def skipped_frames(self) -> int:
        return int((~self.frame_read).sum())


def grey_thumbnail(frame: np.ndarray, width: int) -> np.ndarray:
    """Grey (BT.601 luma) block-mean thumbnail, float32, about `width` px wide."""
    h, w = frame.shape[:2]
    f = max(1, w // width)
    hh, ww = (h // f) * f, (w // f) * f
    luma = frame[:hh, :ww].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return luma.reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))


def is_repeat(thumb: np.ndarray, reference: np.ndarray, config: OcrConfig) -> bool:
    """True when thumbnail `thumb` shows the same picture as `reference` (module docstring)."""
    if thumb.shape != reference.shape:
        return False
    changed = np.abs(thumb - reference) > config.pixel_delta
    return float(changed.mean()) < config.max_changed_fraction


def _check_chunk(frames: np.ndarray, times_s: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DpError(
            ErrorCode.INTERNAL,
            f"OCR expects uint8 RGB frames [n, H, W, 3], got {frames.dtype} {frames.shape}",
        )
    if times_s.shape != (frames.shape[0],):
        raise DpError(
            ErrorCode.INTERNAL, f"OCR got {frames.shape[0]} frames but {times_s.shape} times"
        )


@dataclass
class FrameOcr:
    """Chunk-by-chunk OCR with duplicate skipping that carries across chunks."""

    reader: TextReader
    config: OcrConfig = field(default_factory=OcrConfig)

    def __post_init__(self) -> None:
        self._times: list[float] = []
        self._read: list[bool] = []
        self._source: list[int] = []
        self._boxes: list[np.ndarray] = []
        self._texts: list[str] = []
        self._conf: list[np.ndarray] = []
        self._box_frame: list[np.ndarray] = []
        self._last_thumb: np.ndarray | None = None
        self._last_read = -1

    def add(self, frames: np.ndarray, times_s: np.ndarray) -> None:
        frames = np.asarray(frames)
        times_s = np.asarray(times_s, np.float64)
        _check_chunk(frames, times_s)
        to_read: list[int] = []  # positions in this chunk
        for i, frame in enumerate(frames):
            index = len(self._times)
            thumb = grey_thumbnail(frame, self.config.thumb_width)
            repeat = (
                self.config.skip_duplicates
                and self._last_thumb is not None
                and is_repeat(thumb, self._last_thumb, self.config)
            )
            if not repeat:
                self._last_thumb, self._last_read = thumb, index
                to_read.append(i)
            self._times.append(float(times_s[i]))
            self._read.append(not repeat)
            self._source.append(self._last_read)
        if not to_read:
            return
        readings = self.reader.read([frames[i] for i in to_read])
        if len(readings) != len(to_read):
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"{self.reader.name} returned {len(readings)} results for {len(to_read)} frames",
            )
        first = len(self._times) - len(frames)
        for i, reading in zip(to_read, readings, strict=True):
            keep = np.asarray(reading.confidences) >= self.config.min_confidence
            keep &= np.array([any(c.isalnum() for c in t) for t in reading.texts], bool)
            if not keep.any():
                continue
            self._boxes.append(np.asarray(reading.boxes, np.float32).reshape(-1, 4)[keep])
            self._texts.extend(t.strip() for t, k in zip(reading.texts, keep, strict=True) if k)
            self._conf.append(np.asarray(reading.confidences, np.float32)[keep])
            self._box_frame.append(np.full(int(keep.sum()), first + i, np.int32))

    def result(self) -> OcrResult:
        return OcrResult(
            frame_times_s=np.array(self._times, np.float64),
            frame_read=np.array(self._read, bool),
            frame_source=np.array(self._source, np.int32),
            boxes=np.concatenate(self._boxes) if self._boxes else np.zeros((0, 4), np.float32),
            texts=np.array(self._texts, dtype=str) if self._texts else np.zeros(0, "<U1"),
            confidences=np.concatenate(self._conf) if self._conf else np.zeros(0, np.float32),
            box_frame=(
                np.concatenate(self._box_frame) if self._box_frame else np.zeros(0, np.int32)
            ),
        )


def read_frames(
    frames: np.ndarray,
    times_s: np.ndarray,
    reader: TextReader,
    config: OcrConfig | None = None,
) -> OcrResult:
    """OCR of all frames at once (see `FrameOcr` for chunks)."""
    ocr = FrameOcr(reader, config or OcrConfig())
    ocr.add(frames, times_s)
    return ocr.result()


def _features(a: Arrays) -> dict[str, float]:
    spans = span_rows(a, "lines_span_s")
    read = np.asarray(a.get("frame_read", np.zeros(0, bool)), bool)
    frames_with_text = np.unique(np.asarray(a.get("box_frame", np.zeros(0)), np.int64)).size
    return {
        "ocr_line_count": float(len(spans)),
        "ocr_line_seconds_total": float((spans[:, 1] - spans[:, 0]).sum()),
        "ocr_line_confidence_mean": mean_or_nan(finite_values(a, "lines_confidence")),
        "ocr_text_frame_ratio": ratio_or_nan(float(frames_with_text), float(read.sum())),
    }


# ocr's feature-table columns ({column: description, units}).
OCR_FEATURES = FeatureSet(
    _features,
    {
        "ocr_line_count": "count of on-screen text lines",
        "ocr_line_seconds_total": "sum of on-screen text line durations, seconds",
        "ocr_line_confidence_mean": "mean OCR line confidence, 0..1",
        "ocr_text_frame_ratio": "share of read frames with text, 0..1",
    },
)
