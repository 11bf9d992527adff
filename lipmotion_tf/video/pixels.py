"""The one mapping between the networks' pixel range [-1, 1] and uint8 0-255 at inference."""

from __future__ import annotations

import numpy as np


def to_uint8(frames) -> np.ndarray:
    """[-1, 1] floats to uint8: ``(x + 1) * 127.5`` rounded half up, clipped to 0-255.

    Computed in the input's float type, as the serving graph's ``to_uint8_tf`` does in
    float32, so both give the same bytes.
    """
    frames = np.asarray(frames)
    if not np.issubdtype(frames.dtype, np.floating):
        frames = frames.astype(np.float32)
    return np.clip((frames + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_unit_range(image_uint8) -> np.ndarray:
    """uint8 RGB to float32 in [-1, 1] (``x / 127.5 - 1``, as the serving graph)."""
    return np.asarray(image_uint8, np.float32) / 127.5 - 1.0
