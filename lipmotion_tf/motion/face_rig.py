"""``FaceRig``: one identity photo made ready to be moved by mouth-frame motion.

From the photo's face mesh (with depth) it fixes, once: the pixel <-> mouth-frame transform
and the rest shape (:mod:`.representation`), the square crop around mouth and jaw at the
photo's own resolution, the control points of the warp (the 59 moving points and still
anchors: nose, upper cheeks, beyond the jaw's outline and the crop's border) with their
thin-plate basis (the lips cut apart where they meet), and the interior colours.
:meth:`FaceRig.targets` turns a motion trajectory into the renderer's per-frame inputs;
:meth:`FaceRig.paste` puts a rendered crop back into the photo.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipmotion_tf.errors import NoFaceError
from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
from lipmotion_tf.motion.warp import tps_bases

#: Still anchors: nose base and wings, upper cheeks (they do not move with the jaw).
ANCHOR_INDICES = (1, 2, 4, 5, 98, 327, 129, 358, 64, 294, 50, 280, 116, 345, 123, 352)
#: The lips and jaw are moved this many times as far as the motion says. The face mesh, which
#: read the landmarks the motion model learned from, reads a mouth's motion at about two thirds
#: of how far its pixels move: moved exactly as far as its landmarks, a rendered mouth reads
#: back (and looks) about two thirds as open as the real one. One gain for every point keeps
#: the lips' thickness (a gain on the inner lips alone thinned them to a rim). Fitted on
#: training people's videos re-enacted with their own tracked motion, so that the face mesh
#: reads the rendered mouth as it read the real one
#: (``benchmarks/renderer_fidelity.py --reenact``; docs/experiments.md).
DRAW_GAIN = 1.5
#: Jaw outline points from each angle of the jaw to halfway to the chin: drawn still. The face
#: mesh slides them along the outline as the head turns and the jaw opens, and their tracked
#: motion, drawn, moved the jaw's edge where the camera saw it still: training people's videos
#: re-enacted from their own tracked motion lost 0.12 dB of PSNR to it (docs/experiments.md).
STILL_JAW_INDICES = (58, 172, 136, 150, 288, 397, 365, 379)
#: A point of :data:`STILL_JAW_INDICES` nearer than this many mouth widths to a lip point (in
#: the photo) is left out of the warp (fading in over :data:`STILL_JAW_FADE` more): on a
#: turned face the far side's jaw outline lies beside the lips, and held there it folded the
#: warp (a pale seam) as the lower lip moved down past it. Seen from the front these points
#: lie 0.47 mouth widths or more from the lips (docs/experiments.md).
STILL_JAW_REACH = 0.3
#: Mouth widths over which such a point comes back into the warp, so that a turning head's
#: warp changes smoothly from frame to frame of a dub.
STILL_JAW_FADE = 0.1
#: Degrees a face may turn left or right from the camera before ``generate`` says that it may
#: render badly: the warp and the drawn mouth are made for faces seen from the front, and on a
#: face in profile the lips tear (docs/motion-model-card.md).
TURN_LIMIT = 45.0
#: Besides the moving points, the crop reaches up to the nose base.
CROP_INDICES = (2, 98, 327)
#: The smallest crop the renderer accepts, in pixels.
MIN_CROP = 64
BORDER_ANCHORS = 8  # per side of the crop
#: Still anchors beyond the jaw's outline: each outline point moved this far again away from
#: the mouth's centre. Without them the chin's motion reached down the neck to the collar,
#: which the camera saw still; this far out the chin cannot reach them (docs/experiments.md).
NECK_REACH = 0.6
#: Warp control points of every rig: the moving points, the still anchors, the border's.
NUM_CONTROLS = (rep.NUM_MOTION_POINTS + len(ANCHOR_INDICES) + len(rep.JAW_OUTLINE_INDICES)
                + 4 * BORDER_ANCHORS)
#: Side of the coarse grid the thin-plate field is computed on.
GRID_SIZE = 64


@dataclasses.dataclass
class FaceRig:
    """An identity photo prepared for rendering (see the module docstring).

    Attributes:
        image: the photo, ``(H, W, 3)`` uint8.
        mesh: ``(468, 3)`` face mesh in pixels (with depth).
        transform: one-frame pixel -> mouth-frame transform.
        rest: ``(59, 3)`` rest shape in the mouth frame: the photo's mouth, closed
            (:func:`~lipmotion_tf.motion.representation.closed_shape`).
        origin: ``(x, y)`` of the crop's top-left corner in the photo.
        crop_size: side of the square crop in photo pixels.
        controls: ``(N, 2)`` control points in crop pixels; the first 59 move.
        basis: ``(G * G, N)`` thin-plate basis.
        colours: ``(2, 3)`` cavity and teeth colours in [0, 1].
        grid_size: ``G``.
        mouth_box: ``(top, left, height, width)`` in crop pixels that the inner lips can
            reach: the rest lips' box, widened by 15% of the mouth width at the sides, 30%
            above and 80% below.
        turn: how far the face is turned left or right from the camera, degrees (from the
            pose fit on the face mesh's rigid points).
    """

    image: np.ndarray
    mesh: np.ndarray
    transform: rep.MouthTransform
    rest: np.ndarray
    origin: tuple[int, int]
    crop_size: int
    controls: np.ndarray
    basis: np.ndarray
    colours: np.ndarray
    grid_size: int
    mouth_box: tuple[int, int, int, int]
    turn: float = 0.0

    @classmethod
    def from_image(cls, image: np.ndarray, mesh: np.ndarray | None = None,
                   grid_size: int = GRID_SIZE, margin: float = 0.2, source: str = "the image",
                   frontal_rest: np.ndarray | None = None, side: int | None = None,
                   colours: np.ndarray | None = None, mouth_box=None):
        """Rigs a photo (its face mesh is found with mediapipe unless ``mesh`` is given).

        The keyword arguments after ``source`` rig one frame of a video the same way as its
        other frames (:mod:`lipmotion_tf.motion.dub`): the person's pose-free rest shape (from
        the video's most closed frames), the crop side, the interior colours and the mouth box.

        Raises:
            NoFaceError: no face in the photo, or a mouth too small for the renderer.
        """
        if mesh is None:
            from lipmotion_tf.video.face_mesh import FaceMeshDetector

            with FaceMeshDetector(static_image_mode=True) as detector:
                mesh = detector.detect(image, depth=True)
            if mesh is None:
                raise NoFaceError(f"no face found in {source}")
        mesh = np.asarray(mesh, np.float32)[:468]
        stable = rep.select(mesh[None], rep.STABLE_INDICES)
        frontal = rep.frontal_transform(stable, FRONTAL_TEMPLATE)
        if frontal_rest is None:
            frontal_rest = rep.apply(rep.select(mesh[None], rep.MOTION_INDICES), frontal)[0]
        transform = rep.compose(rep.mouth_frame(frontal_rest), frontal)
        # The photo's own mouth may be open: motion starts from its closed shape. The points
        # drawn still stay where the photo has them, else closing alone would move them.
        rest = rep.closed_shape(rep.apply(frontal_rest[None], rep.mouth_frame(frontal_rest))[0],
                                hold=still_jaw_positions())

        height, width = image.shape[:2]
        region = mesh[list(rep.MOTION_INDICES) + list(CROP_INDICES), :2]
        low, high = region.min(axis=0), region.max(axis=0)
        centre = (low + high) / 2
        if side is None:
            side = int(np.ceil((1 + 2 * margin) * (high - low).max()))
        side = min(side, height, width)
        mouth_width = float(np.linalg.norm(mesh[rep.MOTION_INDICES[rep.LEFT_CORNER], :2]
                                           - mesh[rep.MOTION_INDICES[rep.RIGHT_CORNER], :2]))
        if side < MIN_CROP or mouth_width < MIN_CROP / 6:
            raise NoFaceError(
                f"the face in {source} is too small: a {side}-pixel mouth region with a "
                f"{mouth_width:.0f}-pixel mouth; at least {MIN_CROP} and {MIN_CROP // 6} needed")
        x0 = int(np.clip(round(centre[0] - side / 2), 0, width - side))
        y0 = int(np.clip(round(centre[1] - side / 2), 0, height - side))
        origin = np.array([x0, y0], np.float32)

        edge = np.linspace(0, side - 1, BORDER_ANCHORS + 1)[:-1]
        border = np.concatenate([
            np.stack([edge, np.zeros_like(edge)], 1),
            np.stack([np.full_like(edge, side - 1), edge], 1),
            np.stack([side - 1 - edge, np.full_like(edge, side - 1)], 1),
            np.stack([np.zeros_like(edge), side - 1 - edge], 1),
        ])
        # Anchors outside the crop still hold the field there; all of them are kept, so that
        # every frame of a video has as many control points.
        outline = mesh[list(rep.JAW_OUTLINE_INDICES), :2]
        mouth_centre = mesh[[rep.LEFT_MOUTH_CORNER, rep.RIGHT_MOUTH_CORNER], :2].mean(axis=0)
        anchors = np.concatenate([mesh[list(ANCHOR_INDICES), :2],
                                  outline + NECK_REACH * (outline - mouth_centre)]) - origin
        moving = mesh[list(rep.MOTION_INDICES), :2] - origin
        controls = np.concatenate([moving, anchors, border]).astype(np.float32)
        grid_size = min(grid_size, side)
        basis = grid_basis(controls, side, grid_size)

        if colours is None:
            colours = interior_colours(image[y0:y0 + side, x0:x0 + side], moving[:40],
                                       moving[list(rep.INNER_RING_POSITIONS)])
        if mouth_box is None:
            mouth_box = lips_box(moving[:40], mouth_width, side)
        # The fit's rotation takes the face to the frontal template: its bottom row holds how
        # far the face's forward axis swings sideways.
        rotation = frontal.rotation[0]
        turn = float(np.degrees(np.arctan2(abs(rotation[2, 0]), abs(rotation[2, 2]))))
        return cls(image=image, mesh=mesh, transform=transform, rest=rest,
                   origin=(x0, y0), crop_size=side, controls=controls, basis=basis,
                   colours=np.asarray(colours, np.float32), grid_size=grid_size,
                   mouth_box=tuple(int(v) for v in mouth_box), turn=turn)

    def turn_note(self, source: str = "the photo") -> str | None:
        """A sentence for a face turned further than :data:`TURN_LIMIT`, else None."""
        if self.turn <= TURN_LIMIT:
            return None
        return (f"the face in {source} is turned about {self.turn:.0f} degrees from the "
                "camera; the renderer is made for faces seen from the front, and one turned "
                f"further than {TURN_LIMIT:.0f} degrees can tear the lips (a more frontal "
                "photo works better)")

    def renderer(self, **kwargs):
        """The :class:`~lipmotion_tf.motion.renderer.MotionRenderer` for this rig's crop."""
        from lipmotion_tf.motion.renderer import MotionRenderer

        return MotionRenderer(self.crop_size, self.mouth_box, self.grid_size, **kwargs)

    @property
    def rest_motion_input(self) -> np.ndarray:
        """The rest shape as the motion model reads it: ``(59, 2)``."""
        return self.rest[:, :2].astype(np.float32)

    def crop(self) -> np.ndarray:
        """The identity crop, ``(S, S, 3)`` float32 in [0, 1]."""
        x0, y0 = self.origin
        side = self.crop_size
        return self.image[y0:y0 + side, x0:x0 + side].astype(np.float32) / 255.0

    def targets(self, motion: np.ndarray, gain: float = DRAW_GAIN) -> dict:
        """The renderer's per-frame inputs for ``(T, 59, 2)`` mouth-frame displacements,
        drawn ``gain`` times as far (:data:`DRAW_GAIN`; :data:`STILL_JAW_INDICES` not at all;
        silence stays the rest shape)."""
        frames = motion.shape[0]
        shape = np.repeat(self.rest[None], frames, axis=0)
        shape[..., :2] += np.asarray(motion, np.float32) * draw_factors(gain)
        pixels = rep.invert(shape, self.transform)[..., :2] - np.asarray(self.origin)
        moving = self.controls[: rep.NUM_MOTION_POINTS]
        displacement = np.zeros((frames,) + self.controls.shape, np.float32)
        displacement[:, : rep.NUM_MOTION_POINTS] = pixels - moving[None]
        return {"displacement": displacement, **interior_targets(pixels, self.colours)}

    def paste(self, rendered: np.ndarray) -> np.ndarray:
        """The photo with a rendered crop in place: uint8. ``rendered``: ``(S, S, 3)`` in
        [0, 1], or already uint8 (:func:`crop_to_uint8`: a served model's frames)."""
        frame = self.image.copy()
        x0, y0 = self.origin
        side = self.crop_size
        frame[y0:y0 + side, x0:x0 + side] = (rendered if rendered.dtype == np.uint8
                                             else crop_to_uint8(rendered))
        return frame


def still_jaw_positions() -> list[int]:
    """Positions of :data:`STILL_JAW_INDICES` among the 59 motion points."""
    return [rep.motion_position(i) for i in STILL_JAW_INDICES]


def draw_factors(gain: float = DRAW_GAIN) -> np.ndarray:
    """How far each motion point is drawn, of its motion: ``(59, 1)`` float32, ``gain`` for
    every point but :data:`STILL_JAW_INDICES`, 0 for those."""
    factors = np.full((rep.NUM_MOTION_POINTS, 1), gain, np.float32)
    factors[still_jaw_positions()] = 0.0
    return factors


def grid_basis(controls: np.ndarray, side: int, grid_size: int) -> np.ndarray:
    """The warp basis ``(G * G, N)`` of ``controls`` (crop pixels; the first 59 the motion
    points) on the ``G x G`` grid of cell centres over a ``side``-pixel crop.

    A closed mouth's upper and lower inner lips lie a pixel apart, and speech moves them
    apart by ten: one thin-plate spline through both swings far past them (a lower lip moved
    down 10 pixels pulled the skin above the upper lip 3 pixels down: a notch at the
    Cupid's bow). So the lips are cut apart along the line where they meet: above it the
    field is the spline without the lower lip and jaw (:data:`~lipmotion_tf.motion.
    representation.LOWER_LIP_INDICES`), below it the one without the upper lip, blended
    across the inner lips' gap and a pixel either side. Beyond the mouth corners the cut
    fades, over a quarter of the mouth width, into the spline through every point. Still
    jaw points beside the lips are left out (:func:`loosened_still_points`). Each is linear
    in the displacements, so the blend is one basis, as before.
    """
    centres = (np.arange(grid_size) + 0.5) * side / grid_size - 0.5
    gx, gy = np.meshgrid(centres, centres)
    nodes = np.stack([gx.ravel(), gy.ravel()], 1)
    controls = np.asarray(controls, np.float64)
    ring = controls[list(rep.INNER_RING_POSITIONS), :2]
    corner = len(rep.UPPER_INNER_CONTOUR) - 1  # the ring's second corner
    top, bottom = ring[:corner + 1], np.concatenate([ring[corner:], ring[:1]])
    x = nodes[:, 0]
    y_top = np.interp(x, *_ascending(top))
    y_bottom = np.maximum(np.interp(x, *_ascending(bottom)), y_top)
    half = (y_bottom - y_top) / 2.0 + 1.0
    below = np.clip((nodes[:, 1] - (y_top + y_bottom) / 2.0 + half) / (2.0 * half), 0.0, 1.0)
    below = below * below * (3.0 - 2.0 * below)  # smoothstep: no kink at the band's edges
    left, right = ring[:, 0].min(), ring[:, 0].max()
    fade = 0.25 * max(right - left, 1.0)
    cut = np.clip(1.0 - np.maximum(np.maximum(left - x, x - right), 0.0) / fade, 0.0, 1.0)
    # A still point beside the lips is let go: the splines leave it out, or, in its fade,
    # the basis blends towards splines that do.
    loosened = loosened_still_points(controls)
    gone = [position for position, weight in loosened.items() if weight == 1.0]
    fading = {position: weight for position, weight in loosened.items() if weight < 1.0}
    lower_and_jaw = rep.LOWER_LIP_POSITIONS + rep.JAW_POSITIONS
    subsets = []
    for left_out in [gone] + [gone + [position] for position in fading]:
        kept = np.setdiff1d(np.arange(len(controls)), left_out)
        subsets += [np.setdiff1d(kept, lower_and_jaw),
                    np.setdiff1d(kept, rep.UPPER_LIP_POSITIONS), kept]
    bases = tps_bases(controls, nodes, subsets)
    blended = []
    for above_basis, below_basis, whole in zip(bases[0::3], bases[1::3], bases[2::3]):
        split = (1.0 - below[:, None]) * above_basis + below[:, None] * below_basis
        blended.append(cut[:, None] * split + (1.0 - cut[:, None]) * whole)
    basis = blended[0]
    for weight, without in zip(fading.values(), blended[1:]):
        basis = basis + weight * (without - blended[0])
    return basis.astype(np.float32)


def loosened_still_points(controls: np.ndarray) -> dict[int, float]:
    """``{position: weight}`` of the :data:`STILL_JAW_INDICES` points among ``controls``
    (pixels; the first 59 the motion points) that lie near the lips: weight 1 (left out of
    the warp) within :data:`STILL_JAW_REACH` mouth widths of a lip point, fading to 0 over
    :data:`STILL_JAW_FADE` further."""
    controls = np.asarray(controls, np.float64)
    width = max(float(np.linalg.norm(controls[rep.LEFT_CORNER] - controls[rep.RIGHT_CORNER])),
                1e-6)
    lips = controls[:len(rep.LIP_INDICES)]
    weights = {}
    for position in still_jaw_positions():
        distance = np.linalg.norm(lips - controls[position], axis=1).min() / width
        weight = float(np.clip((STILL_JAW_REACH + STILL_JAW_FADE - distance) / STILL_JAW_FADE,
                               0.0, 1.0))
        if weight > 0.0:
            weights[position] = weight
    return weights


def _ascending(contour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A contour's ``x`` (sorted) and ``y``: what :func:`numpy.interp` reads."""
    order = np.argsort(contour[:, 0])
    return contour[order, 0], contour[order, 1]


def interior_targets(pixels: np.ndarray, colours: np.ndarray) -> dict:
    """The renderer's mouth-interior inputs for ``(T, 59, 2)`` motion points in crop pixels:
    ``inner_lip`` ``(T, 20, 2)``, ``teeth`` ``(T, 22, 2)`` and per-frame ``colours``
    ``(T, 2, 3)`` from the rig's cavity and teeth colours ``(2, 3)``."""
    inner = pixels[:, list(rep.INNER_RING_POSITIONS)]
    upper = inner[:, :len(rep.UPPER_INNER_CONTOUR)]
    gap = np.linalg.norm(pixels[:, rep.UPPER_INNER] - pixels[:, rep.LOWER_INNER], axis=-1)
    width = np.linalg.norm(pixels[:, rep.LEFT_CORNER] - pixels[:, rep.RIGHT_CORNER], axis=-1)
    depth = np.minimum(0.45 * gap, 0.1 * width)[:, None, None]
    teeth = np.concatenate([upper, (upper + np.array([0.0, 1.0]) * depth)[:, ::-1]], axis=1)
    # Teeth show once the lips part by more than a sliver: below 3% of the mouth width
    # their colour fades into the cavity's, so a barely open mouth is a dark line.
    show = np.clip((gap / np.maximum(width, 1e-6) - 0.03) / 0.06, 0.0, 1.0)[:, None]
    colours = np.repeat(np.asarray(colours, np.float32)[None], len(pixels), axis=0)
    colours[:, 1] = colours[:, 0] + show * (colours[:, 1] - colours[:, 0])
    return {"inner_lip": inner.astype(np.float32), "teeth": teeth.astype(np.float32),
            "colours": colours}


def interior_colours(region: np.ndarray, lips: np.ndarray,
                     inner: np.ndarray | None = None) -> np.ndarray:
    """Cavity and teeth colours ``(2, 3)`` in [0, 1] from a uint8 image region around the
    mouth and its 40 lip points (pixels in the region): the cavity a dark shade of the lips,
    the teeth an off-white as bright as the region and half as tinted as it (under an orange
    light a neutral grey reads blue against the skin). Where the mouth is open (its inner-lip
    ring ``inner`` given, :func:`~lipmotion_tf.motion.representation.open_share`), the cavity
    takes the colour of the darkest fifth of its own inside, no brighter than the drawn one:
    the gap the renderer opens between its own teeth shows the back of the mouth, darker than
    anything a mouth full of teeth shows."""
    region = region.astype(np.float32) / 255.0
    cavity = np.clip(0.22 * np.median(_polygon_pixels(region, lips), axis=0), 0.0, 1.0)
    share = 0.0 if inner is None else rep.open_share(inner)
    if share > 0.0:
        inside = _polygon_pixels(region, inner, convex=False)
        darkest = inside[np.argsort(inside.sum(axis=-1))[: max(1, len(inside) // 5)]].mean(0)
        darkest = darkest * min(1.0, cavity.sum() / max(float(darkest.sum()), 1e-6))
        cavity = cavity + share * (darkest - cavity)
    brightness = float(np.clip(np.median(region.mean(axis=-1)) / 0.55, 0.45, 1.05))
    median = np.median(region.reshape(-1, 3), axis=0)
    tint = 0.5 + 0.5 * median / max(float(median.max()), 1e-6)
    teeth = np.clip(np.array([0.86, 0.84, 0.79]) * brightness * tint, 0.0, 1.0)
    return np.stack([cavity, teeth]).astype(np.float32)


def lips_box(lips: np.ndarray, mouth_width: float, side: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` that an opening mouth can reach in a ``side``-pixel
    crop: the box of the 40 lip points widened by 15% of the mouth width at the sides,
    30% above and 80% below."""
    lip_low, lip_high = lips.min(axis=0), lips.max(axis=0)
    top = int(np.clip(np.floor(lip_low[1] - 0.3 * mouth_width), 0, side - 1))
    bottom = int(np.clip(np.ceil(lip_high[1] + 0.8 * mouth_width), top + 1, side))
    left = int(np.clip(np.floor(lip_low[0] - 0.15 * mouth_width), 0, side - 1))
    right = int(np.clip(np.ceil(lip_high[0] + 0.15 * mouth_width), left + 1, side))
    return top, left, bottom - top, right - left


def crop_to_uint8(rendered: np.ndarray) -> np.ndarray:
    """Rendered crops in [0, 1] -> uint8, rounded (the pixels :meth:`FaceRig.paste` writes)."""
    return np.clip(rendered * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _polygon_pixels(image: np.ndarray, polygon: np.ndarray, convex: bool = True) -> np.ndarray:
    """The pixels of ``image`` inside ``polygon`` (``(K, 2)``, pixels; its convex hull
    unless ``convex`` is False), at least one."""
    import cv2

    points = np.round(polygon).astype(np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    if convex:
        cv2.fillConvexPoly(mask, cv2.convexHull(points), 1)
    else:
        cv2.fillPoly(mask, [points], 1)
    pixels = image[mask > 0]
    return pixels if len(pixels) else image.reshape(-1, 3)
