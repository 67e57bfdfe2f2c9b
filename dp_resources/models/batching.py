"""Model inference batched across the videos of one step (SPEC: "Dynamic batching").

The videos of a run stream their frames, in order, into one buffer; every time it holds
`batch_size` frames the model runs once on them and each output goes back to the video it
came from. A short video no longer costs a half-empty batch of its own, and memory stays at
one batch plus the per-frame outputs. Failures stay per video:

- a video whose frames cannot be read fails alone (its frames leave the buffer);
- a batch whose inference fails after the retries is re-run video by video, so only the
  video that breaks the model gets the error and the others keep their results.

Transient errors (`ErrorCode.transient`) are retried with exponential backoff first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_core.retry import call_with_retries

# (frames [n, ...], times_s [n]) as a video's reader yields them
FrameChunk = tuple[np.ndarray, np.ndarray]
# frames [n, ...] -> n outputs (an array with a leading n axis, or a list of n items)
InferBatch = Callable[[np.ndarray], Sequence]


@dataclass
class VideoOutputs:
    """One video's model outputs, in frame order, or the error that stopped it."""

    times_s: list[np.ndarray] = field(default_factory=list)
    outputs: list = field(default_factory=list)
    error: Exception | None = None
    infer_s: float = 0.0  # this video's share of the model time (by frames per batch)

    @property
    def frame_times_s(self) -> np.ndarray:
        return np.concatenate(self.times_s) if self.times_s else np.zeros(0, np.float64)


@dataclass
class BatchingStats:
    """How full the model calls were: `frames / calls` is the mean batch size."""

    calls: int = 0
    frames: int = 0
    retries: int = 0
    isolations: int = 0  # failed cross-video batches re-run video by video

    @property
    def mean_batch(self) -> float:
        return self.frames / self.calls if self.calls else 0.0


@dataclass
class _Pending:
    video: Hashable
    frames: np.ndarray
    times_s: np.ndarray


class CrossVideoBatcher:
    """Feeds the frames of several videos through `infer` in batches of `batch_size`."""

    def __init__(
        self,
        infer: InferBatch,
        batch_size: int,
        *,
        retries: int = 2,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._infer, self.batch_size = infer, batch_size
        self._retries, self._backoff_s, self._sleep = retries, backoff_s, sleep
        self.stats = BatchingStats()

    def run(self, videos: Mapping[Hashable, Iterator[FrameChunk]]) -> dict[Hashable, VideoOutputs]:
        """Every video's outputs; videos are read one after another, in mapping order."""
        results = {video: VideoOutputs() for video in videos}
        pending: list[_Pending] = []
        for video, chunks in videos.items():
            try:
                for frames, times_s in chunks:
                    if len(frames):
                        pending.append(_Pending(video, frames, np.asarray(times_s)))
                    while sum(len(p.frames) for p in pending) >= self.batch_size:
                        pending = self._flush(pending, results, self.batch_size)
            except Exception as exc:  # this video's reader failed: drop its frames only
                results[video].error = exc
                pending = [p for p in pending if p.video != video]
        while pending:
            pending = self._flush(pending, results, self.batch_size)
        for result in results.values():
            if result.error is not None:
                result.times_s, result.outputs = [], []
        return results

    def _flush(
        self, pending: list[_Pending], results: dict[Hashable, VideoOutputs], size: int
    ) -> list[_Pending]:
        """Run the model on the first `size` pending frames; return what is left."""
        batch, rest, taken = [], [], 0
        for piece in pending:
            room = size - taken
            if room <= 0:
                rest.append(piece)
            elif len(piece.frames) <= room:
                batch.append(piece)
                taken += len(piece.frames)
            else:
                batch.append(_Pending(piece.video, piece.frames[:room], piece.times_s[:room]))
                rest.append(_Pending(piece.video, piece.frames[room:], piece.times_s[room:]))
                taken = size
        live = [p for p in batch if results[p.video].error is None]
        if live:
            self._infer_pieces(live, results)
        return [p for p in rest if results[p.video].error is None]

    def _infer_pieces(self, pieces: list[_Pending], results: dict[Hashable, VideoOutputs]):
        started = time.perf_counter()
        try:
            outputs = self._infer_with_retries(np.concatenate([p.frames for p in pieces]))
        except Exception as exc:
            owners = list(dict.fromkeys(p.video for p in pieces))
            if len(owners) == 1:
                results[owners[0]].error = exc
                return
            self.stats.isolations += 1
            for owner in owners:  # find which video breaks the model; keep the others
                self._infer_pieces([p for p in pieces if p.video == owner], results)
            return
        seconds_per_frame = (time.perf_counter() - started) / len(outputs)
        start = 0
        for piece in pieces:
            n = len(piece.frames)
            result = results[piece.video]
            result.infer_s += n * seconds_per_frame
            result.times_s.append(piece.times_s)
            result.outputs.extend(outputs[start : start + n])
            start += n

    def _infer_with_retries(self, frames: np.ndarray) -> Sequence:
        def infer(_attempt: int) -> Sequence:
            outputs = self._infer(frames)
            if len(outputs) != len(frames):
                raise DpError(
                    ErrorCode.MODEL_BAD_OUTPUT,
                    f"the model returned {len(outputs)} outputs for {len(frames)} frames",
                )
            return outputs

        outputs, _attempts = call_with_retries(
            infer,
            retries=self._retries,
            backoff_s=self._backoff_s,
            on_retry=lambda *_: self._count_retry(),
            sleep=self._sleep,
        )
        self.stats.calls += 1
        self.stats.frames += len(frames)
        return outputs

    def _count_retry(self) -> None:
        self.stats.retries += 1
