"""Reading a still image (a face photo or a lip crop) as RGB uint8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

# Smallest side of an identity image: below it no lip shape is left to copy.
MIN_IMAGE_SIZE = 16


def check_image(image, source: str = "the image") -> np.ndarray:
    """``image`` as an array once it is RGB uint8 ``(H, W, 3)`` of at least
    :data:`MIN_IMAGE_SIZE` pixels a side.

    Raises:
        InputError: another shape or type, or too small.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"{source} must be RGB uint8 (H, W, 3), got {image.shape} {image.dtype}")
    if min(image.shape[:2]) < MIN_IMAGE_SIZE:
        raise InputError(f"{source} is {image.shape[1]}x{image.shape[0]} pixels; at least "
                         f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} is needed")
    return image


def read_image(path) -> np.ndarray:
    """Reads ``path`` (any format OpenCV decodes) as an ``(H, W, 3)`` RGB uint8 array.

    Raises:
        InputError: the file is missing, empty or is not a readable image.
    """
    import cv2

    file = Path(path)
    if not file.is_file():
        raise InputError(f"image not found: {path}")
    data = np.fromfile(str(file), np.uint8)
    if data.size == 0:  # imdecode asserts on an empty buffer instead of returning None
        raise InputError(f"{path} is empty (0 bytes), not an image")
    # imdecode on the bytes, unlike imread, copes with any file name.
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise InputError(f"{path} is not an image that can be read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
