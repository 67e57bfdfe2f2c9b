"""Area scaling from YUV 4:2:0 planes: per-plane averages, BT.601 colours, either code path."""

import av
import cv2
import numpy as np
import pytest

from dp_resources.media.plane_scaling import _MATRICES, scale_planes_to_rgb

pytestmark = pytest.mark.unit


def yuv_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, values in zip(frame.planes, (y, u, v), strict=True):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        view = np.zeros_like(rows)
        view[: values.shape[0], : values.shape[1]] = values
        plane.update(view.tobytes())
    return frame


def halving_area_resize(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """The documented scaling written out: INTER_AREA halvings while the plane is twice the
    target or more, then one INTER_AREA step to the target."""
    while plane.shape[1] >= 2 * width and plane.shape[0] >= 2 * height:
        half = (plane.shape[1] // 2, plane.shape[0] // 2)
        plane = cv2.resize(plane, half, interpolation=cv2.INTER_AREA)
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)


def per_plane_reference(y, u, v, width, height) -> np.ndarray:
    """Each plane area-resized on its own, then BT.601 (limited range)."""
    yuv = cv2.merge([halving_area_resize(p, width, height) for p in (y, u, v)])
    return cv2.transform(yuv, _MATRICES[False])


@pytest.mark.parametrize(
    ("w", "h", "width", "height"),
    [
        (1280, 720, 160, 90),  # dense: luma halved 3x, chroma 2x, as one image after luma's first
        (1280, 720, 640, 360),  # analysis: luma halved once, chroma as is
        (1920, 1080, 160, 90),  # a last non-halving step
        (642, 362, 160, 90),  # odd chroma planes (321 x 181)
        (330, 250, 160, 121),  # chroma not twice the target: no merged path
    ],
)
def test_scaled_frame_matches_each_plane_scaled_alone(w, h, width, height):
    rng = np.random.default_rng(w + h)
    y = cv2.GaussianBlur(rng.integers(16, 236, (h, w), np.uint8), (5, 5), 1)
    cw, ch = (w + 1) // 2, (h + 1) // 2
    u, v = (rng.integers(16, 241, (ch, cw), np.uint8) for _ in range(2))
    rgb = scale_planes_to_rgb(yuv_frame(y, u, v), width, height)
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, per_plane_reference(y, u, v, width, height))


def test_flat_limited_range_red_stays_red():
    h, w = 720, 1280
    y = np.full((h, w), 81, np.uint8)  # BT.601 limited-range pure red: Y 81, Cb 90, Cr 240
    u, v = np.full((h // 2, w // 2), 90, np.uint8), np.full((h // 2, w // 2), 240, np.uint8)
    rgb = scale_planes_to_rgb(yuv_frame(y, u, v), 160, 90)
    assert np.abs(rgb.reshape(-1, 3).astype(int) - [255, 0, 0]).max() <= 2
