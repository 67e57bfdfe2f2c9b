"""Timelines over the video's seconds: curves (loudness, motion), spans (speech, OCR lines
with their text) and per-label intensity rows (audio events), stacked on one time axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from dp_features.previews.canvas import (
    BACKGROUND,
    GRID,
    INK,
    LABEL_WIDTH,
    PREVIEW_WIDTH,
    TimeAxis,
    encode_png,
    font,
)

CURVE_HEIGHT = 70
ROW_HEIGHT = 16
TITLE_HEIGHT = 20
AXIS_HEIGHT = 16
RIGHT_MARGIN = 12
CURVE = (30, 90, 200)
SPAN = (60, 160, 90)
HEAT = np.array([200, 60, 30], np.float64)


@dataclass(frozen=True)
class CurveLane:
    """`values[i]` at `times_s[i]`, drawn as a line; non-finite values leave a gap."""

    name: str
    times_s: np.ndarray
    values: np.ndarray
    unit: str = ""

    def height(self) -> int:
        return CURVE_HEIGHT


@dataclass(frozen=True)
class SpanLane:
    """Spans [N, 2] (start, end s): one row for all of them, or with `texts` one row per
    span (at most `max_rows`, in start order) with its text."""

    name: str
    spans_s: np.ndarray
    texts: Sequence[str] | None = None
    max_rows: int = 8

    def rows(self) -> int:
        if self.texts is None:
            return 1
        return max(1, min(len(self.texts), self.max_rows))

    def height(self) -> int:
        return self.rows() * ROW_HEIGHT + 4


@dataclass(frozen=True)
class HeatLane:
    """One row per label; a row's colour at time t is the label's score there (0..1)."""

    name: str
    times_s: np.ndarray  # [T] window starts
    scores: np.ndarray  # [T, K]
    labels: Sequence[str]

    def height(self) -> int:
        return len(self.labels) * ROW_HEIGHT + 4


Lane = CurveLane | SpanLane | HeatLane


def timeline_axis(duration_s: float) -> TimeAxis:
    """The time axis every timeline uses (tests read marks back through it)."""
    return TimeAxis(duration_s, LABEL_WIDTH, PREVIEW_WIDTH - LABEL_WIDTH - RIGHT_MARGIN)


def timeline(duration_s: float, lanes: Sequence[Lane], title: str = "") -> bytes:
    """PNG: the lanes stacked top to bottom over the seconds 0..duration_s."""
    axis = timeline_axis(duration_s)
    top0 = TITLE_HEIGHT if title else 4
    height = top0 + sum(lane.height() + 6 for lane in lanes) + AXIS_HEIGHT
    image = Image.new("RGB", (PREVIEW_WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((8, 3), title, fill=INK, font=font(13))
    axis.draw_ticks(draw, top0, height - AXIS_HEIGHT)
    top = top0
    for lane in lanes:
        if not isinstance(lane, HeatLane):  # a heat lane's rows carry their own labels
            draw.text((8, top + 2), lane.name, fill=INK, font=font(11))
        if isinstance(lane, CurveLane):
            _draw_curve(draw, axis, lane, top)
        elif isinstance(lane, SpanLane):
            _draw_spans(draw, axis, lane, top)
        else:
            _draw_heat(draw, axis, lane, top)
        top += lane.height() + 6
    return encode_png(image)


def _draw_curve(draw: ImageDraw.ImageDraw, axis: TimeAxis, lane: CurveLane, top: int) -> None:
    times = np.asarray(lane.times_s, np.float64).ravel()
    values = np.asarray(lane.values, np.float64).ravel()
    finite = np.isfinite(values)
    bottom = top + CURVE_HEIGHT - 1
    draw.rectangle([axis.left, top, axis.left + axis.width - 1, bottom], outline=GRID)
    if not finite.any():
        draw.text((axis.left + 4, top + 4), "no finite values", fill=INK, font=font(11))
        return
    low, high = float(values[finite].min()), float(values[finite].max())
    span = high - low if high > low else 1.0
    digits = _decimals(high - low)
    draw.text((8, top + 16), f"{high:.{digits}f} {lane.unit}".strip(), fill=INK, font=font(10))
    draw.text((8, bottom - 12), f"{low:.{digits}f} {lane.unit}".strip(), fill=INK, font=font(10))
    xs = axis.x(times)
    ys = bottom - 2 - (values - low) / span * (CURVE_HEIGHT - 5)
    # consecutive finite points are joined; a non-finite value breaks the line
    run: list[tuple[float, float]] = []
    for x, y, ok in zip(xs, ys, finite, strict=True):
        if ok:
            run.append((float(x), float(y)))
            continue
        _polyline(draw, run)
        run = []
    _polyline(draw, run)


def _decimals(span: float) -> int:
    """Enough decimals that the top and bottom labels of a curve differ (1 to 3)."""
    if span <= 0:
        return 1
    return int(np.clip(np.ceil(-np.log10(span)) + 1, 1, 3))


def _polyline(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]]) -> None:
    if len(points) == 1:
        x, y = points[0]
        draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=CURVE)
    elif points:
        draw.line(points, fill=CURVE, width=2)


def _draw_spans(draw: ImageDraw.ImageDraw, axis: TimeAxis, lane: SpanLane, top: int) -> None:
    spans = np.asarray(lane.spans_s, np.float64).reshape(-1, 2)
    if lane.texts is None:
        rows = [(0, spans, None)]
    else:
        order = np.argsort(spans[:, 0], kind="stable")[: lane.max_rows]
        rows = [(r, spans[[i]], str(lane.texts[i])) for r, i in enumerate(order)]
    for row, row_spans, text in rows:
        y0 = top + 2 + row * ROW_HEIGHT
        for start, end in row_spans:
            draw.rectangle(
                [axis.x(start), y0, max(axis.x(end), axis.x(start) + 1), y0 + 11], fill=SPAN
            )
        if text:
            x = min(int(axis.x(row_spans[0, 0])) + 3, axis.left + axis.width - 60)
            draw.text((x, y0 - 1), text[:60], fill=INK, font=font(11))
    if not len(spans):
        draw.text((axis.left + 4, top + 2), "none", fill=INK, font=font(11))


def _draw_heat(draw: ImageDraw.ImageDraw, axis: TimeAxis, lane: HeatLane, top: int) -> None:
    times = np.asarray(lane.times_s, np.float64).ravel()
    scores = np.clip(np.asarray(lane.scores, np.float64).reshape(len(times), -1), 0.0, 1.0)
    step = float(np.median(np.diff(times))) if len(times) > 1 else axis.duration_s
    starts = axis.x(times)
    ends = np.maximum(axis.x(times + step) - 1, starts)
    for k, label in enumerate(lane.labels):
        y0 = top + 2 + k * ROW_HEIGHT
        draw.text((8, y0), label[:20], fill=INK, font=font(10))
        colours = np.rint(255 - (255 - HEAT) * scores[:, k, None]).astype(int)
        for x0, x1, colour in zip(starts, ends, colours, strict=True):
            draw.rectangle([x0, y0, x1, y0 + 11], fill=tuple(colour))
