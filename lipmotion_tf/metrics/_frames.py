"""Frame conversions shared by the image metrics: to uint8, to grayscale, to a clip.

Metrics take frames either as uint8 (0-255) or as the project's float tensors in [-1, 1];
both are turned into uint8 the same way, so a metric never depends on which one it was given.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.video import pixels

# A float frame may stray this far outside [-1, 1] (rounding in a tanh output) and still be clipped.
_FLOAT_RANGE_SLACK = 1e-3

# ITU-R BT.601 luma weights, as OpenCV's RGB2GRAY, PIL's "L" and MATLAB's rgb2gray.
BT601_WEIGHTS = (0.299, 0.587, 0.114)


def checked_uint8(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Returns ``frames`` as uint8 in 0-255, checking their range first.

    uint8 arrays are returned unchanged. Floating arrays are taken as the project's [-1, 1]
    convention and mapped by :func:`lipmotion_tf.video.pixels.to_uint8`; other integer
    arrays must already hold 0-255.

    Raises:
        InputError: non-finite values, or values outside the range of their type's convention
            (a float array in 0-255 or 0-1 is an error, not something to guess about).
    """
    array = np.asarray(frames)
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InputError(f"{name}: holds NaN or infinite values")
        if array.size and (array.min() < -1 - _FLOAT_RANGE_SLACK or array.max() > 1 + _FLOAT_RANGE_SLACK):
            raise InputError(
                f"{name}: float frames must lie in [-1, 1], got [{array.min():.3g}, {array.max():.3g}]"
            )
        return pixels.to_uint8(array)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InputError(f"{name}: integer frames must lie in 0-255")
        return array.astype(np.uint8)
    raise InputError(f"{name}: expected uint8 or float frames, got dtype {array.dtype}")


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of uint8 RGB (``(..., 3)``), rounded half up to uint8.

    OpenCV and PIL compute the same weights in fixed point and can differ from this by one
    level on a few pixels.
    """
    weights = np.asarray(BT601_WEIGHTS, dtype=np.float64)
    luma = rgb.astype(np.float64) @ weights
    return np.clip(np.floor(luma + 0.5), 0, 255).astype(np.uint8)


def gray_clip(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Returns frames as a ``(T, H, W)`` uint8 grayscale clip.

    Accepted layouts: one frame ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB), or a clip
    ``(T, H, W)`` (gray) or ``(T, H, W, 3)`` (RGB); ``(..., 1)`` counts as gray. A 3-D array
    whose last axis has length 3 is read as one RGB frame.

    Raises:
        InputError: another shape, or values as rejected by :func:`to_uint8`.
    """
    array = checked_uint8(frames, name)
    if array.ndim >= 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim >= 3 and array.shape[-1] == 3:
        array = rgb_to_gray(array)
        if array.ndim == 2:
            array = array[None]
    elif array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise InputError(
            f"{name}: expected (H, W), (H, W, 3), (T, H, W) or (T, H, W, 3) frames, got {np.shape(frames)}"
        )
    return array


def paired_gray_clips(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as ``(T, H, W)`` uint8 grayscale clips of the same shape."""
    clip_a = gray_clip(a, "a")
    clip_b = gray_clip(b, "b")
    if clip_a.shape != clip_b.shape:
        raise InputError(f"frames to compare differ in shape: {np.shape(a)} vs {np.shape(b)}")
    return clip_a, clip_b
