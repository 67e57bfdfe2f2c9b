"""Area-averaged downscaling of decoded YUV 4:2:0 frames straight from their planes.

The dense stream needs every native frame shrunk to ~160 px wide. swscale's AREA filter
costs ~1.5 ms per 720p frame (it filters at the source size, then converts), three times
the decode itself; OpenCV's INTER_AREA on the three planes, then a BT.601 matrix on the
small picture, gives the same averages for a fraction of that (benchmarks/segmenter.py).
Other pixel formats (10-bit, 4:2:2, RGB sources) keep swscale: they are rare and exact.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

PLANAR_420 = {"yuv420p": False, "yuvj420p": True}  # format -> full (JPEG) range

# BT.601 (swscale's default when a file does not say otherwise), rows: R, G, B from Y, U, V
_BT601 = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])


def yuv_to_rgb_matrix(full_range: bool) -> np.ndarray:
    """3 x 4 affine map from Y, U, V code values (0..255) to RGB, for `cv2.transform`."""
    if full_range:
        scale, offsets = np.ones(3), np.array([0.0, 128.0, 128.0])
    else:  # limited range: Y 16..235, U/V 16..240 stretched to full scale
        scale = np.array([255.0 / 219.0, 255.0 / 224.0, 255.0 / 224.0])
        offsets = np.array([16.0, 128.0, 128.0])
    linear = _BT601 * scale
    return np.hstack([linear, -(linear @ offsets)[:, None]]).astype(np.float32)


_MATRICES = {full: yuv_to_rgb_matrix(full) for full in (False, True)}


def plane_scalable(frame: av.VideoFrame) -> bool:
    return frame.format.name in PLANAR_420


def scale_planes_to_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """uint8 RGB [height, width, 3]: each output pixel the area mean of its source pixels."""
    full_range = PLANAR_420[frame.format.name] or frame.color_range == 2
    y, u, v = (_plane(frame, i) for i in range(3))
    size = (width, height)
    if y.shape[1] >= 2 * width and y.shape[0] >= 2 * height and _halved(y.shape) == u.shape:
        # luma's first halving lands on the chroma size: from there the three planes take the
        # same steps, as one 3-channel image (per channel the same averages, fewer calls)
        y = cv2.resize(y, _halved(y.shape)[::-1], interpolation=cv2.INTER_AREA)
        yuv = area_resize(cv2.merge([y, u, v]), size)
    else:
        yuv = cv2.merge([area_resize(p, size) for p in (y, u, v)])
    return cv2.transform(yuv, _MATRICES[full_range])  # uint8, rounded and saturated


def _halved(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[0] // 2, shape[1] // 2


def area_resize(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """INTER_AREA to `size`, halving first while the plane is twice the target or more:
    OpenCV's exact-2x area path is SIMD and about twice as fast as one large-factor step
    (the two roundings differ from one step by at most 2 code values)."""
    width, height = size
    while plane.shape[1] >= 2 * width and plane.shape[0] >= 2 * height:
        half = (plane.shape[1] // 2, plane.shape[0] // 2)
        plane = cv2.resize(plane, half, interpolation=cv2.INTER_AREA)
    if (plane.shape[1], plane.shape[0]) == size:
        return plane  # what cv2.resize to the same size returns: a copy
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA)


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    rows = frame.height if index == 0 else (frame.height + 1) // 2
    cols = frame.width if index == 0 else (frame.width + 1) // 2
    data = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return data[:rows, :cols]
