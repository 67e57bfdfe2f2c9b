"""De-duplicate OCR readings over time into lines with time spans.

The same overlay read on consecutive frames comes back with small OCR variations ("Hello
world", "Hello, world", "Helo world"); it should become one line with one time span, while
two different lines ("Sale ends today", "Sale ends Monday") stay apart.

How: frames are visited in time order; each reading is compared with the *open* lines
(seen on one of the last `max_missed_frames + 1` sampled frames, and within `max_gap_s`).
Texts are compared after normalisation (case folded, only letters and digits kept, so
spacing and punctuation noise do not count) by Levenshtein distance; a reading joins a line
when the distance is at most `max(1, floor(max_edit_ratio * length))` (length of the longer
normalised text; texts of up to `exact_below` characters must match exactly). With the
default ratio 0.12, one OCR error is absorbed in any line of 5+ characters, two from 17
characters on; "today" -> "Monday" (2 edits) in a 15-character line is a new line, but a
changed short word inside a long line can merge (a limit of character-level matching). Numbers must agree exactly (the digits of both texts, in order): "Episode 1"
and "Episode 2", or a price or score that changes, make a new line (the price of this: an
OCR error on a digit splits a line). Each line takes at most one reading per frame (best
match first). A reading that matches nothing opens a new line; the same text reappearing
after a gap is a new line with its own span.

Per line: the text is the variant with the highest summed confidence, the span runs from
the first frame it was read on to the last frame it stands for (repeats skipped by the OCR
stage included), the confidence is the mean over its readings. A line still read on the
last sampled frame was on screen until the video ends (as far as anyone can tell): given
`duration_s`, its span runs to the end of the video, not to that last sample's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from dp_core.errors import DpError, ErrorCode

_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class LineConfig:
    max_edit_ratio: float = 0.12
    exact_below: int = 4  # normalised texts this short must match exactly
    max_missed_frames: int = 1  # a line survives this many sampled frames without a reading
    max_gap_s: float = 3.0  # ... and never a longer gap in time


@dataclass
class OcrLines:
    lines_text: np.ndarray  # unicode [N]
    lines_span_s: np.ndarray  # float64 [N, 2]: first, last time seen (seconds)
    lines_confidence: np.ndarray  # float32 [N]: mean over readings
    lines_readings: np.ndarray  # int32 [N]: how many readings were merged
    box_line: np.ndarray  # int32 [M]: the line each reading went to


def normalise(text: str) -> str:
    """Case-folded letters and digits only: the form in which readings are compared."""
    return _NOT_ALNUM.sub("", text.casefold())


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance; stops early and returns `limit + 1` once it must exceed `limit`."""
    if len(a) < len(b):
        a, b = b, a
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if limit is not None and min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def allowed_edits(a: str, b: str, config: LineConfig) -> int:
    """Edits allowed between two normalised texts; -1 when they cannot match at all
    (their digits differ: "Episode 1" and "Episode 2", a price, a score)."""
    if _digits(a) != _digits(b):
        return -1
    longest = max(len(a), len(b))
    if longest <= config.exact_below:
        return 0
    return max(1, int(config.max_edit_ratio * longest))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdecimal())


def same_line(a: str, b: str, config: LineConfig | None = None) -> bool:
    """Whether two raw readings are the same line up to OCR noise (module docstring)."""
    config = config or LineConfig()
    na, nb = normalise(a), normalise(b)
    limit = allowed_edits(na, nb, config)
    return limit >= 0 and edit_distance(na, nb, limit) <= limit


@dataclass
class _Line:
    first_s: float
    until_s: float
    last_frame: int
    variants: dict[str, float] = field(default_factory=dict)  # text -> summed confidence
    confidences: list[float] = field(default_factory=list)
    key: str = ""  # normalised text of the latest reading


