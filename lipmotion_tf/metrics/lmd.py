"""LMD, the landmark distance between real and generated lips (the paper's section 5.1).

Lip landmarks are detected on the real and on the generated frames; in every frame each set
is centred on its own mean point (which removes where the mouth sits in the crop), and the
Euclidean distance between corresponding points is taken.

* The paper defines LMD as that distance averaged over the points and the frames
  (``reduce="mean"``). The authors' evaluation code instead sums the distances over the
  points and averages the sums over the frames (``reduce="sum"``), a value 20 times larger
  for their 20 points. This project follows the paper by default.
* Point set. The paper used dlib's 68-point model and its 20 mouth points (48-67: 12 on the
  outer lip contour, 8 on the inner one). dlib's model is a separate download, so this
  project uses mediapipe's face mesh, whose model ships in its wheel, and its 40 lip points
  (:data:`lipmotion_tf.video.face_mesh.LIP_INDICES`: 20 outer, 20 inner). Values are therefore
  not comparable with the paper's tables, only between models measured the same way.
* Detection. Landmark detectors need a face, not a 64x64 lip crop: the authors pasted both
  the real and the generated crops into the same face photo (``bg.jpg``) before running dlib.
  :func:`lip_landmarks_from_crops` does the same, into the frame each crop came from (or any
  face image), and returns the points in crop pixels so real and generated crops are measured
  the same way.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.metrics._frames import checked_uint8

REDUCTIONS = ("mean", "sum")


def _landmark_array(landmarks: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(landmarks, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[-1] != 2 or 0 in array.shape:
        raise InputError(f"{name}: expected (T, P, 2) landmarks, got shape {np.shape(landmarks)}")
    return array


def landmark_distances(real_landmarks: np.ndarray, fake_landmarks: np.ndarray) -> np.ndarray:
    """Per-frame, per-point distances between mean-centred landmark sets.

    Args:
        real_landmarks, fake_landmarks: ``(T, P, 2)`` (or one ``(P, 2)`` frame) in pixels.

    Returns:
        ``(T, P)`` distances; a frame where either set holds NaN (landmarks not found) is NaN.

    Raises:
        InputError: shapes are not ``(T, P, 2)`` or differ.
    """
    real = _landmark_array(real_landmarks, "real_landmarks")
    fake = _landmark_array(fake_landmarks, "fake_landmarks")
    if real.shape != fake.shape:
        raise InputError(f"real and generated landmarks differ in shape: {real.shape} vs {fake.shape}")
    real = real - real.mean(axis=1, keepdims=True)
    fake = fake - fake.mean(axis=1, keepdims=True)
    return np.linalg.norm(real - fake, axis=-1)


def landmark_distance(real_landmarks: np.ndarray, fake_landmarks: np.ndarray, reduce: str = "mean") -> float:
    """LMD between real and generated lip landmarks, in pixels (see the module docstring).

    Args:
        real_landmarks: ``(T, P, 2)`` lip landmarks of the real frames, in pixels (crop pixels
            for 64x64 crops, as :func:`lip_landmarks_from_crops` returns).
        fake_landmarks: ``(T, P, 2)`` the same points on the generated frames.
        reduce: ``"mean"``: average over points and frames (the paper); ``"sum"``: sum over
            points, average over frames (the authors' code).

    Returns:
        The distance; frames where either set holds NaN are left out, and NaN is returned when
        no frame is left.

    Raises:
        InputError: shapes are not ``(T, P, 2)`` or differ, or ``reduce`` is unknown.
    """
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    distances = landmark_distances(real_landmarks, fake_landmarks)
    valid = np.all(np.isfinite(distances), axis=1)
    if not np.any(valid):
        return float("nan")
    per_frame = distances[valid].mean(axis=1) if reduce == "mean" else distances[valid].sum(axis=1)
    return float(per_frame.mean())


def _paste(background: np.ndarray, crop: np.ndarray, box) -> tuple[np.ndarray, int, int, int]:
    """``background`` with ``crop`` resized to the box side and pasted (hard edge) at the box.

    Returns the image, the box's top-left corner ``x0, y0`` and its side, all in background
    pixels; parts of the box outside the image are cut off.
    """
    import cv2

    cx, cy, side = (float(v) for v in box)
    if not (np.isfinite(cx) and np.isfinite(cy) and np.isfinite(side)) or side < 2:
        raise InputError(f"invalid crop box (centre x, centre y, side): {tuple(box)}")
    side_px = int(round(side))
    x0 = int(round(cx - side_px / 2))
    y0 = int(round(cy - side_px / 2))
    interpolation = cv2.INTER_CUBIC if side_px > crop.shape[0] else cv2.INTER_AREA
    patch = cv2.resize(crop, (side_px, side_px), interpolation=interpolation)
    image = background.copy()
    height, width = image.shape[:2]
    left, top = max(x0, 0), max(y0, 0)
    right, bottom = min(x0 + side_px, width), min(y0 + side_px, height)
    if right <= left or bottom <= top:
        raise InputError(f"crop box {tuple(box)} lies outside the {width}x{height} background")
    image[top:bottom, left:right] = patch[top - y0 : bottom - y0, left - x0 : right - x0]
    return image, x0, y0, side_px


def lip_landmarks_from_crops(
    crops: np.ndarray,
    background: np.ndarray,
    boxes: np.ndarray,
    detector=None,
) -> np.ndarray:
    """Lip landmarks of lip crops, found by pasting each crop back into a face.

    Each crop is resized to its box side and pasted (no blending, as the authors did) into
    the background at its box, mediapipe's face mesh runs on the result, and the 40 lip points
    are mapped back to crop pixels: ``(x - x0) * S / side`` with ``x0 = round(cx - side / 2)``
    (continuous coordinates, 0 at the crop's left edge, ``S`` at its right edge).

    Args:
        crops: ``(T, S, S, 3)`` RGB lip crops, uint8 or float in [-1, 1].
        background: the face image(s) to paste into, RGB uint8: one ``(H, W, 3)`` image for
            every frame, or ``(T, H, W, 3)`` one per frame (the frames the crops came from).
        boxes: ``(T, 3)`` crop squares ``[centre x, centre y, side]`` in background pixels, as
            stored in prepared records.
        detector: a :class:`~lipmotion_tf.video.face_mesh.FaceMeshDetector` in static-image
            mode to reuse; by default one is made and closed here. Static mode keeps every
            frame's detection independent of the frames before it.

    Returns:
        ``(T, 40, 2)`` float32 lip landmarks ordered as ``LIP_INDICES``, NaN for frames where no
        face was found.

    Raises:
        InputError: shapes or values that do not fit, or a box outside the background.
    """
    from lipmotion_tf.video.face_mesh import LIP_INDICES, FaceMeshDetector

    crops = checked_uint8(crops, "crops")
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.shape[1] != crops.shape[2]:
        raise InputError(f"crops: expected (T, S, S, 3) RGB lip crops, got shape {crops.shape}")
    num_frames, crop_side = crops.shape[0], crops.shape[1]
    background = np.asarray(background)
    if background.dtype != np.uint8 or background.ndim not in (3, 4) or background.shape[-1] != 3:
        raise InputError(
            "background: expected (H, W, 3) or (T, H, W, 3) uint8 RGB, "
            f"got {background.shape} {background.dtype}"
        )
    if background.ndim == 4 and background.shape[0] != num_frames:
        raise InputError(f"background: {background.shape[0]} frames for {num_frames} crops")
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape != (num_frames, 3):
        raise InputError(f"boxes: expected ({num_frames}, 3) [centre x, centre y, side], got {boxes.shape}")

    lip_indices = np.asarray(LIP_INDICES)
    result = np.full((num_frames, len(LIP_INDICES), 2), np.nan, dtype=np.float32)
    own_detector = detector is None
    if own_detector:
        detector = FaceMeshDetector(static_image_mode=True)
    try:
        for t in range(num_frames):
            frame_background = background[t] if background.ndim == 4 else background
            image, x0, y0, side = _paste(frame_background, crops[t], boxes[t])
            landmarks = detector.detect(image)
            if landmarks is None:
                continue
            lips = landmarks[lip_indices, :2].astype(np.float64)
            result[t] = (lips - np.array([x0, y0])) * (crop_side / side)
    finally:
        if own_detector:
            detector.close()
    return result
