"""Line de-duplication over time: OCR noise merges, different lines stay apart, spans."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError
from dp_features.text.ocr_lines import LineConfig, edit_distance, merge_lines, normalise, same_line

pytestmark = pytest.mark.unit

TIMES = np.arange(0.0, 5.01, 0.5)  # 2 fps


def _merge(readings, times=TIMES, frame_source=None, config=None):
    """readings: (frame index, text[, confidence])."""
    frames = [r[0] for r in readings]
    texts = [r[1] for r in readings]
    conf = [r[2] if len(r) > 2 else 0.9 for r in readings]
    return merge_lines(np.array(texts, str), conf, frames, times, frame_source, config)


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance("abcdef", "uvwxyz", limit=2) == 3  # stops early past the limit


def test_normalise_drops_case_space_and_punctuation():
    assert normalise("Limited offer: 50% OFF!") == "limitedoffer50off"
    assert normalise("Привет,  Мир") == "приветмир"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hello world", "Hello, world"),
        ("Subscribe for more videos", "Subscribe for rnore videos"),
        ("Subscribe for more videos", "Subscribe for more vides"),
        ("Скидка только сегодня", "Скидка тoлько сегодня"),  # Latin o inside Cyrillic
        ("LIMITED OFFER", "Limited offer"),
    ],
)
def test_ocr_variations_are_the_same_line(a, b):
    assert same_line(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Sale ends today", "Sale ends Monday"),
        ("Episode 1", "Episode 2"),
        ("Subscribe", "Subscribed now"),
        ("Привет мир", "Привет всем"),
        ("SALE", "SALT"),  # short texts must match exactly
    ],
)
def test_different_lines_stay_apart(a, b):
    assert not same_line(a, b)


def test_spans_and_merging_with_ocr_noise():
    # A shows 0-2 s (frames 0-3), B 1.5-4 s (frames 3-7), read with small variations.
    readings = [
        (0, "Hello world", 0.9),
        (1, "Hello, world", 0.8),
        (2, "Hello world", 0.95),
        (3, "Helo world", 0.6),
        (3, "Sale ends today"),
        (4, "Sale ends today"),
        (5, "Sale ends tuday"),
        (6, "Sale ends today"),
        (7, "Sale ends today"),
    ]
    lines = _merge(readings)
    assert lines.lines_text.tolist() == ["Hello world", "Sale ends today"]
    np.testing.assert_allclose(lines.lines_span_s, [[0.0, 1.5], [1.5, 3.5]])
    assert lines.lines_readings.tolist() == [4, 5]
    assert lines.lines_confidence[0] == pytest.approx((0.9 + 0.8 + 0.95 + 0.6) / 4)
    assert lines.box_line.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert lines.lines_text.dtype.kind == "U"


def test_a_changed_line_in_the_same_place_is_a_new_line():
    lines = _merge([(0, "Sale ends today"), (1, "Sale ends today"), (2, "Sale ends Monday")])
    assert lines.lines_text.tolist() == ["Sale ends today", "Sale ends Monday"]
    np.testing.assert_allclose(lines.lines_span_s, [[0.0, 0.5], [1.0, 1.0]])


def test_one_missed_frame_is_bridged_a_longer_gap_is_not():
    bridged = _merge([(0, "Hello world"), (2, "Hello world")])
    assert bridged.lines_span_s.tolist() == [[0.0, 1.0]]
    split = _merge([(0, "Hello world"), (3, "Hello world")])
    assert split.lines_span_s.tolist() == [[0.0, 0.0], [1.5, 1.5]]
    strict = _merge([(0, "Hello world"), (2, "Hello world")], config=LineConfig(max_gap_s=0.6))
    assert len(strict.lines_text) == 2


def test_skipped_repeats_extend_the_span():
    # frames 1-3 repeat frame 0 (not read); frame 4 is read again
    source = np.array([0, 0, 0, 0, 4, 5, 6, 7, 8, 9, 10])
    lines = _merge([(0, "Hello world"), (4, "Hello world")], frame_source=source)
    assert lines.lines_span_s.tolist() == [[0.0, 2.0]]
    # without the repeats it would be two lines (frames 1-3 missed)
    assert len(_merge([(0, "Hello world"), (4, "Hello world")]).lines_text) == 2


def test_the_same_text_twice_in_one_frame_is_two_lines():
    lines = _merge([(0, "LIVE"), (0, "LIVE"), (1, "LIVE"), (1, "LIVE")])
    assert lines.lines_text.tolist() == ["LIVE", "LIVE"]
    assert lines.lines_readings.tolist() == [2, 2]


def test_the_best_variant_names_the_line():
    lines = _merge([(0, "Helo world", 0.5), (1, "Hello world", 0.9), (2, "Hello world", 0.9)])
    assert lines.lines_text.tolist() == ["Hello world"]


def test_no_readings_no_lines():
    lines = _merge([])
    assert lines.lines_text.shape == (0,) and lines.lines_span_s.shape == (0, 2)
    assert lines.lines_confidence.shape == (0,)


def test_inconsistent_inputs_are_errors():
    with pytest.raises(DpError):
        merge_lines(np.array(["a"]), [0.9, 0.8], [0], TIMES)
    with pytest.raises(DpError):
        merge_lines(np.array(["a"]), [0.9], [99], TIMES)
    with pytest.raises(DpError):
        merge_lines(np.array(["a"]), [0.9], [0], TIMES[::-1])
    with pytest.raises(DpError):  # a frame cannot stand for an earlier one
        merge_lines(np.array(["a"]), [0.9], [0], TIMES[:3], np.array([1, 1, 2]))