def merge_lines(
    texts: np.ndarray,
    confidences: np.ndarray,
    box_frame: np.ndarray,
    frame_times_s: np.ndarray,
    frame_source: np.ndarray | None = None,
    config: LineConfig | None = None,
    duration_s: float | None = None,
) -> OcrLines:
    """Merge readings (text, confidence, frame index) into lines with spans in seconds.

    `frame_times_s` [n] are the sampled frames' times, in increasing order; `frame_source`
    [n] the frame whose reading stands for each frame (`OcrResult.frame_source`: a repeat
    skipped by the OCR stage points at the frame read before it; default: every frame
    stands for itself). `duration_s`: the video's duration; lines seen on the last sampled
    frame end there (default: at that frame's time).
    """
    config = config or LineConfig()
    texts = np.asarray(texts, dtype=str).reshape(-1)
    confidences = np.asarray(confidences, np.float64).reshape(-1)
    box_frame = np.asarray(box_frame, np.int64).reshape(-1)
    times = np.asarray(frame_times_s, np.float64).reshape(-1)
    n = len(times)
    source = np.arange(n) if frame_source is None else np.asarray(frame_source, np.int64)
    if not (len(texts) == len(confidences) == len(box_frame)) or source.shape != (n,):
        raise DpError(ErrorCode.INTERNAL, "merge_lines: inconsistent array lengths")
    if n and (source.min() < 0 or np.any(source > np.arange(n))):
        raise DpError(ErrorCode.INTERNAL, "merge_lines: frame_source must point back in time")
    # The last frame each read frame stands for (itself, or the repeats after it).
    until = np.arange(n)
    np.maximum.at(until, source, np.arange(n))
    if np.any(np.diff(times) < 0):
        raise DpError(ErrorCode.INTERNAL, "merge_lines: frame times must be in increasing order")
    if len(box_frame) and (box_frame.min() < 0 or box_frame.max() >= len(times)):
        raise DpError(ErrorCode.INTERNAL, "merge_lines: box_frame outside the frames")

    lines: list[_Line] = []
    box_line = np.full(len(texts), -1, np.int32)
    order = np.argsort(box_frame, kind="stable")
    boundaries = np.flatnonzero(np.diff(box_frame[order])) + 1
    for group in np.split(order, boundaries) if len(order) else []:
        frame = int(box_frame[group[0]])
        t = float(times[frame])
        open_lines = [
            k
            for k, line in enumerate(lines)
            if frame - line.last_frame - 1 <= config.max_missed_frames
            and t - line.until_s <= config.max_gap_s
        ]
        keys = {int(r): normalise(str(texts[r])) for r in group}
        candidates = []  # (distance relative to allowance, reading, line)
        for r in group:
            for k in open_lines:
                limit = allowed_edits(keys[int(r)], lines[k].key, config)
                if limit < 0:
                    continue
                d = edit_distance(keys[int(r)], lines[k].key, limit)
                if d <= limit:
                    candidates.append((d / (limit + 1), -confidences[r], int(r), k))
        taken_lines: set[int] = set()
        for _, _, r, k in sorted(candidates):
            if box_line[r] >= 0 or k in taken_lines:
                continue
            box_line[r] = k
            taken_lines.add(k)
        for r in group:
            r = int(r)
            if box_line[r] < 0:
                box_line[r] = len(lines)
                lines.append(_Line(first_s=t, until_s=t, last_frame=int(until[frame])))
            line = lines[box_line[r]]
            text = str(texts[r])
            line.variants[text] = line.variants.get(text, 0.0) + float(confidences[r])
            line.confidences.append(float(confidences[r]))
            line.until_s = max(line.until_s, float(times[until[frame]]))
            line.last_frame = max(line.last_frame, int(until[frame]))
            line.key = keys[r]

    if duration_s is not None and n:
        for line in lines:
            if line.last_frame == n - 1:
                line.until_s = max(line.until_s, float(duration_s))

    return OcrLines(
        lines_text=(
            np.array([max(ln.variants.items(), key=lambda kv: kv[1])[0] for ln in lines], str)
            if lines
            else np.zeros(0, "<U1")
        ),
        lines_span_s=np.array([[ln.first_s, ln.until_s] for ln in lines], np.float64).reshape(
            -1, 2
        ),
        lines_confidence=np.array([np.mean(ln.confidences) for ln in lines], np.float32),
        lines_readings=np.array([len(ln.confidences) for ln in lines], np.int32),
        box_line=box_line,
    )
