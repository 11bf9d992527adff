"""Output layouts: generated lips alone, beside the identity image, or pasted into the face.

Pasting uses a feathered (soft-edged) elliptical mask and matches the generated crop's colour
statistics to the photo's own mouth region, so no box is visible around the mouth.
"""

from __future__ import annotations

import numpy as np

LAYOUTS = ("lips", "side-by-side", "face")


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    interpolation = cv2.INTER_CUBIC if size[0] > image.shape[1] else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interpolation)


def feather_mask(side: int, feather: float = 0.25) -> np.ndarray:
    """A ``(side, side)`` float32 mask: 1 in the centre, falling smoothly to 0 at the edges.

    Args:
        side: mask size in pixels.
        feather: width of the soft edge as a fraction of the side.
    """
    coords = (np.arange(side) + 0.5) / side * 2.0 - 1.0
    radius = np.sqrt(coords[None, :] ** 2 + coords[:, None] ** 2)
    inner = max(1e-3, 1.0 - 2.0 * feather)
    ramp = np.clip((1.0 - radius) / (1.0 - inner), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep


def colour_transfer(source: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel Lab gain and offset that give ``source`` the mean and spread of ``reference``."""
    import cv2

    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    gain = (ref.std(axis=(0, 1)) + 1e-3) / (src.std(axis=(0, 1)) + 1e-3)
    offset = ref.mean(axis=(0, 1)) - src.mean(axis=(0, 1)) * gain
    return gain, offset


def apply_colour_transfer(image: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    import cv2

    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32) * gain + offset
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


class FacePaster:
    """Pastes generated lip crops back into a face photo at the crop box.

    The colour correction is measured once, from the first pasted frame against the photo's own
    mouth region, and the same transform is applied to every frame: a per-frame match would
    flicker and would undo the darkening of an opening mouth.

    Args:
        face: the full photo, RGB uint8.
        box: the crop square ``(centre x, centre y, side)`` in photo pixels.
        feather: soft edge width as a fraction of the crop side.
    """

    def __init__(self, face: np.ndarray, box, feather: float = 0.25):
        from lipmotion_tf.video.lip_crop import box_to_rect

        self.face = np.asarray(face, np.uint8)
        # The same pixel square the crop was cut from.
        self.x0, self.y0, self.side = box_to_rect(box)
        self.mask = feather_mask(self.side, feather)[..., None]
        self._transfer = None

    def _region(self):
        h, w = self.face.shape[:2]
        x0, y0 = max(self.x0, 0), max(self.y0, 0)
        x1, y1 = min(self.x0 + self.side, w), min(self.y0 + self.side, h)
        return (y0, y1, x0, x1), (y0 - self.y0, y1 - self.y0, x0 - self.x0, x1 - self.x0)

    def paste(self, crop: np.ndarray) -> np.ndarray:
        """Returns the photo with ``crop`` (RGB uint8, any size) blended in at the box."""
        (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) = self._region()
        out = self.face.copy()
        if y1 <= y0 or x1 <= x0:
            return out
        target = out[y0:y1, x0:x1]
        resized = _resize(np.asarray(crop, np.uint8), (self.side, self.side))[cy0:cy1, cx0:cx1]
        if self._transfer is None:
            self._transfer = colour_transfer(resized, target)
        resized = apply_colour_transfer(resized, *self._transfer)
        mask = self.mask[cy0:cy1, cx0:cx1]
        blended = mask * resized.astype(np.float32) + (1.0 - mask) * target.astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out


def side_by_side(identity: np.ndarray, frame: np.ndarray, height: int = 256) -> np.ndarray:
    """The identity image and a generated frame next to each other, both ``height`` pixels tall."""
    left = _resize(np.asarray(identity, np.uint8), (height, height))
    right = _resize(np.asarray(frame, np.uint8), (height, height))
    return np.concatenate([left, right], axis=1)
