"""Square lip crops from face mesh landmarks, for photos and for videos.

The crop rule follows the authors' preprocessing, with mediapipe's 40 lip landmarks in place of
dlib's 20 mouth points: the centre is the centre of the landmarks' bounding box and the side is
``crop_scale * max(w, h)`` (the authors use a radius ``int(0.65 * max(w, h))``, a side of
``1.3 * max(w, h)``). The square is cut from the source frame, padded by repeating (or
reflecting) the border where it leaves the image, and resized with ``cv2.INTER_AREA``.

Videos differ from the authors' per-frame crops in two ways, both to keep crop jitter out of
the training targets (a crop that shakes by a pixel looks like lip motion to the networks):
the face mesh runs in tracking mode, and the boxes (centre and side) are smoothed over time
with a Savitzky-Golay filter (quadratic, 7 frames by default: it removes landmark jitter but
follows head motion without the lag of a moving average). Frames where no face is found take
the box and landmarks of the nearest frame with a face (the earlier one on a tie) and are
flagged in ``face_found``.

A box is ``(cx, cy, side)`` in source pixels; :func:`box_to_rect` turns it into the integer
pixel square that :func:`crop_box` cuts, so code that pastes crops back uses the same pixels.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from lipmotion_tf.errors import InputError, NoFaceError
from lipmotion_tf.video.face_mesh import LIP_INDICES, FaceMeshDetector

SMOOTHING_MODES = ("savgol", "mean", "none")
BORDER_MODES = ("edge", "reflect")


def box_to_rect(box) -> tuple[int, int, int]:
    """The integer square ``(x0, y0, side)`` of a ``(cx, cy, side)`` box, in source pixels."""
    cx, cy, side = (float(v) for v in np.asarray(box, dtype=np.float64).ravel()[:3])
    size = max(1, int(round(side)))
    x0 = int(np.floor(cx - size / 2.0 + 0.5))
    y0 = int(np.floor(cy - size / 2.0 + 0.5))
    return x0, y0, size


def crop_box(image: np.ndarray, box, size: int, border: str = "edge") -> np.ndarray:
    """Cuts the square ``box`` out of ``image`` and resizes it to ``size x size``.

    Args:
        image: ``(H, W, C)`` (or ``(H, W)``) image, any dtype cv2 can resize.
        box: ``(cx, cy, side)`` in pixels of ``image``.
        size: side of the result.
        border: how the parts of the square outside the image are filled: ``edge`` repeats
            the border pixels, ``reflect`` mirrors the image.

    Returns:
        ``(size, size, C)`` array of the image's dtype.
    """
    import cv2

    if border not in BORDER_MODES:
        raise ValueError(f"border must be one of {BORDER_MODES}, got {border!r}")
    height, width = image.shape[:2]
    x0, y0, side = box_to_rect(box)
    # Keep at least one source pixel inside the square so padding has something to repeat.
    x0 = min(max(x0, 1 - side), width - 1)
    y0 = min(max(y0, 1 - side), height - 1)
    x1, y1 = x0 + side, y0 + side
    patch = image[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    pads = ((max(0, -y0), max(0, y1 - height)), (max(0, -x0), max(0, x1 - width)))
    if any(p for pair in pads for p in pair):
        mode = "edge" if border == "edge" or min(patch.shape[:2]) < 2 else "reflect"
        patch = np.pad(patch, pads + ((0, 0),) * (patch.ndim - 2), mode=mode)
    if side == size:
        return np.ascontiguousarray(patch)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def _smooth(values: np.ndarray, mode: str, window: int) -> np.ndarray:
    """Smooths ``(T, K)`` values along time with edges handled without shrinking."""
    count = values.shape[0]
    window = min(window, count if count % 2 else count - 1)
    if mode == "none" or window < 3:
        return values
    if mode == "savgol":
        from scipy.signal import savgol_filter

        polyorder = min(2, window - 1)
        return savgol_filter(values, window, polyorder, axis=0, mode="interp")
    half = window // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack(
        [np.convolve(padded[:, k], kernel, mode="valid") for k in range(values.shape[1])], axis=1
    )


@dataclasses.dataclass
class LipCrops:
    """The lip crops of a video and where they came from.

    Attributes:
        frames: ``(T, S, S, 3)`` uint8 RGB crops.
        boxes: ``(T, 3)`` float32 smoothed crop squares ``cx, cy, side`` in source pixels.
        landmarks: ``(T, 40, 2)`` float32 lip landmarks in source pixels, ordered as
            :data:`~lipmotion_tf.video.face_mesh.LIP_INDICES` (copied from the nearest
            frame with a face where none was found).
        face_found: ``(T,)`` bool, whether the face mesh found a face in the frame.
    """

    frames: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    face_found: np.ndarray


class LipCropper:
    """Finds the mouth with mediapipe's face mesh and cuts square lip crops around it.

    Args:
        image_size: side of the crops in pixels (64 as the paper).
        crop_scale: crop side relative to the larger side of the lips' bounding box (1.3 as
            the authors' ``2 * 0.65``).
        smoothing: temporal smoothing of video boxes: ``savgol`` (Savitzky-Golay, quadratic),
            ``mean`` (centred moving average) or ``none`` (per-frame boxes, as the authors).
        smoothing_window: frames in the smoothing window (odd; shortened for short clips).
        border: filling where a crop leaves the frame: ``edge`` or ``reflect``.
        min_detection_confidence: face detector threshold in [0, 1].
    """

    def __init__(
        self,
        image_size: int = 64,
        crop_scale: float = 1.3,
        smoothing: str = "savgol",
        smoothing_window: int = 7,
        border: str = "edge",
        min_detection_confidence: float = 0.5,
    ):
        if smoothing not in SMOOTHING_MODES:
            raise ValueError(f"smoothing must be one of {SMOOTHING_MODES}, got {smoothing!r}")
        if border not in BORDER_MODES:
            raise ValueError(f"border must be one of {BORDER_MODES}, got {border!r}")
        if image_size < 1 or crop_scale <= 0 or smoothing_window < 1:
            raise ValueError("image_size, crop_scale and smoothing_window must be positive")
        self.image_size = int(image_size)
        self.crop_scale = float(crop_scale)
        self.smoothing = smoothing
        self.smoothing_window = int(smoothing_window) | 1  # odd
        self.border = border
        self.min_detection_confidence = float(min_detection_confidence)

    def box_from_landmarks(self, lip_landmarks: np.ndarray) -> np.ndarray:
        """Crop boxes ``(..., 3)`` of lip landmarks ``(..., 40, 2)``, before any smoothing."""
        lip_landmarks = np.asarray(lip_landmarks, dtype=np.float32)
        low, high = lip_landmarks.min(axis=-2), lip_landmarks.max(axis=-2)
        centre = (low + high) / 2.0
        side = self.crop_scale * (high - low).max(axis=-1, keepdims=True)
        return np.concatenate([centre, side], axis=-1).astype(np.float32)

    def crop_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lip crop of a single photo.

        Args:
            image: ``(H, W, 3)`` RGB uint8 image.

        Returns:
            ``(crop, box, landmarks)``: ``(S, S, 3)`` uint8 crop, ``(3,)`` box and
            ``(40, 2)`` lip landmarks in source pixels.

        Raises:
            NoFaceError: no face in the image.
            InputError: the image is not ``(H, W, 3)`` uint8.
        """
        with FaceMeshDetector(
            static_image_mode=True, min_detection_confidence=self.min_detection_confidence
        ) as detector:
            landmarks = detector.detect(image)
        if landmarks is None:
            raise NoFaceError("no face found in the image")
        lips = landmarks[list(LIP_INDICES)]
        box = self.box_from_landmarks(lips)
        return crop_box(image, box, self.image_size, self.border), box, lips

    def track_lips(self, frames: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Runs the face mesh in tracking mode over the frames of one video.

        Returns:
            ``(landmarks, face_found)``: ``(T, 40, 2)`` float32 lip landmarks (NaN where no
            face was found) and ``(T,)`` bool.
        """
        found, points = [], []
        with FaceMeshDetector(
            static_image_mode=False, min_detection_confidence=self.min_detection_confidence
        ) as detector:
            for frame in frames:
                landmarks = detector.detect(frame)
                found.append(landmarks is not None)
                points.append(
                    landmarks[list(LIP_INDICES)] if landmarks is not None
                    else np.full((len(LIP_INDICES), 2), np.nan, np.float32)
                )
        if not points:
            raise InputError("the video holds no frames")
        return np.stack(points).astype(np.float32), np.asarray(found, dtype=bool)

    def smooth_boxes(
        self, landmarks: np.ndarray, face_found: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame boxes from tracked landmarks, gaps filled and smoothed over time.

        Args:
            landmarks: ``(T, 40, 2)`` lip landmarks (ignored where ``face_found`` is false).
            face_found: ``(T,)`` bool.

        Returns:
            ``(boxes, landmarks)``: ``(T, 3)`` smoothed boxes and the landmarks with the
            nearest found frame's copied into frames without a face.

        Raises:
            NoFaceError: no frame has a face.
        """
        face_found = np.asarray(face_found, dtype=bool)
        good = np.flatnonzero(face_found)
        if good.size == 0:
            raise NoFaceError("no face found in any frame of the video")
        # Nearest good frame for every frame; ties go to the earlier one.
        position = np.clip(np.searchsorted(good, np.arange(face_found.size)), 1, max(1, good.size - 1))
        if good.size == 1:
            nearest = np.zeros(face_found.size, dtype=np.int64)
        else:
            before, after = good[position - 1], good[position]
            frame = np.arange(face_found.size)
            nearest = np.where(frame - before <= after - frame, position - 1, position)
        filled = np.asarray(landmarks, dtype=np.float32)[good][nearest]
        boxes = self.box_from_landmarks(filled).astype(np.float64)
        boxes = _smooth(boxes, self.smoothing, self.smoothing_window)
        return boxes.astype(np.float32), filled

    def crop_frames(self, frames: Iterable[np.ndarray], boxes: np.ndarray) -> np.ndarray:
        """Cuts ``boxes[t]`` out of frame ``t``: ``(T, S, S, 3)`` uint8."""
        crops = [crop_box(frame, box, self.image_size, self.border) for frame, box in zip(frames, boxes)]
        if len(crops) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes for {len(crops)} frames")
        return np.stack(crops).astype(np.uint8)

    def crop_video(self, frames: np.ndarray) -> LipCrops:
        """Lip crops of all frames of one video (held in memory).

        Args:
            frames: ``(T, H, W, 3)`` RGB uint8 frames, in order (or a list of frames).

        Raises:
            NoFaceError: no frame has a face.
            InputError: no frames, or frames that are not ``(H, W, 3)`` uint8.
        """
        landmarks, face_found = self.track_lips(frames)
        boxes, landmarks = self.smooth_boxes(landmarks, face_found)
        return LipCrops(
            frames=self.crop_frames(frames, boxes),
            boxes=boxes,
            landmarks=landmarks,
            face_found=face_found,
        )
