"""Encode synthetic frames to a real video file and decode it back the way the segmenter
does (PyAV, one pass, downscaled RGB chunks), for the tests and the cut benchmark."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter


def encode_mp4(
    path: Path, frames: Iterable[np.ndarray], fps: float, crf: int = 20, preset: str = "veryfast"
) -> Path:
    """Write uint8 RGB frames [H, W, 3] as H.264 (yuv420p) at a constant `fps`."""
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = frame.shape[1], frame.shape[0]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": preset}
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(stream.encode(vf))
        if stream is not None:
            container.mux(stream.encode(None))
    return path


def decode_chunks(
    path: Path, width: int = 160, chunk: int = 250
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (uint8 RGB [n, h, width, 3], times in seconds [n]) chunks of every frame.

    Fast settings for analysis: frame+slice threads, no deblocking (invisible after the
    downscale), and one reused scaler (FAST_BILINEAR, single-threaded: for a 160 px
    output, thread start-up costs more than the scaling).
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.options = {"skip_loop_filter": "all"}
        height = max(2, round(stream.height * width / stream.width / 2) * 2)
        scaler = VideoReformatter()
        step = 1.0 / float(stream.average_rate or 25)  # for a frame without a timestamp
        frames: list[np.ndarray] = []
        times: list[float] = []
        last = -step
        for frame in container.decode(stream):
            small = scaler.reformat(
                frame,
                width=width,
                height=height,
                format="rgb24",
                interpolation="FAST_BILINEAR",
                threads=1,
            )
            frames.append(small.to_ndarray())
            last = float(frame.time) if frame.time is not None else last + step
            times.append(last)
            if len(frames) == chunk:
                yield np.stack(frames), np.asarray(times)
                frames, times = [], []
        if frames:
            yield np.stack(frames), np.asarray(times)
