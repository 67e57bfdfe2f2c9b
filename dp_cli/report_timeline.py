"""The report's timeline: one lane per signal (shots, beats, loudness, speech, motion, ...)
under one time axis, drawn as inline SVG and HTML.

Alignment is by construction: every lane is a grid row with the same label column
(`LABEL_PX`) and a plot cell that fills the rest; a lane's SVG maps 0..duration onto its
viewBox 0..`VIEW_W` (stretched to the cell, strokes kept thin with non-scaling-stroke) and
its HTML marks are placed in % of the same cell. So 0 s is at the same pixel column in
every lane, and so is any time t. Each lane carries the cuts as faint guides (`line.guide`,
`data-t` = the cut's time), which the tests measure in headless Chromium.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dp_core.artifact import Artifact

VIEW_W = 1000.0  # SVG user units across the plot cell
LABEL_PX = 190  # the label column, the same in every lane
LANE_H = 46  # px: a curve or span lane's height
HARD_CUT, GRADUAL_CUT = "#dc2828", "#f09614"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class Lane:
    key: str  # data-lane
    component: str
    title: str
    detail: str  # a line under the title (range, unit)
    svg: str  # content in viewBox coordinates (0..VIEW_W x 0..height)
    marks: str = ""  # HTML positioned in % of the plot cell
    height: int = LANE_H


class Axis:
    """Seconds onto the viewBox's x (and % of the plot cell)."""

    def __init__(self, duration_s: float):
        self.duration_s = max(float(duration_s), 1e-6)

    def x(self, t_s: float) -> float:
        return min(max(float(t_s), 0.0), self.duration_s) / self.duration_s * VIEW_W

    def pct(self, t_s: float) -> str:
        return _n(self.x(t_s) / VIEW_W * 100.0) + "%"

    def ticks(self, max_ticks: int = 10) -> list[float]:
        raw = self.duration_s / max_ticks
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude >= raw)
        return [float(t) for t in np.arange(0.0, self.duration_s + 1e-9, step)]


def _tick_label(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:04.1f}" if t >= 60 else f"{t:g} s"


def _curve(axis: Axis, times, values, height: int, colour: str, lo=None, hi=None) -> str:
    """A polyline (NaN values break it), scaled into [lo, hi] (the values' range)."""
    t = np.asarray(times, np.float64).ravel()
    v = np.asarray(values, np.float64).ravel()[: len(t)]
    t = t[: len(v)]
    finite = np.isfinite(v)
    if not finite.any():
        return ""
    lo = float(np.min(v[finite])) if lo is None else lo
    hi = float(np.max(v[finite])) if hi is None else hi
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 4.0
    y = height - pad - (np.clip(v, lo, hi) - lo) / (hi - lo) * (height - 2 * pad)
    runs, current = [], []
    for ti, yi, ok in zip(t, y, finite, strict=True):
        if ok:
            current.append(f"{_n(axis.x(ti))},{_n(yi)}")
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return "".join(
        f'<polyline class="curve" points="{" ".join(run)}" fill="none" stroke="{colour}" '
        'stroke-width="1.5" vector-effect="non-scaling-stroke"/>'
        for run in runs
    )


def _spans(axis: Axis, spans, height: int, colour: str, top: float = 6.0) -> str:
    parts = []
    for start, end in np.asarray(spans, np.float64).reshape(-1, 2):
        x0, x1 = axis.x(start), axis.x(end)
        parts.append(
            f'<rect class="span" data-start="{start:.3f}" data-end="{end:.3f}" x="{_n(x0)}" '
            f'y="{_n(top)}" width="{_n(max(x1 - x0, 0.5))}" height="{_n(height - 2 * top)}" '
            f'fill="{colour}"/>'
        )
    return "".join(parts)


def _range(values, unit: str, fmt: str = "{:.1f}") -> str:
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return "no values"
    return f"{fmt.format(v.min())} … {fmt.format(v.max())} {unit}".strip()


