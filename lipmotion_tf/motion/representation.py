"""The motion representation: lip and jaw landmarks in a normalised mouth frame, pose removed.

Every part of the motion-first pipeline speaks this representation (training data, the
motion model, evaluation, the renderer and the exports):

1. **Points** (:data:`MOTION_INDICES`): mediapipe's 40 lip landmarks followed by 19 jaw and
   chin points that move with the mouth, 59 in all, in that order.
2. **Pose removal**: each frame's face mesh (``x, y`` in pixels, ``z`` mediapipe's depth in
   the same pixel scale) is fitted to a frontal template on points that do not move with
   the mouth (:data:`STABLE_INDICES`: forehead, nose bridge, eye corners, temples) by a 3-D
   similarity (rotation, scale, translation). A turned or moving head therefore does not
   read as a moving mouth.
3. **Mouth frame**: from the person's *rest shape* (the pose-free mouth of one identity
   image, or of a video's most closed frames) the origin is the midpoint of the mouth
   corners, the x axis runs from the image-left corner to the image-right one (y points down
   as in images) and the unit is the rest mouth's width. The same frame is used for every
   frame of the person, so a mouth that widens reads as a width change.
4. **Motion**: per frame, the ``x, y`` displacement of each point from the rest shape in
   this frame: ``(T, 59, 2)``. ``z`` is kept by the conversions (so that pixels -> mouth
   frame -> pixels is exact) but is not predicted.

A :class:`MouthTransform` holds the per-frame similarity ``mouth = scale * rotation @ pixel +
translation``; :func:`apply` and :func:`invert` use it both ways (pixels -> mouth frame ->
pixels is exact).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipmotion_tf.video.face_mesh import (
    INNER_LIP_INDICES, LEFT_MOUTH_CORNER, LIP_INDICES, LOWER_INNER_LIP, RIGHT_MOUTH_CORNER,
    UPPER_INNER_LIP,
)

#: The lower face's contour, from one angle of the jaw round the chin to the other.
JAW_OUTLINE_INDICES = (58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288)
#: Lower face contour and chin column: they follow the jaw when the mouth opens.
JAW_INDICES = JAW_OUTLINE_INDICES + (18, 200, 199, 175)
#: The points the motion model predicts: the 40 lip points (sorted) then the jaw points.
MOTION_INDICES = tuple(LIP_INDICES) + JAW_INDICES
NUM_MOTION_POINTS = len(MOTION_INDICES)
#: Points that stay put when the mouth moves: the rigid part of the face used for the pose.
STABLE_INDICES = (
    10, 151, 9, 8, 168, 6, 197, 195, 5,  # forehead to nose
    33, 133, 362, 263,  # eye corners
    98, 327,  # nose wings
    127, 356, 234, 454,  # temples and cheekbones at ear level
)
#: Every mesh point that training data keeps (motion and pose points), sorted.
STORED_INDICES = tuple(sorted(set(MOTION_INDICES) | set(STABLE_INDICES)))


def motion_position(index: int) -> int:
    """Position of mediapipe landmark ``index`` in :data:`MOTION_INDICES`."""
    return MOTION_INDICES.index(index)


LEFT_CORNER = motion_position(LEFT_MOUTH_CORNER)
RIGHT_CORNER = motion_position(RIGHT_MOUTH_CORNER)
UPPER_INNER = motion_position(UPPER_INNER_LIP)
LOWER_INNER = motion_position(LOWER_INNER_LIP)
#: Positions of the 20 inner-lip points in :data:`MOTION_INDICES`.
INNER_POSITIONS = tuple(motion_position(i) for i in INNER_LIP_INDICES)
#: The inner-lip ring in drawing order; its first 11 points are the upper inner contour.
INNER_RING = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308,
              324, 318, 402, 317, 14, 87, 178, 88, 95)
UPPER_INNER_CONTOUR = INNER_RING[:11]
#: Positions of :data:`INNER_RING`'s points in :data:`MOTION_INDICES`.
INNER_RING_POSITIONS = tuple(motion_position(i) for i in INNER_RING)
#: A photo's mouth shows its own inside (teeth, tongue: the renderer moves them rather than
#: drawing them) from the first inner-lip gap over the inner corners' distance, fully from
#: the second; below, the inside is a sliver of lip edge. (The bundled photo's and
#: faces/M02's lips, a dark line apart, are at 0.04 and 0.05.)
OPEN_MOUTH = (0.06, 0.12)


def open_share(ring: np.ndarray) -> float:
    """How far an inner-lip ring (``(20, 2)``, :data:`INNER_RING` order) counts as open,
    0-1 (:data:`OPEN_MOUTH`)."""
    gap = np.linalg.norm(ring[15] - ring[5]) / max(float(np.linalg.norm(ring[10] - ring[0])), 1e-6)
    low, high = OPEN_MOUTH
    return float(np.clip((gap - low) / (high - low), 0.0, 1.0))


def select(mesh: np.ndarray, indices, from_indices=None) -> np.ndarray:
    """Picks mediapipe landmarks ``indices`` from a full mesh (468/478 points) or a subset.

    Args:
        mesh: ``(..., N, C)`` landmarks.
        indices: the mediapipe numbers wanted.
        from_indices: the mediapipe numbers of ``mesh``'s points when it is a subset (for
            example :data:`STORED_INDICES`); None for a full mesh.
    """
    if from_indices is None:
        return mesh[..., list(indices), :]
    lookup = {value: position for position, value in enumerate(from_indices)}
    return mesh[..., [lookup[i] for i in indices], :]


@dataclasses.dataclass
class MouthTransform:
    """Per-frame similarities from pixels to the mouth frame: ``m = s * R @ p + t``.

    Attributes:
        scale: ``(T,)`` scale factors.
        rotation: ``(T, 3, 3)`` rotation matrices.
        translation: ``(T, 3)`` translations.
    """

    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def __len__(self) -> int:
        return int(self.scale.shape[0])

    def over(self, frames: int) -> "MouthTransform":
        """This transform for ``frames`` frames (a one-frame transform repeats; views only)."""
        return MouthTransform(*(np.broadcast_to(a, (frames,) + a.shape[1:]) for a in (
            self.scale, self.rotation, self.translation)))


def fit_similarity(source: np.ndarray, target: np.ndarray):
    """Least-squares similarity from ``source`` to ``target`` points, frame by frame.

    Umeyama's closed form (a proper rotation: no reflection).

    Args:
        source: ``(T, N, 3)`` points.
        target: ``(N, 3)`` or ``(T, N, 3)`` points.

    Returns:
        ``(scale (T,), rotation (T, 3, 3), translation (T, 3))`` with
        ``target ~= scale * rotation @ source + translation``.
    """
    source = np.asarray(source, np.float64)
    target = np.broadcast_to(np.asarray(target, np.float64), source.shape)
    mean_s, mean_t = source.mean(axis=1, keepdims=True), target.mean(axis=1, keepdims=True)
    centred_s, centred_t = source - mean_s, target - mean_t
    covariance = np.einsum("tni,tnj->tij", centred_t, centred_s) / source.shape[1]
    u, sigma, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    correction = np.ones_like(sigma)
    correction[:, -1] = np.where(sign == 0, 1.0, sign)
    rotation = u @ (correction[:, :, None] * vt)
    variance = np.maximum((centred_s ** 2).sum(axis=(1, 2)) / source.shape[1], 1e-12)
    scale = (sigma * correction).sum(axis=1) / variance
    translation = mean_t[:, 0] - scale[:, None] * np.einsum("tij,tj->ti", rotation, mean_s[:, 0])
    return scale, rotation, translation


def apply(points: np.ndarray, transform: MouthTransform) -> np.ndarray:
    """``scale * rotation @ p + translation`` for ``(T, N, 3)`` points (a one-frame
    transform applies to every frame)."""
    transform = transform.over(len(points))
    rotated = np.einsum("tij,tnj->tni", transform.rotation, np.asarray(points, np.float64))
    return (transform.scale[:, None, None] * rotated + transform.translation[:, None]).astype(
        np.float32)


def invert(points: np.ndarray, transform: MouthTransform) -> np.ndarray:
    """The inverse of :func:`apply`: ``rotation.T @ (m - translation) / scale``."""
    transform = transform.over(len(points))
    shifted = np.asarray(points, np.float64) - transform.translation[:, None]
    unrotated = np.einsum("tji,tnj->tni", transform.rotation, shifted)
    return (unrotated / transform.scale[:, None, None]).astype(np.float32)


def frontal_transform(stable: np.ndarray, template: np.ndarray) -> MouthTransform:
    """Per-frame similarities that bring the stable points onto the frontal template."""
    scale, rotation, translation = fit_similarity(stable, template)
    return MouthTransform(scale, rotation, translation)


def mouth_frame(frontal_rest: np.ndarray) -> MouthTransform:
    """The 2-D similarity (in frontal coordinates) that defines the mouth frame of a rest shape.

    Args:
        frontal_rest: ``(59, 3)`` pose-free rest shape (:data:`MOTION_INDICES` order).

    Returns:
        A one-frame transform: origin at the corners' midpoint, x along the corner line,
        unit = the rest mouth's width.
    """
    left, right = frontal_rest[LEFT_CORNER], frontal_rest[RIGHT_CORNER]
    axis = right[:2] - left[:2]
    width = float(np.hypot(*axis))
    if not width > 1e-9:
        raise ValueError("degenerate rest shape: the mouth corners coincide")
    cos, sin = axis / width
    rotation = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    origin = (left + right) / 2.0
    scale = 1.0 / width
    translation = -scale * rotation @ origin
    return MouthTransform(np.array([scale]), rotation[None], translation[None])


def compose(outer: MouthTransform, inner: MouthTransform) -> MouthTransform:
    """``outer(inner(p))`` as one transform (a one-frame side broadcasts over frames)."""
    frames = max(len(outer), len(inner))
    outer, inner = outer.over(frames), inner.over(frames)
    rotation = outer.rotation @ inner.rotation
    translation = (outer.scale[:, None] * np.einsum("tij,tj->ti", outer.rotation,
                                                    inner.translation) + outer.translation)
    return MouthTransform(outer.scale * inner.scale, rotation, translation)


#: mediapipe's lip points above and below the mouth's opening (corners excluded).
UPPER_LIP_INDICES = (0, 37, 39, 40, 185, 267, 269, 270, 409, 13, 80, 81, 82, 191, 310, 311,
                     312, 415)
LOWER_LIP_INDICES = (17, 84, 91, 146, 181, 314, 321, 375, 405, 14, 87, 88, 95, 178, 317, 318,
                     324, 402)
#: Their positions in :data:`MOTION_INDICES`, and the jaw's (the points after the lips).
UPPER_LIP_POSITIONS = tuple(motion_position(i) for i in UPPER_LIP_INDICES)
LOWER_LIP_POSITIONS = tuple(motion_position(i) for i in LOWER_LIP_INDICES)
JAW_POSITIONS = tuple(range(len(LIP_INDICES), NUM_MOTION_POINTS))


def closed_shape(points: np.ndarray, gap: float = 0.01, hold: tuple | list = ()) -> np.ndarray:
    """The same mouth closed: ``(59, 3)`` mouth-frame points with the lips brought together.

    A photo of someone mid-word has an open mouth; motion is a displacement from a *closed*
    rest shape, so the photo's own shape is closed first (else silence would hold the mouth
    open and speech open it wider still). The upper lip moves down and the lower lip up by
    half the inner gap each (less towards the corners, none at them), leaving ``gap`` mouth
    widths; the jaw rises with the lower lip, as little as the lip above it towards the
    sides: on a turned face the far side's jaw outline lies beside the lip's corner, and a
    jaw rising further than the lip next to it folded the warp. Positions in ``hold`` stay
    where they are. A mouth open by less than twice ``gap`` is taken as closed and returned
    unchanged (so closing twice changes nothing).
    """
    points = np.array(points, np.float32)
    between = points[LOWER_INNER, :2] - points[UPPER_INNER, :2]
    opening = float(np.linalg.norm(between))
    if opening <= 2.0 * gap:
        return points
    shift = between * (opening - gap) / opening
    taper = np.clip(1.0 - (2.0 * points[:, 0]) ** 2, 0.0, 1.0)[:, None]
    upper, lower = list(UPPER_LIP_POSITIONS), list(LOWER_LIP_POSITIONS)
    points[upper, :2] += 0.5 * shift * taper[upper]
    points[lower, :2] -= 0.5 * shift * taper[lower]
    jaw = [position for position in JAW_POSITIONS if position not in hold]
    points[jaw, :2] -= 0.5 * shift * taper[jaw]
    return points


def inner_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (upper to lower midpoint) of ``(..., 59, >=2)`` mouth-frame points."""
    return np.linalg.norm(points[..., UPPER_INNER, :2] - points[..., LOWER_INNER, :2], axis=-1)


def rest_frames(openings: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Indices of a video's most closed frames (the lowest ``fraction`` of openings, >= 1)."""
    openings = np.asarray(openings)
    count = max(1, int(round(fraction * openings.size)))
    return np.argsort(openings, kind="stable")[:count]


def rest_shape(frontal_points: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """A video's rest shape: the median pose-free mouth of its most closed frames.

    Args:
        frontal_points: ``(T, 59, 3)`` pose-free (frontal) motion points.
        fraction: share of frames taken as closed.
    """
    openings = inner_opening(frontal_points)
    return np.median(frontal_points[rest_frames(openings, fraction)], axis=0).astype(np.float32)
