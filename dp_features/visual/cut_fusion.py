"""Shot boundaries from our detector's candidates confirmed by TransNetV2.

Our detector (cut_detection.py) is cheap and knows things a frame classifier does not: a
picture that comes back within a fraction of a second was a flash, not a cut; a run of flat
frames between two pictures is one fade with a span; a linear blend of two pictures is one
dissolve. It is weak where a learned model is strong: a plain cut between two shots of
similar brightness and structure can stay below its thresholds, and fast motion inside a
shot (a hand sweeping across the frame) can pass them. TransNetV2 (transnet_windows.py)
has the opposite profile: it finds every hard cut but also fires on a two-frame flash and
may split a fade into two.

So `CombinedCutDetector` runs our detector with *lower* hard-cut thresholds (candidates,
`candidate_config`), keeps its flash rejection and its fade and dissolve spans, and asks
TransNetV2 about each candidate only (a short window around it, not every frame: the model
costs ~0.4 GMAC per frame, far too much for 20x real time on a CPU):

* a hard-cut candidate at frame k is a cut when TransNetV2's `single_frame` probability
  peaks at or above `hard_threshold` within +-`hard_reach` frames of k;
* a dissolve candidate (blend test) is one transition when TransNetV2's probability
  (either output) reaches `gradual_threshold` anywhere inside its span;
* a fade through a flat colour (flat frames between two different pictures) is kept as
  our detector found it: flat frames are unambiguous and its span is already one event.

Memory stays bounded: only the 48x27 thumbnails of the last few seconds are kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from dp_features.visual.cut_detection import (
    CutDetection,
    CutDetectionConfig,
    CutDetector,
    _Event,
    _result,
)
from dp_features.visual.frame_chunks import rgb_chunk
from dp_features.visual.transnet_windows import (
    Runner,
    probabilities_around,
    transnet_thumbnails,
)


def candidate_config(base: CutDetectionConfig | None = None) -> CutDetectionConfig:
    """Our detector with weak hard-cut candidates on (TransNetV2 judges those)."""
    return dataclasses.replace(
        base or CutDetectionConfig(), weak_min_score=0.2, weak_ratio=1.5, weak_margin=0.08
    )


@dataclass(frozen=True)
class FusionConfig:
    hard_threshold: float = 0.5  # TransNetV2 single-frame probability at a candidate cut
    hard_reach: int = 2  # frames either side of the candidate where its peak may be
    gradual_threshold: float = 0.3  # either output, anywhere inside a dissolve's span
    context: int = 25  # frames of context either side (as in the published windows)
    keep_s: float = 12.0  # seconds of thumbnails kept for candidates found late


class CombinedCutDetector:
    """`update()` chunk by chunk with the dense frames, then `finish()`; the result has the
    same arrays as `CutDetector`'s."""

    def __init__(
        self,
        transnet: Runner,
        config: FusionConfig | None = None,
        cut_config: CutDetectionConfig | None = None,
    ):
        self.config = config or FusionConfig()
        self._transnet = transnet
        self._ours = CutDetector(candidate_config(cut_config))
        self._thumbs = np.zeros((0, 27, 48, 3), np.uint8)
        self._times = np.zeros(0, np.float64)
        self._base = 0  # global index of self._thumbs[0]
        self._seen = 0  # events of our detector already judged
        self._accepted: list[_Event] = []
        self.model_windows = 0  # how many windows TransNetV2 ran (for benchmarks)

    def update(self, frames: np.ndarray, times_s: np.ndarray) -> None:
        frames, times_s = rgb_chunk(frames, times_s, "cut detection")
        if len(frames) == 0:
            return
        self._ours.update(frames, times_s)
        self._thumbs = np.concatenate([self._thumbs, transnet_thumbnails(frames)])
        self._times = np.concatenate([self._times, times_s])
        self._judge_new_events()
        drop = int(np.searchsorted(self._times, self._times[-1] - self.config.keep_s))
        if drop > 0:
            self._thumbs, self._times = self._thumbs[drop:], self._times[drop:]
            self._base += drop

    def finish(self, duration_s: float | None = None) -> CutDetection:
        ours = self._ours.finish(duration_s)
        self._judge_new_events()
        return _result(self._accepted, ours.duration_s)

    def _judge_new_events(self) -> None:
        events = self._ours.events[self._seen :]
        self._seen += len(events)
        c, n = self.config, len(self._thumbs)
        asks: list[tuple[_Event, int, int]] = []  # event, first and last frame (buffer)
        for e in events:
            if e.source in ("fade", "wipe") or (e.source == "cut" and e.strict):
                self._accepted.append(e)
                continue
            if e.source == "cut":
                a, b = e.frame - c.hard_reach, e.frame + c.hard_reach
            else:  # a dissolve: its span
                a = self._base + int(np.searchsorted(self._times, e.start_s))
                b = self._base + int(np.searchsorted(self._times, e.end_s, side="right")) - 1
            a, b = max(a - self._base, 0), min(b - self._base, n - 1)
            if b < a:
                self._accepted.append(e)  # its frames have left the buffer: keep our verdict
                continue
            asks.append((e, a, b))
        if not asks:
            return
        answers = probabilities_around(
            self._count_windows, self._thumbs, [(a, b + 1) for _, a, b in asks], c.context
        )
        for (e, _, _), (single, many) in zip(asks, answers, strict=True):
            if e.source == "cut":
                keep = float(single.max()) >= c.hard_threshold
            else:
                keep = max(float(single.max()), float(many.max())) >= c.gradual_threshold
            if keep:
                self._accepted.append(e)

    def _count_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.model_windows += len(windows)
        return self._transnet(windows)