def _hex(rgb) -> str:
    r, g, b = (int(c) for c in np.asarray(rgb).ravel()[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


# --- lanes per component: (artifact arrays, all artifacts, axis) -> lanes -------------------


def _shots(a, artifacts, axis):
    bounds = np.asarray(a["shot_bounds_s"], np.float64).reshape(-1, 2)
    palette = artifacts.get("color_dynamics")
    colours = None
    if palette is not None and "shot_palette_rgb" in palette.arrays:
        rgb = np.asarray(palette.arrays["shot_palette_rgb"])
        if len(rgb) == len(bounds):
            colours = [_hex(shot[0]) for shot in rgb]  # each shot's most frequent colour
    svg, marks = [], []
    for i, (start, end) in enumerate(bounds):
        fill = colours[i] if colours else ("#b8c4d6" if i % 2 == 0 else "#dde3ec")
        x0, x1 = axis.x(start), axis.x(end)
        svg.append(
            f'<rect class="shot" data-shot="{i + 1}" x="{_n(x0)}" y="4" '
            f'width="{_n(max(x1 - x0, 0.5))}" height="{LANE_H - 8}" fill="{fill}" '
            'stroke="#fff" stroke-width="1" vector-effect="non-scaling-stroke"/>'
        )
        marks.append(
            f'<span class="mark shot-label" style="left:{axis.pct((start + end) / 2)}">'
            f"{i + 1}</span>"
        )
    for t, kind in zip(np.ravel(a["cut_times_s"]), np.ravel(a["cut_kinds"]), strict=True):
        colour = HARD_CUT if str(kind) == "hard" else GRADUAL_CUT
        svg.append(
            f'<line class="cut {_e(kind)}" data-t="{float(t):.3f}" x1="{_n(axis.x(t))}" '
            f'x2="{_n(axis.x(t))}" y1="0" y2="{LANE_H}" stroke="{colour}" stroke-width="3" '
            'vector-effect="non-scaling-stroke"/>'
        )
    detail = f"{len(bounds)} shots, {len(np.ravel(a['cut_times_s']))} cuts"
    return [Lane("shots", "cut_detection", "shots", detail, "".join(svg), "".join(marks))]


def _beats(a, artifacts, axis):
    svg = []
    if "onset_strength" in a and "onset_times_s" in a:
        svg.append(_curve(axis, a["onset_times_s"], a["onset_strength"], LANE_H, "#9aa5b1"))
    for t in np.ravel(a["beat_times_s"]):
        svg.append(
            f'<line class="beat" data-t="{float(t):.3f}" x1="{_n(axis.x(t))}" '
            f'x2="{_n(axis.x(t))}" y1="6" y2="{LANE_H - 6}" stroke="#5b3fa6" stroke-width="1.5" '
            'vector-effect="non-scaling-stroke"/>'
        )
    bpm = float(np.ravel(a["tempo_bpm"])[0])
    detail = f"{bpm:.1f} BPM · {len(np.ravel(a['beat_times_s']))} beats · onset strength"
    return [Lane("beats", "tempo_extractor", "beats", detail, "".join(svg))]


def _loudness(a, artifacts, axis):
    svg = _curve(axis, a["short_term_times_s"], a["short_term_lufs"], LANE_H, "#1f6fb2")
    detail = "short-term " + _range(a["short_term_lufs"], "LUFS")
    return [Lane("loudness", "loudness_extractor", "loudness", detail, svg)]


def _speech(a, artifacts, axis):
    svg = _spans(axis, a["speech_segments_s"], LANE_H, "#9fd3a8")
    if "speech_probability" in a:
        svg += _curve(
            axis, a["probability_times_s"], a["speech_probability"], LANE_H, "#2e8b57", 0.0, 1.0
        )
    detail = f"{float(np.ravel(a['speech_ratio'])[0]) * 100:.0f} % speech · probability 0…1"
    return [Lane("speech", "speech_activity", "speech", detail, svg)]


def _motion(a, artifacts, axis):
    svg = _curve(axis, a["pair_times_s"], a["magnitude_mean_px_s"], LANE_H, "#b0501f")
    return [
        Lane(
            "motion",
            "core_optical_flow",
            "motion",
            "optical flow " + _range(a["magnitude_mean_px_s"], "px/s"),
            svg,
        )
    ]


def _story(a, artifacts, axis):
    svg = _curve(axis, a["energy_times_s"], a["energy_curve"], LANE_H, "#7b2d8e")
    for start, _ in np.asarray(a["segment_bounds_s"], np.float64).reshape(-1, 2)[1:]:
        svg += (
            f'<line class="segment" x1="{_n(axis.x(start))}" x2="{_n(axis.x(start))}" y1="0" '
            f'y2="{LANE_H}" stroke="#7b2d8e" stroke-dasharray="3 3" '
            'vector-effect="non-scaling-stroke"/>'
        )
    climax = float(np.ravel(a["climax_time_s"])[0])
    marks = (
        f'<span class="mark climax" data-t="{climax:.3f}" style="left:{axis.pct(climax)}">'
        "▲ climax</span>"
    )
    detail = f"energy arc: {np.ravel(a['energy_arc'])[0]}"
    return [Lane("story", "story_structure", "story energy", detail, svg, marks)]


def _quality(a, artifacts, axis):
    svg = _curve(axis, a["frame_times_s"], a["sharpness"], LANE_H, "#3a7d7c")
    detail = "sharpness " + _range(a["sharpness"], "")
    return [Lane("quality", "shot_quality", "shot quality", detail, svg)]


def _colour(a, artifacts, axis):
    svg = _curve(axis, a["frame_times_s"], a["brightness"], LANE_H, "#c9a227", 0.0, 1.0)
    detail = "brightness " + _range(a["brightness"], "(0…1)", "{:.2f}")
    return [Lane("colour", "color_dynamics", "colour", detail, svg)]


def _ocr(a, artifacts, axis):
    texts = [str(t) for t in np.ravel(a["lines_text"])]
    svg = _spans(axis, a["lines_span_s"], LANE_H, "#c8b6e2")
    return [Lane("ocr", "ocr", "on-screen text", f"{len(texts)} line(s)", svg)]


def _audio_events(a, artifacts, axis, rows: int = 3):
    labels = [str(t) for t in np.ravel(a["top_labels"])[:rows]]
    columns = np.argsort(-np.asarray(a["class_scores"]), kind="stable")[: len(labels)]
    scores = np.asarray(a["window_scores"], np.float64)[:, columns]
    times = np.asarray(a["window_times_s"], np.float64)
    step = float(np.median(np.diff(times))) if len(times) > 1 else axis.duration_s
    row_h = (LANE_H - 4) / max(len(labels), 1)
    svg = []
    for r in range(len(labels)):
        for t, score in zip(times, scores[:, r], strict=True):
            x0, x1 = axis.x(t), axis.x(t + step)
            svg.append(
                f'<rect x="{_n(x0)}" y="{_n(2 + r * row_h)}" width="{_n(max(x1 - x0, 0.5))}" '
                f'height="{_n(row_h - 1)}" fill="#c0392b" fill-opacity="{score:.2f}"/>'
            )
    detail = ", ".join(labels) or "no labels"
    return [Lane("audio_events", "audio_events", "audio events", detail, "".join(svg))]


def _faces(a, artifacts, axis):
    svg = _curve(axis, a["frame_times_s"], a["face_count"], LANE_H, "#d35400", 0.0)
    detail = "faces per frame " + _range(a["face_count"], "", "{:.0f}")
    return [Lane("faces", "core_face_landmarks", "faces", detail, svg)]


def _objects(a, artifacts, axis):
    counts = np.asarray(a["class_counts"]).reshape(len(np.ravel(a["frame_times_s"])), -1)
    per_frame = counts.sum(axis=1)
    svg = _curve(axis, a["frame_times_s"], per_frame, LANE_H, "#16a085", 0.0)
    detail = "detections per frame " + _range(per_frame, "", "{:.0f}")
    return [Lane("objects", "core_object_detections", "objects", detail, svg)]


LaneMaker = Callable[[Mapping, Mapping[str, Artifact], Axis], list[Lane]]
# top to bottom: cuts first, then picture, then sound, then the derived curves
LANES: tuple[tuple[str, LaneMaker], ...] = (
    ("cut_detection", _shots),
    ("core_optical_flow", _motion),
    ("shot_quality", _quality),
    ("color_dynamics", _colour),
    ("core_face_landmarks", _faces),
    ("core_object_detections", _objects),
    ("ocr", _ocr),
    ("loudness_extractor", _loudness),
    ("tempo_extractor", _beats),
    ("speech_activity", _speech),
    ("audio_events", _audio_events),
    ("story_structure", _story),
)


def timeline_lanes(
    artifacts: Mapping[str, Artifact], axis: Axis, problems: list[str]
) -> list[Lane]:
    """The lanes of every component with a result (ok or empty); one that cannot be drawn
    leaves a note in `problems`."""
    lanes = []
    for name, make in LANES:
        artifact = artifacts.get(name)
        if artifact is None or artifact.meta.status == "error":
            continue
        try:
            lanes.extend(make(artifact.arrays, artifacts, axis))
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            problems.append(f"{name}: no timeline lane: {exc!r}")
    return lanes


def render_timeline(lanes: list[Lane], axis: Axis, cut_times_s) -> str:
    """The lanes under a shared axis (ticks at the top), with the cuts as guides."""
    cuts = [float(t) for t in np.ravel(cut_times_s)]

    def guides(height: int) -> str:
        return "".join(
            f'<line class="guide" data-t="{t:.3f}" x1="{_n(axis.x(t))}" x2="{_n(axis.x(t))}" '
            f'y1="0" y2="{height}" stroke="#000" stroke-opacity="0.18" stroke-width="1" '
            'vector-effect="non-scaling-stroke"/>'
            for t in cuts
        )

    def row(key: str, component: str, label: str, svg: str, marks: str, height: int) -> str:
        return (
            f'<div class="lane" data-lane="{_e(key)}" data-component="{_e(component)}">'
            f'<div class="lane-label">{label}</div>'
            f'<div class="lane-plot" style="height:{height}px">'
            f'<svg viewBox="0 0 {_n(VIEW_W)} {height}" preserveAspectRatio="none" '
            f'width="100%" height="{height}">{svg}</svg>{marks}</div></div>'
        )

    ticks = axis.ticks()
    tick_svg = "".join(
        f'<line class="tick" data-t="{t:.3f}" x1="{_n(axis.x(t))}" x2="{_n(axis.x(t))}" '
        f'y1="14" y2="24" stroke="#444" stroke-width="1" vector-effect="non-scaling-stroke"/>'
        for t in ticks
    )
    tick_marks = "".join(
        f'<span class="mark tick-label" style="left:{axis.pct(t)}">{_e(_tick_label(t))}</span>'
        for t in ticks
    )
    end = (
        f'<line class="tick end" data-t="{axis.duration_s:.3f}" x1="{_n(VIEW_W)}" '
        f'x2="{_n(VIEW_W)}" y1="8" y2="24" stroke="#444" stroke-width="1" '
        'vector-effect="non-scaling-stroke"/>'
    )
    parts = [
        f'<div id="timeline" style="--label:{LABEL_PX}px">',
        row("axis", "", "<b>time</b>", tick_svg + end, tick_marks, 24),
    ]
    for lane in lanes:
        label = f"<b>{_e(lane.title)}</b><span>{_e(lane.detail)}</span>"
        parts.append(
            row(
                lane.key,
                lane.component,
                label,
                guides(lane.height) + lane.svg,
                lane.marks,
                lane.height,
            )
        )
    parts.append("</div>")
    return "".join(parts)


TIMELINE_STYLE = """
#timeline { border: 1px solid #ddd; padding: 6px 10px 6px 0; }
.lane { display: grid; grid-template-columns: var(--label) minmax(0, 1fr); align-items: center;
  border-bottom: 1px solid #f0f0f0; }
.lane-label { padding: 0 10px; font-size: 12px; line-height: 1.2; overflow: hidden; }
.lane-label span { display: block; color: #666; font-size: 11px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.lane-plot { position: relative; }
.lane-plot svg { display: block; position: absolute; left: 0; top: 0; overflow: visible; }
.mark { position: absolute; transform: translateX(-50%); font-size: 11px; white-space: nowrap;
  pointer-events: none; }
.shot-label { top: 14px; font-weight: 600; color: #fff; text-shadow: 0 0 2px #000; }
.tick-label { top: 0; color: #444; font-size: 10px; }
.climax { bottom: 0; color: #7b2d8e; }
"""
