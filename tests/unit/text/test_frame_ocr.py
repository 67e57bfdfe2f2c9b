"""The OCR stage without a model: duplicate skipping, chunking, filtering, contracts.

A fake reader "reads" a frame by reporting a fixed text for every bright bar drawn on it,
so what the stage must skip, read and keep is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.text.ocr import (
    FrameOcr,
    FrameText,
    OcrConfig,
    grey_thumbnail,
    is_repeat,
    read_frames,
)

pytestmark = pytest.mark.unit

H, W = 360, 640


class BarReader:
    """One reading per bright horizontal bar (rows above 200): text 'bar at <y>'."""

    name = "bars"
    models_used = ()

    def __init__(self, confidence=0.9, text=None):
        self.calls: list[int] = []
        self.confidence, self.text = confidence, text

    def read(self, frames):
        self.calls.append(len(frames))
        out = []
        for frame in frames:
            rows = np.flatnonzero(frame[:, :, 0].mean(axis=1) > 200)
            if rows.size == 0:
                out.append(FrameText.empty())
                continue
            y = int(rows[0])
            out.append(
                FrameText(
                    boxes=np.array([[10, y, 630, rows[-1] + 1]], np.float32),
                    texts=(self.text or f"bar at {y}",),
                    confidences=np.array([self.confidence], np.float32),
                )
            )
        return out


def _frame(bars=(), noise=0.0, seed=0, level=80):
    rng = np.random.default_rng(seed)
    frame = np.full((H, W, 3), level, np.float32)
    for y0, y1 in bars:
        frame[y0:y1, 20:620] = 255
    frame += rng.normal(0, noise, frame.shape)
    return np.clip(np.round(frame), 0, 255).astype(np.uint8)


def test_identical_and_noisy_repeats_are_skipped():
    frames = np.stack(
        [_frame([(40, 70)], noise=2, seed=s) for s in range(4)]
        + [_frame([(40, 70), (300, 320)], noise=2, seed=9)]
    )
    reader = BarReader()
    result = read_frames(frames, np.arange(5) * 0.5, reader)
    assert result.skipped_frames == 3
    assert result.frame_read.tolist() == [True, False, False, False, True]
    assert result.frame_source.tolist() == [0, 0, 0, 0, 4]
    assert reader.calls == [2]  # the frames to read went to the engine as one batch
    assert result.box_frame.tolist() == [0, 4]
    assert result.texts.tolist() == ["bar at 40", "bar at 40"]


def test_a_small_caption_appearing_is_not_a_repeat():
    config = OcrConfig()

    def thumb(frame):
        return grey_thumbnail(frame, config.thumb_width)

    plain = _frame(noise=2, seed=1)
    # a 60x12 px caption: under 0.4 % of the frame
    caption = _frame(noise=2, seed=2)
    caption[200:212, 300:360] = 255
    assert not is_repeat(thumb(caption), thumb(plain), config)
    assert is_repeat(thumb(_frame(noise=2, seed=3)), thumb(plain), config)


def test_slow_drift_is_compared_with_the_last_read_frame():
    # brightness creeps up 5 levels per frame: each step is under the 12-level threshold, but
    # the sum since the last read frame is not
    frames = np.stack([_frame(level=80 + 5 * i) for i in range(8)])
    result = read_frames(frames, np.arange(8) * 0.5, BarReader())
    assert result.frame_read.tolist() == [True, False, False, True, False, False, True, False]


def test_skipping_carries_across_chunks_and_can_be_off():
    frames = np.stack([_frame([(40, 70)], noise=2, seed=s) for s in range(6)])
    times = np.arange(6) * 0.5
    reader = BarReader()
    ocr = FrameOcr(reader)
    ocr.add(frames[:3], times[:3])
    ocr.add(frames[3:], times[3:])
    result = ocr.result()
    assert result.skipped_frames == 5 and reader.calls == [1]
    assert result.frame_source.tolist() == [0] * 6
    everything = read_frames(frames, times, BarReader(), OcrConfig(skip_duplicates=False))
    assert everything.skipped_frames == 0 and everything.box_frame.tolist() == list(range(6))


def test_low_confidence_and_symbol_only_readings_are_dropped():
    frames = np.stack([_frame([(40, 70)])])
    assert len(read_frames(frames, np.zeros(1), BarReader(confidence=0.3)).texts) == 0
    assert len(read_frames(frames, np.zeros(1), BarReader(text=" ,  |")).texts) == 0
    kept = read_frames(frames, np.zeros(1), BarReader(text="  ok  "))
    assert kept.texts.tolist() == ["ok"]


def test_no_text_and_no_frames_give_empty_arrays_of_the_right_shape():
    for frames in (np.stack([_frame()]), np.zeros((0, H, W, 3), np.uint8)):
        result = read_frames(frames, np.zeros(len(frames)), BarReader())
        assert result.boxes.shape == (0, 4) and result.texts.shape == (0,)
        assert result.texts.dtype.kind == "U" and result.box_frame.dtype == np.int32


def test_wrong_input_is_a_bug_and_a_short_answer_is_bad_model_output():
    with pytest.raises(DpError) as info:
        read_frames(np.zeros((2, H, W), np.uint8), np.zeros(2), BarReader())
    assert info.value.code == ErrorCode.INTERNAL
    with pytest.raises(DpError):
        read_frames(np.zeros((2, H, W, 3), np.uint8), np.zeros(3), BarReader())

    class ShortReader(BarReader):
        def read(self, frames):
            return []

    with pytest.raises(DpError) as info:
        read_frames(np.stack([_frame()]), np.zeros(1), ShortReader())
    assert info.value.code == ErrorCode.MODEL_BAD_OUTPUT
