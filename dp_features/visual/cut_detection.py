"""Shot boundaries (hard cuts and gradual transitions) from the dense low-res RGB stream.

Input: uint8 RGB frames [N, H, W, 3] (about 160 px wide) with their presentation times in
seconds (`times_s`, float64, may be variable frame rate), fed chunk by chunk to
`CutDetector` (memory stays bounded: only a few seconds of tiny per-frame features are kept)
or all at once to `detect_cuts`. The time windows (`*_s`: blend lags, activity, flash,
fade, transition length) are in seconds and are looked up on `times_s`, so they hold at 12
or 60 fps and under variable frame rate. A few small counts are in frames: a gradual
transition needs `gradual_min_hits` blend frames in one run (hits at most 2 frames apart),
and a fade found at a hard-cut candidate must span more than 3 frames.

How (each step is cheap numpy/OpenCV over whole chunks; Python loops only visit the rare
candidate positions):

* Letterbox / pillar-box bars (edge rows or columns black over the whole first chunk) are
  cropped away first (`picture_box`): being the same in every shot, they would make two
  different pictures look half-alike to the flash and motion checks.

* Every frame is shrunk to a 32 px wide thumbnail. Its luma is standardised (zero mean,
  unit std, with a small regulariser so a flat frame stays near zero): the *structure*
  vector `z`. The distance `d(a, b) = rms(z_a - z_b) / sqrt(2)` is 0 for the same picture
  under any brightness/contrast change (so brightness ramps and exposure flicker never
  look like cuts) and about 1 for two unrelated pictures.
* Hard cut at frame k: `d(k-1, k)` is large in absolute terms and large against the
  local activity around it (an adaptive threshold, as in PySceneDetect's AdaptiveDetector,
  so fast motion that changes every frame does not fire). A short flash (the picture
  comes back within `flash_max_s`) is rejected.
* Gradual transition centred at frame k: for windows of several lengths L, frames a and b
  at k -/+ L/2 show different content (`d(a, b)` large) while frame k is a linear blend
  of them (the relative residual of `P_k - ((1-w) P_a + w P_b)` on RGB thumbnails is small,
  where w is k's relative position in time). A dissolve passes this test exactly; a hard
  cut gives residual 0.5 and is excluded. Camera motion can pass it too (small shifts of a
  smooth picture are nearly linear), so every candidate is checked with motion
  compensation: the global shift across the transition window (chained median DIS optical
  flow on 80 px luma) is undone, and if the picture is then the same, it was a pan or a
  tilt, not a transition.
* Fades through black (or any flat colour) are found from runs of flat frames: the fade
  out before the run and the fade in after it (contrast falling into the run and rising
  after it) make one gradual transition; a run longer than `max_flat_hold_s` is a shot of
  its own, with a transition into it and one out of it. A flat run at the very start or
  end of the video is an intro/outro, not a transition, and a run with the same picture on
  both sides is a flash or a dip, not a cut. At low frame rates a short fade may have no
  flat frame at all: a hard-cut candidate between two dim frames with contrast falling
  into it and rising after it is reported as a fade.

Reported times: a hard cut is at the first frame of the new shot; a gradual transition at
the middle of its span.

With `weak_*` thresholds set, changes that pass only those are kept as weak candidates
(`_Event.strict` False): never reported by this detector, they are for a combined
detector to judge with a model (cut_fusion.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.frame_chunks import rgb_chunk


@dataclass(frozen=True)
class CutDetectionConfig:
    """Thresholds. Distances are in structure units (0 same picture, ~1 unrelated)."""

    work_width: int = 32  # thumbnail width (px) for the structure and blend tests
    motion_width: int = 80  # luma width (px) for the camera-motion check
    z_eps: float = 4.0  # grey levels: frames with less contrast count as flat-ish
    hard_min_score: float = 0.35
    hard_ratio: float = 2.5  # score / local activity
    hard_margin: float = 0.2  # score - local activity
    # Weak hard-cut candidates (for a combined detector to judge; never reported by ours
    # alone): changes that pass these lower thresholds but not the three above. None: off.
    weak_min_score: float | None = None
    weak_ratio: float | None = None
    weak_margin: float | None = None
    activity_window_s: float = 1.0
    flash_max_s: float = 0.3  # a picture that comes back within this was a flash
    flash_same: float = 0.5  # "comes back": distance below this fraction of the cut score
    gradual_lags_s: tuple[float, ...] = (0.4, 0.8, 1.6, 2.4)
    gradual_min_change: float = 0.5
    gradual_max_residual: float = 0.35
    motion_max_change: float = 0.3  # change left after undoing camera motion: below = pan
    motion_step_s: float = 0.5  # camera motion is followed in steps of at most this
    gradual_min_hits: int = 2  # consecutive frames that must pass the blend test
    max_transition_s: float = 3.0
    flat_std: float = 4.0  # grey levels of thumbnail luma std below which a frame is flat
    dim_ratio: float = 0.3  # contrast below this share of the local peak: nearly flat
    max_fade_s: float = 2.0  # longest fade out (or in) next to a flat run
    max_flat_hold_s: float = 1.0  # longer flat runs are shots of their own
    same_content: float = 0.35  # pictures closer than this on both sides: no transition
    # A jump whose two sides are closer than this after undoing the camera's shift is inside
    # one shot (dropped frames, a jump of a pan, a title popping in), not a cut.
    jump_same: float = 0.2
    # Wipes: frame k is, pixel by pixel, either the picture before (frame a) or the one after
    # (frame b) at the same place, part of it each (module doc).
    wipe_lags_s: tuple[float, ...] = (0.4, 0.8)
    wipe_pixel_change: float = 60.0  # |P_a - P_b| (sum of RGB, thumbnail) that counts
    wipe_min_changed: float = 0.6  # share of the picture that must change from a to b
    wipe_max_residual: float = 0.3  # a pixel is a's or b's: min(|k-a|, |k-b|) below this x |a-b|
    wipe_min_explained: float = 0.8  # share of changed pixels that are a's or b's
    wipe_min_side: float = 0.15  # each side holds at least this share of the changed pixels
    wipe_motion_step_s: float = 0.12  # camera motion around a wipe is followed in these steps
    wipe_min_progress: float = 0.3  # the new picture's share must rise this much over a run
    bar_mean: float = 12.0  # grey levels: edge rows/columns this dark on average ...
    bar_max: float = 48.0  # ... and never brighter than this are letterbox/pillarbox bars


@dataclass(frozen=True)
class CutDetection:
    """The headline arrays of `cut_detection` (times in seconds from the video start).

    `cut_times_s` float64 [K], `cut_kinds` unicode [K] ("hard" | "gradual"),
    `cut_confidence` float32 [K] in 0..1, `transition_span_s` float64 [K, 2] (hard cuts have
    a zero-length span at the cut), `shot_bounds_s` float64 [S, 2] tiling [0, duration_s].

    Confidence is a monotone score, not a calibrated probability: for a hard cut, how far
    the change stands above the local activity; for a dissolve, how much change is left
    after motion compensation and how cleanly the frames blend; for a fade, how different
    the pictures before and after it are.
    """

    cut_times_s: np.ndarray
    cut_kinds: np.ndarray
    cut_confidence: np.ndarray
    transition_span_s: np.ndarray
    shot_bounds_s: np.ndarray
    duration_s: float

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "cut_times_s": self.cut_times_s,
            "cut_kinds": self.cut_kinds,
            "cut_confidence": self.cut_confidence,
            "transition_span_s": self.transition_span_s,
            "shot_bounds_s": self.shot_bounds_s,
        }


@dataclass
class _Event:
    kind: str
    time_s: float
    start_s: float
    end_s: float
    confidence: float
    # Which test found it ("cut": a frame-to-frame jump, "blend": a dissolve, "fade": flat
    # frames) and the global index of its first new frame (cuts) or middle frame: a
    # combined detector (cut_fusion.py) asks another model about exactly these frames.
    source: str = "cut"
    frame: int = -1
    strict: bool = True  # False: a weak hard-cut candidate (config.weak_*), not reported


@dataclass
class _Features:
    """Per-frame features of a run of frames (what the detector keeps, not the frames)."""

    times: np.ndarray  # float64 [n] seconds
    z: np.ndarray  # float32 [n, Dz] standardised thumbnail luma
    pix: np.ndarray  # float32 [n, Dp] RGB thumbnail, 0..255
    fine: np.ndarray  # uint8 [n, h, w] luma for the motion check
    std: np.ndarray  # float32 [n] thumbnail luma std (grey levels)
    step: np.ndarray  # float32 [n] d(i-1, i); the first frame of the video gets 0

    def __len__(self) -> int:
        return len(self.times)

    def tail(self, start: int) -> _Features:
        return _Features(*(getattr(self, f)[start:] for f in _FEATURE_FIELDS))

    @staticmethod
    def concat(a: _Features, b: _Features) -> _Features:
        return _Features(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _FEATURE_FIELDS))


_FEATURE_FIELDS = ("times", "z", "pix", "fine", "std", "step")


def shrink(images: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` pixel blocks of a stack [N, H, W(, C)] (uint8).

    Frames are stacked vertically and shrunk in one OpenCV call: with an integer factor
    INTER_AREA is an exact block mean (its fast path), and no block straddles two frames.
    Edge rows/columns that do not fill a whole block are dropped.
    """
    if factor <= 1:
        return images
    n, h, w = images.shape[:3]
    h2, w2 = max(1, h // factor), max(1, w // factor)
    tail = images.shape[3:]
    block = np.ascontiguousarray(images[:, : h2 * factor, : w2 * factor])
    out = cv2.resize(
        block.reshape(n * h2 * factor, w2 * factor, *tail),
        (w2, n * h2),
        interpolation=cv2.INTER_AREA,
    )
    return out.reshape(n, h2, w2, *tail)


def frame_features(
    frames: np.ndarray, times_s: np.ndarray, config: CutDetectionConfig
) -> _Features:
    """Thumbnails and structure vectors for a chunk; `step` is left 0 for the caller."""
    n, height, width = frames.shape[:3]
    # Integer shrink factors keep the block-mean fast path; the exact thumbnail size does
    # not matter because every distance is a per-pixel mean.
    fine_factor = max(1, round(width / config.motion_width))
    work_factor = max(1, round(width / config.work_width))
    gray = cv2.cvtColor(frames.reshape(n * height, width, 3), cv2.COLOR_RGB2GRAY)
    fine = shrink(gray.reshape(n, height, width), fine_factor)  # uint8, for DIS
    small = shrink(frames, work_factor)
    pix = small.reshape(n, -1).astype(np.float32)
    sh, sw = small.shape[1:3]
    luma = cv2.cvtColor(small.reshape(n * sh, sw, 3), cv2.COLOR_RGB2GRAY)
    luma = luma.reshape(n, -1).astype(np.float32)
    mean = luma.mean(axis=1, keepdims=True)
    var = luma.var(axis=1, keepdims=True)
    z = (luma - mean) / np.sqrt(var + config.z_eps**2)
    std = np.sqrt(var[:, 0])
    return _Features(np.asarray(times_s, np.float64), z, pix, fine, std, np.zeros(n, np.float32))


def thumbnail_shape(height: int, width: int, config: CutDetectionConfig) -> tuple[int, int]:
    """(rows, columns) of the RGB thumbnails `frame_features` makes of [.., height, width]."""
    factor = max(1, round(width / config.work_width))
    return (max(1, height // factor), max(1, width // factor)) if factor > 1 else (height, width)


def picture_box(frames: np.ndarray, config: CutDetectionConfig) -> tuple[slice, slice]:
    """Rows and columns of the picture inside letterbox / pillarbox bars (edge rows or
    columns that stay black over the whole chunk), decided once on the first chunk.

    Bars matter: they are the same in every shot, so with them a cut between two different
    pictures looks half-similar to the flash and motion checks, which then reject it. No
    crop when it would leave less than half of a side (a dark opening, not bars).
    """
    luma = frames.max(axis=3)
    boxes = []
    for axis in (1, 2):  # rows, then columns
        other = (0, 2) if axis == 1 else (0, 1)
        mean = luma.mean(axis=other)
        peak = luma.max(axis=other)
        bar = (mean <= config.bar_mean) & (peak <= config.bar_max)
        size = len(bar)
        lo = int(np.argmin(bar)) if not bar.all() else size
        hi = size - int(np.argmin(bar[::-1])) if not bar.all() else 0
        boxes.append(slice(lo, hi) if hi - lo >= size / 2 else slice(0, size))
    return boxes[0], boxes[1]


def _dist(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Structure distance between rows (or single vectors): ~0 same picture, ~1 unrelated."""
    return np.sqrt(np.mean((za - zb) ** 2, axis=-1) / 2.0)


def _motion_compensated_dist(
    chain: list[np.ndarray], z_eps: float, dis: cv2.DISOpticalFlow
) -> float:
    """Structure distance between the first and last luma image of `chain` after undoing
    the camera's global shift between them.

    A pan or tilt moves the picture; a transition replaces it. The shift is the sum of the
    median DIS optical flow between consecutive images of the chain (a median is robust to
    a moving object, and short steps keep each flow within DIS's reach); the last image is
    shifted back and compared with the first on the overlap, 2x2-averaged so that
    interpolation error at the finest scale does not count, and with the worst 20 % of
    pixels left out so that objects moving on their own do not count either.
    """
    fa, fb = chain[0].astype(np.float32), chain[-1].astype(np.float32)
    h, w = fa.shape
    dx = dy = 0.0
    # DIS needs a side of 12 px; a stream that small has no usable motion anyway.
    for p, q in itertools.pairwise(chain if max(h, w) >= 12 else []):
        flow = dis.calc(p, q, None)
        dx += float(np.median(flow[..., 0]))
        dy += float(np.median(flow[..., 1]))
    # fb shifted back, fb(x + dx), is defined where 0 <= x + dx < w: crop to that overlap
    # (plus a pixel for the interpolation).
    x0, x1 = max(0, int(np.ceil(-dx)) + 1), min(w, int(np.floor(w - dx)) - 1)
    y0, y1 = max(0, int(np.ceil(-dy)) + 1), min(h, int(np.floor(h - dy)) - 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return float("inf")  # no usable overlap: nothing explains the change
    back = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]], np.float32)
    fb_back = cv2.warpAffine(fb, back, (w, h), flags=cv2.INTER_LINEAR)
    a = fa[y0:y1, x0:x1]
    b = fb_back[y0:y1, x0:x1]
    size = (max(2, a.shape[1] // 2), max(2, a.shape[0] // 2))
    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    za = (a - a.mean()) / np.sqrt(a.var() + z_eps**2)
    zb = (b - b.mean()) / np.sqrt(b.var() + z_eps**2)
    d2 = np.sort(((za - zb) ** 2).ravel())
    return float(np.sqrt(d2[: max(1, int(0.8 * len(d2)))].mean() / 2.0))


class CutDetector:
    """Streaming shot-boundary detector: `update()` chunk by chunk, then `finish()`.

    Keeps only per-frame thumbnails for a window of `lookback_s + lookahead_s` seconds
    around the analysis front, so memory does not grow with video length.
    """

    def __init__(self, config: CutDetectionConfig | None = None):
        self.config = config or CutDetectionConfig()
        c = self.config
        max_lag = max(c.gradual_lags_s)
        # Analysing frame k needs this much video after it (fade-in, blend windows,
        # flash return, activity window) ...
        self._lookahead_s = max(c.max_fade_s, max_lag / 2, c.activity_window_s, c.flash_max_s)
        # ... and this much before it (the same, plus a whole pending gradual candidate).
        self._lookback_s = max(self._lookahead_s, c.max_transition_s + max_lag / 2) + 0.5
        self._buf: _Features | None = None
        self._base = 0  # global index of self._buf[0]
        self._done = 0  # global index of the next frame to analyse
        self._last_time = -np.inf
        self._events: list[_Event] = []
        # Pending blend hits: (frame, window start, window end, change, residual, time).
        self._group: list[tuple[int, int, int, float, float, float]] = []
        self._overlong_last = -10
        self._wipe_group: list[tuple[int, float, float]] = []  # frame, time, share from b
        self._dis: cv2.DISOpticalFlow | None = None  # made on first use (camera-motion check)
        self._flat_run: dict | None = None  # open flat run (fade bookkeeping)
        self._crop: tuple[slice, slice] | None = None  # the picture inside black bars
        self._thumb_hw = (0, 0)  # rows, columns of the RGB thumbnails (wipe/slide tests)

    # ---- public API -------------------------------------------------------------------

    @property
    def events(self) -> list[_Event]:
        """Transitions found so far, unmerged, in the order they were found."""
        return self._events

    @property
    def frames_seen(self) -> int:
        """Frames fed so far (the next chunk's first frame has this global index)."""
        return self._base + self.buffered_frames

    @property
    def buffered_frames(self) -> int:
        """Frames whose features are held now (bounded by the look-back/ahead windows)."""
        return 0 if self._buf is None else len(self._buf)

    def update(self, frames: np.ndarray, times_s: np.ndarray) -> None:
        """Feed the next chunk: uint8 RGB [n, H, W, 3] with times in seconds [n]."""
        frames, times_s = rgb_chunk(frames, times_s, "cut detection")
        if len(frames) == 0:
            return
        if np.any(np.diff(times_s) < 0) or times_s[0] < self._last_time:
            raise DpError(ErrorCode.INPUT_CORRUPT, "frame times must not go backwards")
        if self._crop is None:
            self._crop = picture_box(frames, self.config)
        picture = frames[:, self._crop[0], self._crop[1]]
        feats = frame_features(picture, times_s, self.config)
        self._thumb_hw = thumbnail_shape(picture.shape[1], picture.shape[2], self.config)
        prev_z = self._buf.z[-1:] if self._buf is not None else feats.z[:1]
        feats.step[:] = _dist(np.concatenate([prev_z, feats.z[:-1]]), feats.z)
        self._buf = feats if self._buf is None else _Features.concat(self._buf, feats)
        self._last_time = float(times_s[-1])
        ready = int(np.searchsorted(self._buf.times, self._last_time - self._lookahead_s))
        self._analyse(self._base + ready)
        self._trim()

    def finish(self, duration_s: float | None = None) -> CutDetection:
        """Analyse what is left and return the result. `duration_s` defaults to the last
        frame time plus one median frame interval."""
        if self._buf is not None:
            self._analyse(self._base + len(self._buf), final=True)
        self._close_group()
        if duration_s is None:
            duration_s = self._default_duration()
        return _result([e for e in self._events if e.strict], float(duration_s))

    # ---- analysis ---------------------------------------------------------------------

    def _default_duration(self) -> float:
        if self._buf is None:
            return 0.0
        t = self._buf.times
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        return float(t[-1] + dt)

    def _analyse(self, stop: int, final: bool = False) -> None:
        """Decide frames [self._done, stop) (global indices)."""
        if self._buf is None or stop <= self._done:
            return
        lo, hi = self._done - self._base, stop - self._base
        # Hard cuts and fades first: a blend candidate must not reach back into the
        # transition before it, so those have to be known when it is judged.
        self._hard_cuts(lo, hi)
        self._flat_runs(lo, hi, final)
        self._blends(lo, hi)
        self._wipes(lo, hi, final)
        self._done = stop

    def _trim(self) -> None:
        buf = self._buf
        if buf is None:
            return
        k = self._done - self._base
        if k >= len(buf):
            k = len(buf) - 1
        keep_from = int(np.searchsorted(buf.times, buf.times[k] - self._lookback_s))
        if self._group:
            keep_from = min(keep_from, min(g[1] for g in self._group) - self._base)
        keep_from = max(0, min(keep_from, k - 1))
        if keep_from > 0:
            self._buf = buf.tail(keep_from)
            self._base += keep_from

    def _window(self, center: int, before_s: float, after_s: float) -> tuple[int, int]:
        t = self._buf.times
        lo = int(np.searchsorted(t, t[center] - before_s, side="left"))
        hi = int(np.searchsorted(t, t[center] + after_s, side="right"))
        return lo, hi

    def _hard_cuts(self, lo: int, hi: int) -> None:
        c, buf = self.config, self._buf
        flat = buf.std < c.flat_std
        step = buf.step
        first = max(lo, 1)
        weak = c.weak_min_score is not None
        min_score = min(c.hard_min_score, c.weak_min_score) if weak else c.hard_min_score
        ratio = min(c.hard_ratio, c.weak_ratio or c.hard_ratio)
        margin = min(c.hard_margin, c.weak_margin or c.hard_margin)
        cand = np.nonzero(step[first:hi] >= min_score)[0] + first
        for k in cand:
            if self._base + k == 0 or flat[k - 1] or flat[k]:
                continue  # cuts into or out of flat frames are handled as fades
            s = float(step[k])
            # Non-maximum suppression: one cut per peak of change.
            if k + 1 < len(buf) and step[k + 1] > s:
                continue
            if step[k - 1] > s:
                continue
            w0, w1 = self._window(k, c.activity_window_s, c.activity_window_s)
            idx = np.r_[w0 : max(w0, k - 1), min(w1, k + 2) : w1]
            activity = float(np.percentile(step[idx], 75)) if len(idx) else 0.0
            if s < ratio * activity or s - activity < margin:
                continue
            if self._is_flash(k, s):
                continue
            if self._motion_dist([buf.fine[k - 1], buf.fine[k]]) < c.jump_same:
                continue  # the same picture moved on: a frame jump or a title in the shot
            conf = float(np.clip((s - activity) / 0.8, 0.0, 1.0))
            event = self._hard_or_fade(k, conf)
            event.strict = (
                s >= c.hard_min_score
                and s >= c.hard_ratio * activity
                and s - activity >= c.hard_margin
            )
            self._events.append(event)

    def _hard_or_fade(self, k: int, conf: float) -> _Event:
        """A change between frames k-1 and k; a fade if the picture went nearly flat there.

        At a low frame rate a short fade through black may have no flat frame at all, only
        two dim ones around the jump; the fades on both sides still show as contrast
        falling into the jump and rising after it.
        """
        c, buf = self.config, self._buf
        t, std = buf.times, buf.std
        w0, w1 = self._window(k, c.max_fade_s, c.max_fade_s)
        if min(std[k - 1], std[k]) < c.dim_ratio * float(std[w0:w1].max()):
            j0 = k - 1 - _fade_length(std[w0:k][::-1], -t[w0:k][::-1], c)
            j1 = k + _fade_length(std[k:w1], t[k:w1], c)
            if j1 - j0 > 3:
                mid = 0.5 * float(t[k - 1] + t[k])
                return _Event(
                    "gradual", mid, float(t[j0]), float(t[j1]), conf, "fade", self._base + k
                )
        return _Event("hard", float(t[k]), float(t[k]), float(t[k]), conf, "cut", self._base + k)

    def _is_flash(self, k: int, score: float) -> bool:
        """True when the picture before the change reappears within `flash_max_s`."""
        c, buf = self.config, self._buf
        t, step = buf.times, buf.step
        # A flash ends with a jump back: only frames after such a jump (ahead) or before
        # the jump into the flash (behind) may show the picture again. Without it, two
        # low-texture pictures can look alike to the motion-compensated comparison.
        back = 0.5 * score
        ahead_end = int(np.searchsorted(t, t[k] + c.flash_max_s, side="right"))
        jumps = np.nonzero(step[k + 1 : ahead_end] >= back)[0]
        if len(jumps):
            start = k + 1 + int(jumps[0])
            if self._same_picture(k - 1, np.arange(start, ahead_end), score):
                return True
        behind = int(np.searchsorted(t, t[k - 1] - c.flash_max_s, side="left"))
        jumps = np.nonzero(step[behind + 1 : k] >= back)[0]
        if len(jumps):
            end = behind + 1 + int(jumps[-1])  # first frame of the flash: compare before it
            return self._same_picture(k, np.arange(behind, end), score)
        return False

    def _same_picture(self, ref: int, others: np.ndarray, score: float) -> bool:
        """Does any of `others` show the picture of frame `ref` again? First by structure
        (cheap), then allowing for camera and object motion in the meantime."""
        d = _dist(self._buf.z[ref], self._buf.z[others])
        if d.min() < self.config.flash_same * score:
            return True
        nearest = int(others[int(np.argmin(d))])
        fine = self._buf.fine
        return self._motion_dist([fine[ref], fine[nearest]]) < self.config.same_content

    def _motion_dist(self, chain: list[np.ndarray]) -> float:
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        return _motion_compensated_dist(chain, self.config.z_eps, self._dis)

    def _motion_chain(self, a: int, b: int, step_s: float | None = None) -> list[np.ndarray]:
        """Frames a..b at steps of at most `step_s` (default `motion_step_s`), for the
        chained flow."""
        t = self._buf.times
        step_s = step_s or self.config.motion_step_s
        steps = max(1, int(np.ceil((t[b] - t[a]) / step_s)))
        idx = np.searchsorted(t, np.linspace(t[a], t[b], steps + 1))
        idx = np.unique(np.clip(np.r_[a, idx[1:-1], b], a, b))
        return [self._buf.fine[i] for i in idx]

    def _blends(self, lo: int, hi: int) -> None:
        """Find frames that are a linear blend of two different pictures around them."""
        c, buf = self.config, self._buf
        t = buf.times
        n = len(buf)
        ks = np.arange(lo, hi)
        if len(ks) == 0:
            return
        flat_cum = np.concatenate([[0], np.cumsum(buf.std < c.flat_std)])
        # Abrupt changes inside a window mean it is not one smooth blend (a cut or a flash
        # next to a transition, or a hard cut itself): such windows are not evidence.
        jump_cum = np.concatenate([[0], np.cumsum(buf.step >= c.hard_min_score)])
        best_g = np.full(len(ks), -1.0)
        best = np.zeros((len(ks), 3))  # a, b, residual of the best lag
        for lag in c.gradual_lags_s:
            a = np.searchsorted(t, t[ks] - lag / 2, side="right") - 1
            b = np.searchsorted(t, t[ks] + lag / 2, side="left")
            ok = (a >= 0) & (b < n)
            a, b = np.clip(a, 0, n - 1), np.clip(b, 0, n - 1)
            ok &= (a < ks) & (b > ks)
            ok &= flat_cum[b + 1] - flat_cum[a] == 0
            ok &= jump_cum[b + 1] - jump_cum[a + 1] == 0
            g = _dist(buf.z[a], buf.z[b])
            # The blend residual (3x the data of the structure distance) only where the
            # picture changed enough across the window: most frames of most videos skip it.
            sel = np.nonzero(ok & (g >= c.gradual_min_change))[0]
            if len(sel) == 0:
                continue
            a, b, k, g = a[sel], b[sel], ks[sel], g[sel]
            wb = ((t[k] - t[a]) / np.maximum(t[b] - t[a], 1e-9))[:, None].astype(np.float32)
            pa, pb = buf.pix[a], buf.pix[b]
            resid = np.linalg.norm(buf.pix[k] - pa - wb * (pb - pa), axis=1)
            rho = resid / np.maximum(np.linalg.norm(pb - pa, axis=1), 1e-6)
            better = (rho <= c.gradual_max_residual) & (g > best_g[sel])
            idx = sel[better]
            best_g[idx] = g[better]
            best[idx] = np.stack([a, b, rho], axis=1)[better]
        for i in np.nonzero(best_g >= 0)[0]:
            k = int(ks[i])
            a, b, rho = int(best[i, 0]), int(best[i, 1]), float(best[i, 2])
            g = float(best_g[i])
            gk = self._base + k
            if self._group and gk - self._group[-1][0] > 2:
                self._close_group()
            if gk - self._overlong_last <= 2:
                self._overlong_last = gk  # still inside a run of change that went on too long
                continue
            if self._group and t[k] - self._group[0][5] > c.max_transition_s:
                # Change that goes on and on is motion, not a transition: drop the run and
                # keep skipping it (this also bounds the memory a pending run holds).
                self._group = []
                self._overlong_last = gk
                continue
            self._group.append((gk, self._base + a, self._base + b, g, rho, float(t[k])))
        # Close a group once the analysis front has moved past it.
        if self._group and self._base + hi - 1 - self._group[-1][0] > 2:
            self._close_group()

    def _wipes(self, lo: int, hi: int, final: bool) -> None:
        """Find frames in the middle of a wipe: part of the picture is already the next
        shot's and the rest still the previous shot's, each at its own place."""
        c, buf = self.config, self._buf
        t = buf.times
        n = len(buf)
        ks = np.arange(lo, hi)
        if len(ks) == 0:
            return
        flat_cum = np.concatenate([[0], np.cumsum(buf.std < c.flat_std)])
        share_b = np.full(len(ks), -1.0)
        wa = np.zeros(len(ks), np.int64)
        wb = np.zeros(len(ks), np.int64)
        for lag in c.wipe_lags_s:
            a = np.searchsorted(t, t[ks] - lag / 2, side="right") - 1
            b = np.searchsorted(t, t[ks] + lag / 2, side="left")
            ok = (a >= 0) & (b < n)
            a, b = np.clip(a, 0, n - 1), np.clip(b, 0, n - 1)
            ok &= (a < ks) & (b > ks) & (flat_cum[b + 1] - flat_cum[a] == 0)
            ok &= _dist(buf.z[a], buf.z[b]) >= c.gradual_min_change
            sel = np.nonzero(ok & (share_b[: len(ks)] < 0))[0]
            if len(sel) == 0:
                continue
            pa, pb, pk = (buf.pix[x[sel]].reshape(len(sel), -1, 3) for x in (a, b, ks))
            dab = np.abs(pa - pb).sum(axis=2)
            da = np.abs(pk - pa).sum(axis=2)
            db = np.abs(pk - pb).sum(axis=2)
            changed = dab > c.wipe_pixel_change
            n_changed = np.maximum(changed.sum(axis=1), 1)
            explained = changed & (np.minimum(da, db) < c.wipe_max_residual * dab)
            from_b = (explained & (db < da)).sum(axis=1) / n_changed
            from_a = (explained & (db >= da)).sum(axis=1) / n_changed
            hit = (
                (changed.mean(axis=1) >= c.wipe_min_changed)
                & (explained.sum(axis=1) / n_changed >= c.wipe_min_explained)
                & (np.minimum(from_a, from_b) >= c.wipe_min_side)
            )
            share_b[sel[hit]] = from_b[hit]
            wa[sel], wb[sel] = a[sel], b[sel]
            rest = ~hit & (changed.mean(axis=1) >= c.wipe_min_changed)
            if rest.any():
                slid = _slide_share(pa[rest], pb[rest], pk[rest], self._thumb_hw, c)
                share_b[sel[rest]] = slid
        for i in np.nonzero(share_b >= 0)[0]:
            gk = self._base + int(ks[i])
            if self._wipe_group and gk - self._wipe_group[-1][0] > 2:
                self._close_wipe()
            self._wipe_group.append(
                (
                    gk,
                    float(t[ks[i]]),
                    float(share_b[i]),
                    self._base + int(wa[i]),
                    self._base + int(wb[i]),
                )
            )
        if self._wipe_group and (final or self._base + hi - 1 - self._wipe_group[-1][0] > 2):
            self._close_wipe()

    def _close_wipe(self) -> None:
        group, self._wipe_group = self._wipe_group, []
        if len(group) < self.config.gradual_min_hits:
            return
        times = np.array([g[1] for g in group])
        share = np.array([g[2] for g in group])
        # A wipe or slide progresses: the share of the new picture (measured against the
        # window of each hit, so not monotone for a slide) moves across the run. Hits whose
        # share stays put (a pan over a sharp edge, a cut inside the window) are not one.
        if share.max() - share.min() < self.config.wipe_min_progress:
            return
        # The hits cover the middle of the wipe (each side holding at least
        # `wipe_min_side`): widen the span by the part that share leaves out.
        dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
        extra = (
            dt
            * len(group)
            * self.config.wipe_min_side
            / max(1e-6, 1 - 2 * self.config.wipe_min_side)
        )
        mid = float(np.interp(0.5, np.maximum.accumulate(share), times))
        start, end = float(times[0] - extra), float(times[-1] + extra)
        frame = group[int(np.argmin(np.abs(times - mid)))][0]
        start -= dt  # the frames where the edge enters and leaves change little
        end += dt
        a, b = min(g[3] for g in group) - self._base, max(g[4] for g in group) - self._base
        if a >= 0 and b < len(self._buf):
            # Short steps: a wipe or slide is fast, so the pans it can be mistaken for are too.
            chain = self._motion_chain(a, b, self.config.wipe_motion_step_s)
            if self._motion_dist(chain) < self.config.motion_max_change:
                return  # a global shift explains the change: camera motion
        conf = float(np.clip(len(group) / 8.0, 0.3, 1.0))
        self._events.append(_Event("gradual", mid, start, end, conf, "wipe", frame))

    def _close_group(self) -> None:
        group, self._group = self._group, []
        if len(group) < self.config.gradual_min_hits:
            return  # a blend seen at one instant only is too weak to call
        c, buf = self.config, self._buf
        t = buf.times
        a, b = self._transition_window(group)
        if b - a < 2 or float(_dist(buf.z[a], buf.z[b])) < c.gradual_min_change:
            return  # without the previous transition's tail, too little changes
        g_mc = self._motion_dist(self._motion_chain(a, b))
        if g_mc < c.motion_max_change:
            return  # a global shift explains the change: camera motion
        rho = min(x[4] for x in group)
        start, mid, end = _blend_span(buf.pix[a : b + 1], t[a : b + 1])
        conf = float(
            np.clip(
                0.5 * g_mc / c.motion_max_change + 0.5 * (1.0 - rho / c.gradual_max_residual),
                0.0,
                1.0,
            )
        )
        middle = self._base + a + int(np.searchsorted(t[a : b + 1], mid))
        self._events.append(_Event("gradual", mid, start, end, conf, "blend", middle))

    def _transition_window(self, group: list) -> tuple[int, int]:
        """Buffer indices of a window that holds the whole candidate transition.

        The widest window that passed the blend test may cover only the middle of a
        dissolve between moving shots (their own motion spoils the test on wider ones).
        The window used is centred on the run of hits, twice as long as the run, at most
        the longest lag, and never crosses an abrupt change or a flat frame.
        """
        c, buf = self.config, self._buf
        t, n = buf.times, len(buf)
        _, ga, gb, _, _, _ = max(group, key=lambda x: (x[3], -x[4]))
        a, b = ga - self._base, gb - self._base
        t0, t1 = group[0][5], group[-1][5]
        center = 0.5 * (t0 + t1)
        half = 0.5 * min(max(c.gradual_lags_s), max(t[b] - t[a], 2.0 * (t1 - t0)))
        wa = int(np.searchsorted(t, center - half, side="left"))
        wb = min(n - 1, int(np.searchsorted(t, center + half, side="right")) - 1)
        kc = min(n - 1, int(np.searchsorted(t, center)))
        stop = (buf.step >= c.hard_min_score) | (buf.std < c.flat_std)
        left = np.nonzero(stop[wa + 1 : kc + 1])[0]
        if len(left):
            wa = wa + 1 + int(left[-1])
            wa += int(buf.std[wa] < c.flat_std)
        right = np.nonzero(stop[kc + 1 : wb + 1])[0]
        if len(right):
            wb = kc + int(right[0])
        wa, wb = min(wa, a), max(wb, b)
        # Nor does it reach back into the transition found before: its tail is change too.
        before = [e.end_s for e in self._events if e.time_s < t0]
        if before:
            wa = max(wa, min(kc, int(np.searchsorted(t, max(before), side="right"))))
        return wa, wb

    def _flat_runs(self, lo: int, hi: int, final: bool) -> None:
        """Fades to / from flat frames (black, white, any uniform colour)."""
        c, buf = self.config, self._buf
        flat = buf.std < c.flat_std
        t = buf.times
        for k in range(lo, hi):
            is_flat = bool(flat[k])
            gk = self._base + k
            if is_flat and self._flat_run is None:
                at_start = gk == 0
                start_s, ref = (t[k], k) if at_start else self._fade_out(k)
                # Keep copies, not buffer indices: a long flat run outlives the buffer.
                self._flat_run = {
                    "first_flat_s": float(t[k]),
                    "at_start": at_start,
                    "fade_start_s": float(start_s),
                    "picture_before": buf.fine[ref].copy(),
                }
            elif not is_flat and self._flat_run is not None:
                run, self._flat_run = self._flat_run, None
                if run["at_start"]:
                    continue
                end_s, ref_after = self._fade_in(k)
                self._flat_event(run, k, end_s, buf.fine[ref_after])
        if final and self._flat_run is not None:
            self._flat_run = None  # ends with a flat run: outro, not a transition

    def _fade_out(self, k: int) -> tuple[float, int]:
        """Start time of the fade that ends in flat frame k, and the frame where it starts."""
        c, buf = self.config, self._buf
        w0 = int(np.searchsorted(buf.times, buf.times[k] - c.max_fade_s, side="left"))
        j = k - 1 - _fade_length(buf.std[w0:k][::-1], -buf.times[w0:k][::-1], c)
        return float(buf.times[j]), j

    def _fade_in(self, k: int) -> tuple[float, int]:
        """End time of the fade that starts after flat frame k-1, and the frame where it ends."""
        c, buf = self.config, self._buf
        w1 = int(np.searchsorted(buf.times, buf.times[k - 1] + c.max_fade_s, side="right"))
        j = k + _fade_length(buf.std[k:w1], buf.times[k:w1], c)
        return float(buf.times[j]), j

    def _flat_event(self, run: dict, k: int, end_s: float, picture_after: np.ndarray) -> None:
        """Turn a flat run that ended at frame k into zero, one or two transitions."""
        c, buf = self.config, self._buf
        t = buf.times
        change = self._motion_dist([run["picture_before"], picture_after])
        if change < c.same_content:
            return  # same picture on both sides: a flash or a dip, not a cut
        conf = float(np.clip(change / (2.0 * c.same_content), 0.0, 1.0))
        first_flat_s = run["first_flat_s"]
        last_flat_s = float(t[k - 1])
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
        if last_flat_s - first_flat_s <= c.max_flat_hold_s:
            start, end = run["fade_start_s"], end_s
            kind = "gradual" if end - start > 3.0 * dt else "hard"
            mid = 0.5 * (first_flat_s + last_flat_s) if kind == "gradual" else float(t[k])
            self._events.append(_Event(kind, mid, start, end, conf, "fade", self._base + k))
            return
        # A long flat hold is a shot of its own: one transition into it, one out of it.
        for start, end, cut in (
            (run["fade_start_s"], first_flat_s, first_flat_s),
            (last_flat_s, end_s, float(t[k])),
        ):
            if end - start > 3.0 * dt:
                mid = 0.5 * (start + end)
                self._events.append(
                    _Event("gradual", mid, start, end, conf, "fade", self._base + k)
                )
            else:
                self._events.append(_Event("hard", cut, cut, cut, conf, "fade", self._base + k))


def _fade_length(std: np.ndarray, t: np.ndarray, c: CutDetectionConfig) -> int:
    """How many frames of `std` (luma contrast, ordered moving away from a flat run, with
    times `t` increasing in that direction) are still fading, i.e. gaining contrast.

    A linear fade over T seconds gains contrast at a relative rate of 1/(time since the
    flat run) >= 1/T; the fade is over where that rate drops below half of
    1/`max_fade_s`, or at a flat frame (the next flat run).
    """
    if len(std) < 2:
        return 0
    min_rate = 0.5 / c.max_fade_s
    for i in range(1, len(std)):
        if std[i] < c.flat_std and std[i - 1] >= c.flat_std:
            return i - 1
        dt = max(float(t[i] - t[i - 1]), 1e-6)
        rate = (float(std[i]) - float(std[i - 1])) / (max(float(std[i]), 1e-6) * dt)
        if rate < min_rate:
            return i - 1
    return len(std) - 1


def _slide_share(
    pa: np.ndarray, pb: np.ndarray, pk: np.ndarray, hw: tuple[int, int], c: CutDetectionConfig
) -> np.ndarray:
    """For frames k [m, px, 3] between pictures a and b: how far a slide (b pushing a out
    of the frame, from any of the four sides) has got, or -1 where no slide explains k.

    For each side and each offset s, the slid picture is a shifted by s with the first s
    columns (rows) of b coming in; k is a slide when the best of these explains k (every
    pixel within `wipe_max_residual` x |a - b| on average) far better than a or b alone.
    """
    h, w = hw
    m = len(pk)
    a = pa.reshape(m, h, w, 3)
    b = pb.reshape(m, h, w, 3)
    k = pk.reshape(m, h, w, 3)
    scale = np.abs(a - b).mean(axis=(1, 2, 3)) + 1e-3
    plain = np.minimum(np.abs(k - a).mean(axis=(1, 2, 3)), np.abs(k - b).mean(axis=(1, 2, 3)))
    bound = np.minimum(c.wipe_max_residual * scale, 0.5 * plain)  # a slide's error is below
    best_err = np.full(m, np.inf)
    best_share = np.full(m, -1.0)
    for axis, size in ((2, w), (1, h)):
        # Column (row) means first: the mean error of the means is a lower bound of the
        # mean error, so an offset whose means miss the bound is skipped exactly.
        pa1, pb1, pk1 = (x.mean(axis=3 - axis) for x in (a, b, k))  # [m, size, 3]
        for s in range(max(1, int(size * c.wipe_min_side)), int(size * (1 - c.wipe_min_side)) + 1):
            for from_end in (True, False):
                cut = size - s
                if from_end:  # b comes in from the right (bottom), a leaves to the left (top)
                    prof = np.concatenate([pa1[:, s:], pb1[:, :s]], axis=1)
                else:
                    prof = np.concatenate([pb1[:, cut:], pa1[:, :cut]], axis=1)
                rows = np.nonzero(np.abs(pk1 - prof).mean(axis=(1, 2)) < bound)[0]
                if len(rows) == 0:
                    continue
                ar, br = a[rows], b[rows]
                if axis == 2:
                    if from_end:
                        pred = np.concatenate([ar[:, :, s:], br[:, :, :s]], axis=2)
                    else:
                        pred = np.concatenate([br[:, :, cut:], ar[:, :, :cut]], axis=2)
                elif from_end:
                    pred = np.concatenate([ar[:, s:], br[:, :s]], axis=1)
                else:
                    pred = np.concatenate([br[:, cut:], ar[:, :cut]], axis=1)
                err = np.abs(k[rows] - pred).mean(axis=(1, 2, 3))
                better = err < best_err[rows]
                best_err[rows[better]] = err[better]
                best_share[rows[better]] = s / size
    ok = (best_err < c.wipe_max_residual * scale) & (best_err < 0.5 * plain)
    return np.where(ok, best_share, -1.0)


def _blend_span(pix: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """Where a blend from pix[0] to pix[-1] starts, is half done, and ends (seconds).

    Each frame is projected on the line from the first to the last picture (alpha 0..1);
    the 10 % and 90 % crossings of the running maximum are extrapolated to 0 and 1.
    """
    d = pix[-1] - pix[0]
    alpha = (pix - pix[0]) @ d / max(float(d @ d), 1e-6)
    alpha = np.maximum.accumulate(np.clip(alpha, 0.0, 1.0))
    t10, t50, t90 = (float(np.interp(q, alpha, t)) for q in (0.1, 0.5, 0.9))
    ext = (t90 - t10) / 8.0
    return max(float(t[0]), t10 - ext), t50, min(float(t[-1]), t90 + ext)


def _merge_events(events: list[_Event]) -> list[_Event]:
    """One event per transition.

    Two events are the same transition when one's time lies inside the other's span (a
    short dissolve can be seen by both tests); then the gradual one, or the more confident
    one, is kept. Spans that merely touch are trimmed so that they do not overlap.
    """
    out: list[_Event] = []
    for e in sorted(events, key=lambda e: e.time_s):
        if out:
            p = out[-1]
            if p.start_s <= e.time_s <= p.end_s or e.start_s <= p.time_s <= e.end_s:
                if p.kind != e.kind:
                    keep = p if p.kind == "gradual" else e
                else:
                    keep = p if p.confidence >= e.confidence else e
                out[-1] = _Event(
                    keep.kind,
                    keep.time_s,
                    min(p.start_s, e.start_s),
                    max(p.end_s, e.end_s),
                    max(p.confidence, e.confidence),
                    keep.source,
                    keep.frame,
                )
                continue
            if e.start_s < p.end_s:
                cut = 0.5 * (p.time_s + e.time_s)
                p.end_s = min(p.end_s, max(cut, p.time_s))
                e.start_s = max(e.start_s, min(cut, e.time_s))
        out.append(e)
    return out


def shot_bounds_from_cuts(cut_times_s: np.ndarray, duration_s: float) -> np.ndarray:
    """Shots [S, 2] (seconds) that tile [0, duration_s], split at the cut times."""
    if duration_s <= 0:
        return np.zeros((0, 2), np.float64)
    cuts = np.asarray(cut_times_s, np.float64)
    cuts = np.unique(cuts[(cuts > 0) & (cuts < duration_s)])
    edges = np.concatenate([[0.0], cuts, [duration_s]])
    return np.stack([edges[:-1], edges[1:]], axis=1)


def _result(events: list[_Event], duration_s: float) -> CutDetection:
    merged = _merge_events(events)
    merged = [e for e in merged if 0.0 < e.time_s < duration_s]
    times = np.array([e.time_s for e in merged], np.float64)
    return CutDetection(
        cut_times_s=times,
        cut_kinds=np.array([e.kind for e in merged], dtype="<U7"),
        cut_confidence=np.array([e.confidence for e in merged], np.float32),
        transition_span_s=np.array([[e.start_s, e.end_s] for e in merged], np.float64).reshape(
            -1, 2
        ),
        shot_bounds_s=shot_bounds_from_cuts(times, duration_s),
        duration_s=duration_s,
    )


def detect_cuts(
    frames: np.ndarray | Iterable[tuple[np.ndarray, np.ndarray]],
    times_s: np.ndarray | None = None,
    duration_s: float | None = None,
    config: CutDetectionConfig | None = None,
) -> CutDetection:
    """Detect cuts in uint8 RGB frames [N, H, W, 3] at `times_s` (seconds).

    `frames` may also be an iterable of `(frames_chunk, times_chunk)` pairs (then
    `times_s` is None), which is processed in constant memory.
    """
    detector = CutDetector(config)
    if times_s is None:
        if isinstance(frames, np.ndarray):
            raise DpError(ErrorCode.CONFIG_INVALID, "frame times (seconds) are required")
        for chunk, chunk_times in frames:  # type: ignore[misc]
            detector.update(chunk, chunk_times)
    else:
        detector.update(np.asarray(frames), np.asarray(times_s, np.float64))
    return detector.finish(duration_s)
