"""Timelines: curves, spans and heat rows drawn at their times; long videos stay small and fast."""

import io
import time

import numpy as np
import pytest
from PIL import Image

from dp_features.previews import CurveLane, HeatLane, SpanLane, image_mime, timeline
from dp_features.previews.canvas import MAX_BYTES, PREVIEW_WIDTH, TimeAxis
from dp_features.previews.timelines import CURVE, SPAN, timeline_axis

pytestmark = pytest.mark.unit


def pixels_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def near(pixels, colour, tolerance=40):
    return np.abs(pixels - np.array(colour)).sum(axis=-1) < tolerance


def test_time_axis_maps_seconds_to_columns():
    axis = TimeAxis(10.0, 100, 501)
    assert axis.x(0.0) == 100 and axis.x(10.0) == 600 and axis.x(5.0) == 350
    assert axis.x(-1.0) == 100 and axis.x(99.0) == 600  # clipped to the plot
    assert list(axis.x(np.array([2.5, 7.5]))) == [225, 475]
    assert TimeAxis(60.0, 0, 100).tick_step_s() == 10.0
    assert TimeAxis(3600.0, 0, 100).tick_step_s() == 500.0


def test_a_loudness_step_shows_at_its_time():
    times = np.arange(0.0, 10.0, 0.1)
    lufs = np.where(times < 5.0, -30.0, -10.0)
    data = timeline(10.0, [CurveLane("short-term", times, lufs, "LUFS")], "loudness")
    assert image_mime(data) == "image/png" and len(data) <= MAX_BYTES
    pixels = pixels_of(data)
    assert pixels.shape[1] == PREVIEW_WIDTH
    curve = near(pixels, CURVE)
    axis = timeline_axis(10.0)
    rows = [np.flatnonzero(curve[:, axis.x(t)]) for t in (2.0, 8.0)]
    # loud (-10) is drawn higher (smaller row) than quiet (-30)
    assert rows[1].max() < rows[0].min()
    # half-way between the two levels the curve is only where it jumps: 4.9 s to 5.0 s
    middle = (rows[0].min() + rows[1].max()) // 2
    columns = np.flatnonzero(curve[middle])
    assert len(columns) and columns.min() >= axis.x(4.9) - 2 and columns.max() <= axis.x(5.0) + 2


def test_a_silent_stretch_breaks_the_curve():
    times = np.arange(0.0, 10.0, 0.1)
    lufs = np.where((times > 4) & (times < 6), -np.inf, -20.0 + np.sin(times))
    pixels = pixels_of(timeline(10.0, [CurveLane("short-term", times, lufs, "LUFS")]))
    axis = timeline_axis(10.0)
    curve = near(pixels, CURVE)
    assert curve[:, axis.x(2.0)].any() and curve[:, axis.x(8.0)].any()
    assert not curve[:, axis.x(5.0)].any()


def test_speech_spans_cover_exactly_their_seconds():
    spans = np.array([[1.0, 3.0], [6.0, 7.0]])
    pixels = pixels_of(timeline(10.0, [SpanLane("speech", spans)]))
    axis = timeline_axis(10.0)
    filled = near(pixels, SPAN).any(axis=0)
    columns = np.flatnonzero(filled)
    expected = np.r_[axis.x(1.0) : axis.x(3.0) + 1, axis.x(6.0) : axis.x(7.0) + 1]
    assert set(columns) == set(expected)


def test_ocr_lines_get_one_row_each_in_start_order():
    spans = np.array([[5.0, 9.0], [0.0, 2.0], [3.0, 4.0]])
    lane = SpanLane("text", spans, ["late", "first", "middle"])
    pixels = pixels_of(timeline(10.0, [lane]))
    axis = timeline_axis(10.0)
    span = near(pixels, SPAN)
    row_of = {t: np.flatnonzero(span[:, axis.x(t)]).mean() for t in (1.0, 3.5, 7.0)}
    assert row_of[1.0] < row_of[3.5] < row_of[7.0]


def test_an_audio_event_row_is_dark_where_its_score_is_high():
    times = np.arange(10) * 1.0
    scores = np.zeros((10, 2))
    scores[3, 0] = 1.0  # "Dog" at 3..4 s
    scores[:, 1] = 0.0
    pixels = pixels_of(timeline(10.0, [HeatLane("events", times, scores, ["Dog", "Cat"])]))
    axis = timeline_axis(10.0)
    column = pixels[:, axis.x(3.5)]
    other = pixels[:, axis.x(6.5)]
    dark = np.flatnonzero(column.sum(axis=1) < 400)
    assert len(dark) > 5 and not (other[dark].sum(axis=1) < 400).any()


def test_an_hour_of_curves_renders_fast_and_small():
    rng = np.random.default_rng(1)
    times = np.arange(0.0, 3600.0, 0.1)
    lanes = [
        CurveLane("short-term", times, -23 + 3 * rng.standard_normal(len(times)), "LUFS"),
        SpanLane("speech", np.sort(rng.uniform(0, 3600, (400, 2)), axis=1)),
    ]
    started = time.perf_counter()
    data = timeline(3600.0, lanes, "an hour")
    assert time.perf_counter() - started < 2.0
    assert len(data) <= MAX_BYTES
