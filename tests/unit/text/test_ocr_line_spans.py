"""OCR line spans end where the text stops being visible: a line still read on the last
sampled frame lasts to the end of the video (issue 17 item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.text.ocr_lines import merge_lines

pytestmark = pytest.mark.unit

# A 6 s clip sampled at 1 fps: frames at 0, 1, ..., 5 s.
TIMES = np.arange(6, dtype=np.float64)
DURATION_S = 6.0


def _spans(readings, duration_s=DURATION_S, frame_source=None) -> dict[str, list[float]]:
    """readings: (frame index, text); returns text -> [start, end] of its line."""
    lines = merge_lines(
        np.array([text for _, text in readings]),
        np.full(len(readings), 0.9),
        np.array([frame for frame, _ in readings]),
        TIMES,
        frame_source,
        duration_s=duration_s,
    )
    pairs = zip(lines.lines_text, lines.lines_span_s, strict=True)
    return {str(text): span.tolist() for text, span in pairs}


def test_a_line_on_screen_at_the_end_lasts_to_the_end_of_the_video():
    """Visible 3.0-6.0 s: read on the samples at 3, 4 and 5 s; reported 3.0-6.0."""
    readings = [(3, "Sale ends today"), (4, "Sale ends today"), (5, "Sale ends today")]
    assert _spans(readings) == {"Sale ends today": [3.0, 6.0]}


def test_without_the_duration_the_span_ends_at_the_last_sample():
    readings = [(3, "Sale ends today"), (4, "Sale ends today"), (5, "Sale ends today")]
    assert _spans(readings, duration_s=None) == {"Sale ends today": [3.0, 5.0]}


def test_a_line_gone_before_the_last_sample_keeps_its_span():
    """Visible 1.0-3.0 s (read at 1 and 2 s, gone at 3 s) next to one that stays on."""
    readings = [(1, "Opening credits"), (2, "Opening credits"), (4, "The end"), (5, "The end")]
    assert _spans(readings) == {"Opening credits": [1.0, 2.0], "The end": [4.0, 6.0]}


def test_a_repeat_skipped_at_the_last_sample_still_counts_as_on_screen():
    """The OCR stage skipped the last frame as a repeat of the one before (read at 4 s)."""
    source = np.array([0, 1, 2, 3, 4, 4])
    assert _spans([(4, "Subscribe now")], frame_source=source) == {"Subscribe now": [4.0, 6.0]}
