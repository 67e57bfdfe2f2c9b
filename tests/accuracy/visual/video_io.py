"""Encode synthetic frames to a real video file and decode it back with the segmenter's own
decoder (one pass, downscaled RGB chunks), for the tests and the cut benchmark."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dp_resources.media.dense_frames import dense_frames


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
    """Yield (uint8 RGB [n, h, width, 3], times in seconds [n]) chunks of every frame,
    decoded the way the product decodes: the segmenter's own decoder
    (dp_resources/media/decoder.py: full H.264 decode with deblocking, INTER_AREA scaling
    to `width`), with no frame-rate cap here so every frame of the file is kept.

    (Until issue 32 this skipped deblocking and scaled with FAST_BILINEAR, a cheaper path
    than the product runs; comparisons and speed figures now time the product's path.)
    """
    frames, times, _ = dense_frames(path, max_fps=1000.0, width=width)
    for start in range(0, len(frames), chunk):
        yield frames[start : start + chunk], times[start : start + chunk]
