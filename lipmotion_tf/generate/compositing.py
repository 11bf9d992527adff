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


class MouthCompositor:
    """Blends generated lip crops into frames at their crop boxes.

    The colour correction is measured once, from the first pasted crop against ``reference``
    (or the first frame's own mouth region), and the same transform is applied to every crop:
    a per-frame match would flicker and would undo the darkening of an opening mouth.

    Args:
        feather: soft edge width as a fraction of the crop side.
        reference: the identity crop the lips were generated from (RGB uint8). For a video,
            the mouth region of its first frame may be wide open, which a colour match
            against it would read as a colour cast.
    """

    def __init__(self, feather: float = 0.25, reference: np.ndarray | None = None):
        self.feather = float(feather)
        self.reference = None if reference is None else np.asarray(reference, np.uint8)
        self._transfer = None
        self._masks: dict[int, np.ndarray] = {}

    def mask(self, side: int) -> np.ndarray:
        """The ``(side, side, 1)`` blending mask (cached: boxes of a video share few sides)."""
        if side not in self._masks:
            self._masks[side] = feather_mask(side, self.feather)[..., None]
        return self._masks[side]

    def paste(self, frame: np.ndarray, box, crop: np.ndarray) -> np.ndarray:
        """``frame`` (RGB uint8) with ``crop`` (RGB uint8, any size) blended in at ``box``
        (``cx, cy, side``, the square the crop was cut from); ``frame`` is not changed."""
        from lipmotion_tf.video.lip_crop import box_to_rect

        x0, y0, side = box_to_rect(box)
        out = np.array(frame, np.uint8)
        h, w = out.shape[:2]
        top, left = max(y0, 0), max(x0, 0)
        bottom, right = min(y0 + side, h), min(x0 + side, w)
        if bottom <= top or right <= left:
            return out
        target = out[top:bottom, left:right]
        inside = np.s_[top - y0:bottom - y0, left - x0:right - x0]
        resized = _resize(np.asarray(crop, np.uint8), (side, side))[inside]
        if self._transfer is None:
            reference = (target if self.reference is None
                         else _resize(self.reference, (side, side))[inside])
            self._transfer = colour_transfer(resized, reference)
        resized = apply_colour_transfer(resized, *self._transfer)
        mask = self.mask(side)[inside]
        blended = mask * resized.astype(np.float32) + (1.0 - mask) * target.astype(np.float32)
        out[top:bottom, left:right] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out


class FacePaster:
    """Pastes generated lip crops back into one face photo at one crop box.

    Args:
        face: the full photo, RGB uint8.
        box: the crop square ``(centre x, centre y, side)`` in photo pixels.
        feather: soft edge width as a fraction of the crop side.
    """

    def __init__(self, face: np.ndarray, box, feather: float = 0.25):
        self.face = np.asarray(face, np.uint8)
        self.box = np.asarray(box, np.float32)
        self.compositor = MouthCompositor(feather)

    def paste(self, crop: np.ndarray) -> np.ndarray:
        """Returns the photo with ``crop`` (RGB uint8, any size) blended in at the box."""
        return self.compositor.paste(self.face, self.box, crop)


def side_by_side(identity: np.ndarray, frame: np.ndarray, height: int = 256) -> np.ndarray:
    """The identity image and a generated frame next to each other, both ``height`` pixels tall."""
    left = _resize(np.asarray(identity, np.uint8), (height, height))
    right = _resize(np.asarray(frame, np.uint8), (height, height))
    return np.concatenate([left, right], axis=1)
