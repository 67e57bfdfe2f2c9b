"""Shots as editors count them: frame numbers, timecodes, lengths (the report's shot table
and `dp export`), in PySceneDetect's conventions so its users can paste them where they did.

Frame numbers count from 1, as PySceneDetect's CSV does: a shot's start frame is its first
frame, its end frame its last (inclusive); `Length (frames)` = end - start + 1. A time maps
to the frame that starts there: frame index round(t * fps) (0-based), so a cut found at
1.52 s at 25 fps starts frame 39 (1-based). Timecodes are HH:MM:SS.mmm of the frame's start
(wall time, exact for any fps); the EDL's are SMPTE HH:MM:SS:FF at the rounded frame rate,
non-drop frame.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from dp_core.errors import DpError, ErrorCode

# PySceneDetect's `list-scenes` CSV columns, in its order
CSV_COLUMNS = (
    "Scene Number",
    "Start Frame",
    "Start Timecode",
    "Start Time (seconds)",
    "End Frame",
    "End Timecode",
    "End Time (seconds)",
    "Length (frames)",
    "Length (timecode)",
    "Length (seconds)",
)


def exact_rate(fps: float) -> Fraction:
    """A float frame rate as the rational it stands for: NTSC's 29.97 (or 29.97002997) is
    30000/1001, as PySceneDetect reads it; 25.0 is 25."""
    return Fraction(fps).limit_denominator(1001)


def frame_index(t_s: float, fps: float) -> int:
    """0-based index of the frame that starts at (or nearest) `t_s`; halves round up."""
    return math.floor(t_s * fps + 0.5)


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm (milliseconds rounded)."""
    millis = round(float(seconds) * 1000.0)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def smpte(frame: int, fps: float) -> str:
    """HH:MM:SS:FF of a 0-based frame count at the rounded rate (non-drop frame)."""
    rate = max(1, round(fps))
    seconds, frames = divmod(frame, rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


@dataclass(frozen=True)
class Shot:
    number: int  # from 1
    first: int  # 0-based index of its first frame
    stop: int  # 0-based index one past its last frame
    fps: float
    kind: str  # how it begins: "start" (the video's first shot) or the cut's kind
    confidence: float | None  # the cut's confidence (None for the first shot)

    @property
    def rate(self) -> Fraction:
        """The frame rate as the rational it stands for (29.97002997 -> 30000/1001)."""
        return exact_rate(self.fps)

    @property
    def start_s(self) -> float:
        return float(self.first / self.rate)

    @property
    def end_s(self) -> float:
        return float(self.stop / self.rate)

    @property
    def frames(self) -> int:
        return self.stop - self.first

    def csv_row(self) -> list[str]:
        length_s = float(self.frames / self.rate)
        return [
            str(self.number),
            str(self.first + 1),
            timecode(self.start_s),
            f"{self.start_s:.3f}",
            str(self.stop),
            timecode(self.end_s),
            f"{self.end_s:.3f}",
            str(self.frames),
            timecode(length_s),
            f"{length_s:.3f}",
        ]

    def as_json(self) -> dict:
        return {
            "number": self.number,
            "start_frame": self.first + 1,
            "end_frame": self.stop,
            "length_frames": self.frames,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "start_timecode": timecode(self.start_s),
            "end_timecode": timecode(self.end_s),
            "kind": self.kind,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }


def shots_of(
    shot_bounds_s: np.ndarray,
    cut_times_s: np.ndarray,
    cut_kinds: np.ndarray,
    cut_confidence: np.ndarray,
    fps: float,
    frame_count: int | None = None,
) -> list[Shot]:
    """cut_detection's arrays -> shots on the frame grid of `fps` (the video's native rate).
    Each shot after the first is matched to the cut nearest its start. `frame_count` (the
    frames decoded) bounds the last shot: the audio may outlast the picture."""
    if not fps or fps <= 0:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"no frame rate to count frames with ({fps!r})")
    bounds = np.asarray(shot_bounds_s, np.float64).reshape(-1, 2)
    cuts = np.asarray(cut_times_s, np.float64).ravel()
    kinds = [str(k) for k in np.asarray(cut_kinds).ravel()]
    confidence = np.asarray(cut_confidence, np.float64).ravel()
    shots = []
    for i, (start, end) in enumerate(bounds):
        first, stop = frame_index(start, fps), frame_index(end, fps)
        if frame_count:
            first, stop = min(first, frame_count - 1), min(stop, frame_count)
        kind, score = "start", None
        if i > 0 and len(cuts):
            j = int(np.argmin(np.abs(cuts - start)))
            kind, score = kinds[j], float(confidence[j])
        shots.append(Shot(i + 1, first, max(stop, first + 1), fps, kind, score))
    return shots


def shots_csv(shots: list[Shot]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(shot.csv_row() for shot in shots)
    return out.getvalue()


def shots_edl(shots: list[Shot], title: str, clip_name: str, reel: str = "AX") -> str:
    """A CMX3600 EDL: one cut event per shot, source in/out = record in/out (the video laid
    on the timeline from 00:00:00:00), non-drop frame at the rounded frame rate."""
    lines = [f"TITLE: {title}", "FCM: NON-DROP FRAME", ""]
    for shot in shots:
        start, stop = smpte(shot.first, shot.fps), smpte(shot.stop, shot.fps)
        lines.append(f"{shot.number:03d}  {reel:<8} V     C        {start} {stop} {start} {stop}")
        lines.append(f"* FROM CLIP NAME: {clip_name}")
        lines.append("")
    return "\n".join(lines)
