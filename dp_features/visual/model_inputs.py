"""Frames -> the pixel tensors that CLIP and MiDaS take, as their reference pipelines make them.

Input: uint8 RGB frames [n, H, W, 3] of any size. Output: float32 NCHW tensors, normalised
per channel: `(value / 255 - mean) / std`.

- `clip_pixels` -> [n, 3, 224, 224], as OpenCLIP's `image_transform` for ViT-B-32 does it:
  resize the shortest side to 224 (the other side `int(224 * long / short)`, as
  torchvision's `Resize(224)` computes it) with PIL's bicubic, centre crop 224 x 224 (offset
  `round((size - 224) / 2)`, as torchvision's `CenterCrop`), then CLIP's mean / std. We
  resize with PIL (a platform dependency) rather than OpenCV because PIL's bicubic widens its
  kernel when it shrinks (antialiasing) and OpenCV's `INTER_CUBIC` does not: on a 1280 x 720
  frame they differ by ~5 grey levels on average, PIL's result is the one CLIP was trained on.
- `midas_pixels` -> [n, 3, 256, 256], as MiDaS v2.1 small's ONNX pipeline does it: RGB / 255,
  stretched to 256 x 256 (aspect ratio not kept) with OpenCV's `INTER_CUBIC` on the float
  image, then ImageNet's mean / std.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from dp_core.errors import DpError, ErrorCode

CLIP_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

MIDAS_SIZE = 256
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def clip_pixels(frames: np.ndarray) -> np.ndarray:
    """float32 [n, 3, 224, 224]: CLIP's input for uint8 RGB frames [n, H, W, 3]."""
    frames = _checked_frames(frames)
    crops = np.empty((len(frames), CLIP_SIZE, CLIP_SIZE, 3), np.uint8)
    for i, frame in enumerate(frames):
        height, width = shortest_side_size(frame.shape[0], frame.shape[1], CLIP_SIZE)
        image = Image.fromarray(np.ascontiguousarray(frame))
        if (height, width) != frame.shape[:2]:
            image = image.resize((width, height), Image.Resampling.BICUBIC)
        top, left = centre_crop_offset(height, CLIP_SIZE), centre_crop_offset(width, CLIP_SIZE)
        crops[i] = np.asarray(image)[top : top + CLIP_SIZE, left : left + CLIP_SIZE]
    return _normalised_nchw(crops.astype(np.float32) / 255.0, CLIP_MEAN, CLIP_STD)


def midas_pixels(frames: np.ndarray) -> np.ndarray:
    """float32 [n, 3, 256, 256]: MiDaS v2.1 small's input for uint8 RGB frames [n, H, W, 3]."""
    frames = _checked_frames(frames)
    resized = np.empty((len(frames), MIDAS_SIZE, MIDAS_SIZE, 3), np.float32)
    for i, frame in enumerate(frames):
        resized[i] = cv2.resize(
            frame.astype(np.float32) / 255.0,
            (MIDAS_SIZE, MIDAS_SIZE),
            interpolation=cv2.INTER_CUBIC,
        )
    return _normalised_nchw(resized, IMAGENET_MEAN, IMAGENET_STD)


def shortest_side_size(height: int, width: int, short: int) -> tuple[int, int]:
    """(height, width) after scaling the shortest side to `short` pixels; the longer side is
    `int(short * long / short_side)` (truncated, as torchvision's `Resize(int)`)."""
    if width <= height:
        return int(short * height / width), short
    return short, int(short * width / height)


def centre_crop_offset(size: int, crop: int) -> int:
    """First pixel of a centred `crop` along a side of `size` pixels (torchvision's
    `CenterCrop`: `int(round((size - crop) / 2))`, half rounded to even)."""
    return round((size - crop) / 2)


def _checked_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise DpError(
            ErrorCode.INTERNAL,
            f"model inputs take uint8 RGB frames [n, H, W, 3], got {frames.dtype} {frames.shape}",
        )
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise DpError(ErrorCode.INTERNAL, f"empty frames {frames.shape}")
    return frames


def _normalised_nchw(
    images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]
) -> np.ndarray:
    """[n, H, W, 3] values in 0..1 -> float32 [n, 3, H, W] `(value - mean) / std`."""
    normalised = (images - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(0, 3, 1, 2), dtype=np.float32)
