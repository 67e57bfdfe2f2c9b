"""Synthetic video with known truth for the visual accuracy tests and the cut benchmark.

Everything is made in numpy/OpenCV from a seed, so a failing case can be replayed exactly.
A clip is a list of shots (a textured canvas that may pan, plus optional in-shot events that
must NOT be reported as cuts: a brightness ramp, a short flash) joined by transitions that
must be reported: hard cuts, linear dissolves and fades through black. Frames are RGB uint8.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

FRAME_WIDTH = 160
FRAME_HEIGHT = 90


@dataclass(frozen=True)
class Transition:
    """A true shot change. Hard cuts have `start_s == end_s` (the cut instant); gradual
    ones span `[start_s, end_s]` seconds, the interval in which both shots are mixed."""

    kind: str  # "hard" | "gradual"
    start_s: float
    end_s: float

    @property
    def center_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)


@dataclass(frozen=True)
class ShotSpec:
    """One shot: `pan_px_s` is the camera speed in pixels/second at 160 px frame width;
    `ramp` is (start_s, end_s, end_gain) of a within-shot brightness ramp, times relative to
    the clip; `flashes` are (start_s, n_frames) white flashes; `object_px_s` moves a solid
    disc (a fifth of the frame height) across the shot at that speed (0: no object)."""

    length_s: float
    pan_px_s: tuple[float, float] = (0.0, 0.0)
    ramp: tuple[float, float, float] | None = None
    flashes: tuple[tuple[float, int], ...] = ()
    object_px_s: float = 0.0


@dataclass(frozen=True)
class ClipSpec:
    """Shots joined by transitions: `joins[i]` joins shot i and i+1 and is ("hard", 0.0),
    ("dissolve", length_s) or ("fade", length_s) (fade out + fade in through black)."""

    shots: tuple[ShotSpec, ...]
    joins: tuple[tuple[str, float], ...]
    seed: int = 0
    noise_sigma: float = 1.5


@dataclass
class SyntheticClip:
    frames: np.ndarray  # uint8 [N, H, W, 3] RGB
    times_s: np.ndarray  # float64 [N]
    duration_s: float
    transitions: list[Transition] = field(default_factory=list)


def textured_canvas(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colour texture (float32 [H, W, 3], 0..255, at 160 px frame scale) with structure at
    several scales, so that it decorrelates under motion like a natural image (not only
    like one blurry blob), plus a few hard-edged shapes."""
    img = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((1.0, 0.35), (3.0, 0.6), (8.0, 1.0), (20.0, 1.2)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        blurred /= blurred.std() + 1e-6
        img += weight * blurred
    # A random colour mix per shot so shots differ in palette as well as in layout.
    mix = rng.uniform(-1.0, 1.0, (3, 3)).astype(np.float32) + np.eye(3, dtype=np.float32)
    img = img @ mix.T
    img = (img - img.mean(axis=(0, 1))) / (img.std(axis=(0, 1)) + 1e-6)
    img = img * rng.uniform(25, 50) + rng.uniform(70, 170, 3).astype(np.float32)
    for _ in range(int(rng.integers(3, 7))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(rng.integers(8, 40)) for _ in range(2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.ellipse(img, (x, y), (w // 2 + 1, h // 2 + 1), 0, 0, 360, colour, -1)
    return np.clip(img, 0, 255)


class _ShotRenderer:
    """Renders one shot at any time (seconds): a moving crop of a larger canvas."""

    def __init__(self, rng: np.random.Generator, spec: ShotSpec, start_s: float, w: int, h: int):
        # The canvas is made at 160 px frame scale and enlarged, so a clip shows the same
        # pictures at any resolution (and large frames stay cheap to make).
        scale = w / FRAME_WIDTH
        self.spec = spec
        self.start_s = start_s
        pan = np.array(spec.pan_px_s, np.float64)
        travel = np.abs(pan) * (spec.length_s + 4.0)
        margin = (int(travel[0]) + 4, int(travel[1]) + 4)
        base_h = round(h / scale)
        canvas = textured_canvas(rng, base_h + 2 * margin[1], FRAME_WIDTH + 2 * margin[0])
        if scale != 1.0:
            size = (round(canvas.shape[1] * scale), round(canvas.shape[0] * scale))
            canvas = cv2.resize(canvas, size, interpolation=cv2.INTER_LINEAR)
        self.canvas = canvas
        self.pan = pan * scale
        self.margin = (margin[0] * scale, margin[1] * scale)
        self.size = (w, h)
        self.scale = scale
        self.object_colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        self.object_y = float(rng.uniform(0.25, 0.75)) * h

    def render(self, t: float) -> np.ndarray:
        dt = t - self.start_s
        x = self.margin[0] + self.pan[0] * dt - 0.5 * self.pan[0] * self.spec.length_s
        y = self.margin[1] + self.pan[1] * dt - 0.5 * self.pan[1] * self.spec.length_s
        m = np.array([[1.0, 0.0, -x], [0.0, 1.0, -y]], np.float32)
        frame = cv2.warpAffine(self.canvas, m, self.size, flags=cv2.INTER_LINEAR)
        if self.spec.object_px_s:
            w, h = self.size
            radius = max(2, h // 10)
            cx = (self.spec.object_px_s * self.scale * dt) % (w + 2 * radius) - radius
            # Sub-pixel position via the shift argument, so the motion is smooth.
            cv2.circle(
                frame,
                (int(cx * 16), int(self.object_y * 16)),
                radius * 16,
                self.object_colour,
                -1,
                cv2.LINE_AA,
                shift=4,
            )
        if self.spec.ramp is not None:
            r0, r1, g1 = self.spec.ramp
            a = float(np.clip((t - r0) / (r1 - r0), 0.0, 1.0))
            frame = frame * (1.0 + a * (g1 - 1.0))
        return frame


def cfr_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(int(np.floor(duration_s * fps - 1e-9)) + 1) / fps


def vfr_times(duration_s: float, mean_fps: float, seed: int) -> np.ndarray:
    """Variable frame rate: intervals jitter ±40 % around 1/mean_fps."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * mean_fps * 1.6) + 2
    dt = rng.uniform(0.6, 1.4, n) / mean_fps
    t = np.concatenate([[0.0], np.cumsum(dt)])
    return t[t < duration_s]


def render_clip(
    spec: ClipSpec, times_s: np.ndarray, width: int = FRAME_WIDTH, height: int = FRAME_HEIGHT
) -> SyntheticClip:
    frames = np.stack(list(iter_clip_frames(spec, times_s, width, height)))
    return SyntheticClip(frames, times_s, clip_duration(spec), clip_truth(spec))


def clip_duration(spec: ClipSpec) -> float:
    return float(sum(s.length_s for s in spec.shots))


def _shot_starts(spec: ClipSpec) -> list[float]:
    return list(np.cumsum([0.0] + [s.length_s for s in spec.shots[:-1]]))


def clip_truth(spec: ClipSpec) -> list[Transition]:
    """Transitions centred on the boundaries between shots."""
    truth = []
    for boundary, (kind, length) in zip(_shot_starts(spec)[1:], spec.joins, strict=True):
        if kind == "hard":
            truth.append(Transition("hard", boundary, boundary))
        else:
            truth.append(Transition("gradual", boundary - length / 2, boundary + length / 2))
    return truth


def iter_clip_frames(
    spec: ClipSpec, times_s: np.ndarray, width: int = FRAME_WIDTH, height: int = FRAME_HEIGHT
) -> Iterator[np.ndarray]:
    """Yield uint8 RGB frames [H, W, 3] at `times_s` (seconds)."""
    rng = np.random.default_rng(spec.seed)
    starts = _shot_starts(spec)
    shots = [
        _ShotRenderer(rng, s, t0, width, height) for s, t0 in zip(spec.shots, starts, strict=True)
    ]
    bounds = starts[1:]
    noise_rng = np.random.default_rng(spec.seed + 1)
    # A bank of noise frames, picked at random per frame: as good as fresh noise for the
    # detector and much cheaper at high resolution.
    noise_bank = [
        noise_rng.standard_normal((height, width, 3), dtype=np.float32) * spec.noise_sigma
        for _ in range(8)
    ]
    flash_frames = _flash_frame_set(spec, times_s)
    for i, t in enumerate(times_s):
        k = int(np.searchsorted(bounds, t, side="right"))
        frame = shots[k].render(t)
        # Mix with a neighbour shot inside a gradual transition.
        for j, b in (
            (k - 1, bounds[k - 1] if k > 0 else None),
            (k, bounds[k] if k < len(bounds) else None),
        ):
            if b is None:
                continue
            kind, length = spec.joins[j]
            if kind == "hard" or abs(t - b) > length / 2:
                continue
            a = float((t - (b - length / 2)) / length)  # 0 -> 1 across the transition
            if kind == "dissolve":
                frame = (1 - a) * shots[j].render(t) + a * shots[j + 1].render(t)
            else:  # fade through black: out over the first half, in over the second
                src = shots[j].render(t) if a < 0.5 else shots[j + 1].render(t)
                frame = src * abs(1.0 - 2.0 * a)
            break
        if i in flash_frames:
            frame = 0.15 * frame + 0.85 * 255.0
        if spec.noise_sigma > 0:
            frame = frame + noise_bank[int(noise_rng.integers(len(noise_bank)))]
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def _flash_frame_set(spec: ClipSpec, times_s: np.ndarray) -> set[int]:
    out: set[int] = set()
    for shot in spec.shots:
        for t0, n in shot.flashes:
            i0 = int(np.searchsorted(times_s, t0))
            out.update(range(i0, min(i0 + n, len(times_s))))
    return out


def random_clip_spec(seed: int, n_shots: int = 12, gradual_share: float = 0.4) -> ClipSpec:
    """A random edit: joins are hard cuts, dissolves of 0.5-2 s or fades through black of
    0.6-2 s; shots last 1.5-5 s (plus room for their transitions), some panning (up to
    25 px/s at 160 px width), some with a moving object, a brightness ramp or a flash."""
    rng = np.random.default_rng(seed)
    joins: list[tuple[str, float]] = []
    for _ in range(n_shots - 1):
        r = rng.random()
        if r < 1.0 - gradual_share:
            joins.append(("hard", 0.0))
        elif r < 1.0 - gradual_share / 3:
            joins.append(("dissolve", float(rng.uniform(0.5, 2.0))))
        else:
            joins.append(("fade", float(rng.uniform(0.6, 2.0))))
    shots, t = [], 0.0
    for i in range(n_shots):
        before = joins[i - 1][1] / 2 if i > 0 else 0.0
        after = joins[i][1] / 2 if i < n_shots - 1 else 0.0
        length = float(rng.uniform(1.5, 5.0)) + before + after
        pan = (0.0, 0.0)
        if rng.random() < 0.4:
            speed, angle = rng.uniform(3.0, 25.0), rng.uniform(0, 2 * np.pi)
            pan = (float(speed * np.cos(angle)), float(speed * np.sin(angle)))
        # In-shot events stay clear of the transitions at both ends of the shot.
        lo, hi = t + before + 0.4, t + length - after - 0.4
        ramp = None
        if hi - lo > 2.0 and rng.random() < 0.25:
            ramp = (lo, hi, float(rng.choice([0.6, 1.4])))
        flashes = ((0.5 * (lo + hi), int(rng.integers(1, 4))),) if rng.random() < 0.15 else ()
        obj = float(rng.uniform(20, 60)) if rng.random() < 0.3 else 0.0
        shots.append(ShotSpec(length, pan, ramp, flashes, obj))
        t += length
    return ClipSpec(tuple(shots), tuple(joins), seed=seed)


@dataclass(frozen=True)
class MatchResult:
    """Detections matched one-to-one against the truth."""

    true_positives: int
    false_positives: int
    false_negatives: int
    matched: list[tuple[Transition, float]]  # (truth, detected time)

    @property
    def f1(self) -> float:
        denom = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 1.0 if denom == 0 else 2 * self.true_positives / denom


def match_cuts(
    truth: list[Transition], detected_s: np.ndarray, times_s: np.ndarray, hard_tol_frames: int = 1
) -> MatchResult:
    """A hard cut matches a detection within +-`hard_tol_frames` frames of the first frame
    of the new shot; a gradual one matches a detection anywhere in its span (widened by one
    frame interval, since frames sample the span). Greedy one-to-one, closest first."""
    times_s = np.asarray(times_s, np.float64)
    det = sorted(float(d) for d in detected_s)
    dt = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.04
    pairs = []
    for ti, tr in enumerate(truth):
        for di, d in enumerate(det):
            if tr.kind == "hard":
                first_new = int(np.searchsorted(times_s, tr.start_s - 1e-9))
                k = int(np.argmin(np.abs(times_s - d)))
                ok = abs(k - first_new) <= hard_tol_frames
            else:
                ok = tr.start_s - dt <= d <= tr.end_s + dt
            if ok:
                pairs.append((abs(d - tr.center_s), ti, di))
    used_t, used_d, matched = set(), set(), []
    for _, ti, di in sorted(pairs):
        if ti not in used_t and di not in used_d:
            used_t.add(ti)
            used_d.add(di)
            matched.append((truth[ti], det[di]))
    tp = len(matched)
    return MatchResult(tp, len(det) - tp, len(truth) - tp, matched)
