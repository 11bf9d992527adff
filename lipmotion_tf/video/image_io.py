"""Reading a still image (a face photo or a lip crop) as RGB uint8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError


def read_image(path) -> np.ndarray:
    """Reads ``path`` (any format OpenCV decodes) as an ``(H, W, 3)`` RGB uint8 array.

    Raises:
        InputError: the file is missing or is not a readable image.
    """
    import cv2

    file = Path(path)
    if not file.is_file():
        raise InputError(f"image not found: {path}")
    # imdecode on the bytes, unlike imread, copes with any file name.
    image = cv2.imdecode(np.fromfile(str(file), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path} is not an image that can be read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
