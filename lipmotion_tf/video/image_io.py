"""Reading a still image (a face photo or a lip crop) as RGB uint8, with its memory bounded.

An image's size is read from its header before anything is decoded, and one of more than
:data:`MAX_IMAGE_PIXELS` is refused (a 48 KB PNG can declare 20000x20000 pixels, 1.2 GB
decoded). :func:`scaled_to` scales a photo down to a long side (``lipmotion generate
--max-size``): the face search and every frame of a video made from it then work at that size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

# Smallest side of an identity image: below it no lip shape is left to copy.
MIN_IMAGE_SIZE = 16
#: Most pixels an image file may declare (a 108-megapixel phone photo is refused: 300 MB
#: decoded, and the face search would work on all of it).
MAX_IMAGE_PIXELS = 100_000_000
#: Default long side, in pixels, photos are scaled down to (``lipmotion generate --max-size``),
#: and the largest that option takes. The motion renderer's memory grows with the area of the
#: mouth in pixels: on a 12 MP photo, 3 s of speech peaked at 2.1 GB at 1280, 3.3 GB at 2048
#: (benchmarks/input_memory.py, docs/deployment.md).
DEFAULT_MAX_SIZE = 1280
MAX_PHOTO_SIZE = 16384
#: Largest height of the lips layouts' frames (``--size``).
MAX_OUTPUT_SIZE = 2048


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


def header_size(path) -> tuple[int, int] | None:
    """``(width, height)`` read from an image file's header without decoding its pixels; None
    when Pillow does not know the format (OpenCV may still decode it).

    Raises:
        InputError: the header declares more than :data:`MAX_IMAGE_PIXELS` pixels.
    """
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError as error:  # Pillow's own limit, above ours
        import re

        count = re.search(r"\((\d+) pixels\)", str(error))  # Pillow names the count
        size = f"{int(count.group(1)) / 1e6:,.0f} megapixels" if count else "more"
        raise InputError(f"{path} declares {size}, more than the limit of "
                         f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels; scale it down first"
                         ) from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError):
        return None
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{path} declares {width}x{height} pixels, more than the limit of "
                         f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels; scale it down first")
    return width, height


def scaled_to(image: np.ndarray, max_size: int | None) -> np.ndarray:
    """``image`` scaled down (area averaging) so that its long side is at most ``max_size``
    pixels; unchanged when it already is, or when ``max_size`` is None or 0."""
    import cv2

    height, width = image.shape[:2]
    if not max_size or max(height, width) <= max_size:
        return image
    scale = max_size / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def read_image(path) -> np.ndarray:
    """Reads ``path`` (any format OpenCV decodes) as an ``(H, W, 3)`` RGB uint8 array.

    Raises:
        InputError: the file is missing, a folder, empty, not a readable image, or declares
            more than :data:`MAX_IMAGE_PIXELS` pixels (checked before decoding).
    """
    import cv2

    file = Path(path)
    if file.is_dir():
        raise InputError(f"{path} is a folder, not an image; give one image file")
    if not file.is_file():
        raise InputError(f"image not found: {path}")
    header_size(file)
    data = np.fromfile(str(file), np.uint8)
    if data.size == 0:  # imdecode asserts on an empty buffer instead of returning None
        raise InputError(f"{path} is empty (0 bytes), not an image")
    # imdecode on the bytes, unlike imread, copes with any file name.
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    del data
    if image is None:
        raise InputError(f"{path} is not an image that can be read")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:  # a format Pillow did not know
        raise InputError(f"{path} holds {image.shape[1]}x{image.shape[0]} pixels, more than "
                         f"the limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
