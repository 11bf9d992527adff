"""``MotionRenderer``: moves a face crop's own pixels to target landmarks, paints the mouth.

Per frame, at the crop's own (native) resolution:

1. the displacement field: ``basis @ displacements`` on a coarse grid (thin-plate splines
   through the control points, :func:`~lipmotion_tf.motion.warp.tps_basis`, with the lips
   cut apart where they meet: :func:`~lipmotion_tf.motion.face_rig.grid_basis`); its
   inverse on the same grid by Newton's method, resized to the crop;
2. backward warping: each output pixel ``p`` takes the identity at ``p - g(p)``, sampled
   bilinearly, and around the mouth (``mouth_box``) as a bicubic sample of the identity's
   smooth part plus its fine detail at the nearest pixel (the texture stays as sharp as the
   photo's);
3. the mouth interior: inside the target inner-lip polygon, where the lips part further
   than the identity's (a closed mouth at rest keeps its own lip line), the identity's own
   teeth where its mouth is open (below), and elsewhere a dark cavity lighter towards the
   bottom (the tongue), the upper teeth in shadow under the upper lip and, in a wider opening, the
   lower teeth (:meth:`MotionRenderer.draw`; the colours come from the identity), blended
   through the polygon's anti-aliased mask, drawn only in ``mouth_box`` (the region the
   mouth can reach) to keep the per-frame cost small; then, with a learned ``interior``
   (:class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`), the mouth box resampled
   to its size, repainted inside the widened inner-lip mask, and resampled back.

:meth:`MotionRenderer.warp` is steps 1 and 2, :meth:`MotionRenderer.paint` step 3 (timed
apart in ``benchmarks/motion_generation.py``). Only pixels the spline moves or the interior
covers change; anchors on the crop's border keep the border still, so pasting the crop back
into the photo leaves no seam.

One renderer serves any photo when built without ``crop_size`` and ``mouth_box``: the crop
size is then read from the ``crop`` input's shape and the mouth box from a ``mouth_box``
input (the exported SavedModel and TFLite renderer). Sizes are used through the same tensor
operations either way, so a fixed-size renderer and an any-size one give the same frames.

Where the identity's mouth is open, its own teeth and tongue are moved into the target
mouth, the upper ones with the upper lip and the lower ones with the lower lip, and only the
gap that opens between them is drawn (:meth:`MotionRenderer.own_interior_pixels`). Where it
is closed there are no teeth to move: the drawn interior says where teeth and cavity go, and
a learned one, where the model folder has it, repaints them. All of them read the same
inputs, so the exports' signatures do not change with them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from lipmotion_tf.motion.representation import INNER_RING_POSITIONS, OPEN_MOUTH
from lipmotion_tf.motion.warp import (
    bicubic_sample,
    bilinear_sample,
    nearest_sample,
    polygon_mask,
    soft_polygon_mask,
    split_detail,
)


#: How far the upper teeth's colour goes from the cavity's towards the teeth's: in frames of
#: real speech the top of an open mouth, under the upper lip, is its darkest part.
UPPER_TEETH_LIGHT = 0.35
#: Over how many pixels of parting (a column's inner-lip span beyond the identity's) the
#: drawn interior comes in.
PARTING_PIXELS = 1.0


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class MotionRenderer(keras.layers.Layer):
    """Renders frames of a square face crop.

    Inputs (a dict):
        ``crop``: ``(B, S, S, 3)`` float32 identity crop in [0, 1].
        ``basis``: ``(G * G, N)`` thin-plate basis of the control points on a ``G x G`` grid.
        ``displacement``: ``(B, N, 2)`` control point displacements in crop pixels.
        ``inner_lip``: ``(B, 20, 2)`` the target inner-lip ring in crop pixels, in
            :data:`~lipmotion_tf.motion.representation.INNER_RING` order (the drawn interior's
            shading and lower teeth are placed from it).
        ``teeth``: ``(B, K', 2)`` the target upper-teeth polygon in crop pixels.
        ``colours``: ``(B, 2, 3)`` cavity and teeth colours in [0, 1].
        ``mouth_box``: ``(4,)`` int32 ``(top, left, height, width)``; only for a renderer
            built without ``mouth_box``.

    Args:
        crop_size: ``S``; None: any, read from ``crop``.
        mouth_box: ``(top, left, height, width)`` in crop pixels: where the interior can be;
            None: read from the ``mouth_box`` input.
        grid_size: ``G`` (a renderer without ``crop_size`` uses it as it is: crops are at
            least :data:`~lipmotion_tf.motion.face_rig.MIN_CROP` pixels, more than ``G``).
        supersample: samples per pixel side of the polygon masks (anti-aliasing).
        inverse_steps: Newton steps inverting the warp field (:meth:`inverse_field`).
        interior: a trained :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`;
            None: the drawn interior only.
        soft_edges: 0 (supersampled polygon masks, as exported) or the width in pixels of
            polygon edges that move under a gradient
            (:func:`~lipmotion_tf.motion.warp.soft_polygon_mask`: training through the
            renderer).
        own_interior: where the identity's own mouth is open, move its teeth and tongue
            into the target mouth (:meth:`own_interior_pixels`) instead of drawing them.
    """

    def __init__(self, crop_size: int | None = None, mouth_box=None, grid_size: int = 64,
                 supersample: int = 2, inverse_steps: int = 6, interior=None,
                 soft_edges: float = 0.0, own_interior: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.interior = interior
        self.own_interior = bool(own_interior)
        self.soft_edges = float(soft_edges)
        if (crop_size is not None and crop_size < 8) or grid_size < 2 or supersample < 1:
            raise ValueError("crop_size >= 8, grid_size >= 2 and supersample >= 1 required")
        self.crop_size = None if crop_size is None else int(crop_size)
        self.grid_size = int(grid_size if crop_size is None else min(grid_size, crop_size))
        self.supersample = int(supersample)
        self.inverse_steps = int(inverse_steps)
        if mouth_box is not None:
            top, left, height, width = (int(v) for v in mouth_box)
            side = self.crop_size if self.crop_size is not None else np.inf
            if not (0 <= top and 0 <= left and height >= 1 and width >= 1
                    and top + height <= side and left + width <= side):
                raise ValueError(f"mouth_box {mouth_box} is not inside a {crop_size}-pixel crop")
            mouth_box = (top, left, height, width)
        self.mouth_box = mouth_box

    def inverse_field(self, basis, displacement, size):
        """``g`` with ``p - g(p)`` the source of output pixel ``p``: ``(B, S, S, 2)`` pixels.

        On the coarse grid, the source ``s`` of each node ``q`` solves ``s + f(s) = q``
        (``f`` the forward field): from ``s = q - f(q)``, ``inverse_steps`` Newton steps with
        the field's Jacobian (forward differences on the grid). Opening a closed mouth
        stretches the gap between the lips several times over, where a plain fixed-point step
        lands the lower lip pixels up to 10 pixels wrong.
        """
        grid = self.grid_size
        batch = ops.shape(displacement)[0]  # kept static where it is (TFLite: 1)
        forward = ops.reshape(ops.einsum("mn,bnc->bmc", basis, displacement),
                              (batch, grid, grid, 2))
        # Coarse grid coordinates of a crop position q: (q + 0.5) * G / S - 0.5.
        step = ops.divide(float(grid), ops.cast(size, "float32"))
        centres = (ops.cast(ops.arange(grid), "float32") + 0.5) / step - 0.5
        target_x = ops.broadcast_to(centres[None, None, :], (batch, grid, grid))
        target_y = ops.broadcast_to(centres[None, :, None], (batch, grid, grid))
        along_x = forward[:, :, 1:] - forward[:, :, :-1]
        along_y = forward[:, 1:] - forward[:, :-1]
        # (B, G, G, 4): d f_x/dx, d f_y/dx, d f_x/dy, d f_y/dy per crop pixel.
        jacobian = ops.concatenate([
            ops.concatenate([along_x, along_x[:, :, -1:]], axis=2),
            ops.concatenate([along_y, along_y[:, -1:]], axis=1)], axis=-1) * step
        source_x = target_x - forward[..., 0]
        source_y = target_y - forward[..., 1]
        limit = 2.0 / step  # two grid cells per step at most: no jump across a fold
        for _ in range(self.inverse_steps):
            gx, gy = (source_x + 0.5) * step - 0.5, (source_y + 0.5) * step - 0.5
            moved = bilinear_sample(forward, gx, gy)
            slope = bilinear_sample(jacobian, gx, gy)
            rx = source_x + moved[..., 0] - target_x
            ry = source_y + moved[..., 1] - target_y
            a, c, b, d = 1.0 + slope[..., 0], slope[..., 1], slope[..., 2], 1.0 + slope[..., 3]
            det = ops.maximum(a * d - b * c, 0.05)
            source_x = source_x - ops.clip((d * rx - b * ry) / det, -limit, limit)
            source_y = source_y - ops.clip((a * ry - c * rx) / det, -limit, limit)
        inverse = ops.stack([target_x - source_x, target_y - source_y], axis=-1)
        return _resize(inverse, size, size)

    def interior_masks(self, polygons, height, width):
        """Masks ``(B, H, W, 1)`` of ``polygons`` (each ``(B, K, 2)``, pixels of the mouth
        box)."""
        return [ops.expand_dims(
            soft_polygon_mask(p, height, width, self.soft_edges) if self.soft_edges > 0
            else polygon_mask(p, height, width, self.supersample), -1) for p in polygons]

    def call(self, inputs):
        return self.paint(self.warp(inputs), inputs)

    def warp(self, inputs):
        """Steps 1 and 2: the crop's own pixels moved, ``(B, S, S, 3)``."""
        crop = ops.cast(inputs["crop"], "float32")
        size, box = self._size(crop), self._box(inputs)
        inverse = self.inverse_field(inputs["basis"], ops.cast(inputs["displacement"], "float32"),
                                     size)
        px, py = self._pixel_grid(crop, size)
        source_x, source_y = px - inverse[..., 0], py - inverse[..., 1]
        warped = _sample(bilinear_sample, crop, source_x, source_y)
        # Around the mouth, where the eye looks, the lips keep their texture: any sub-pixel
        # resampling (bicubic too) averages a photo's finest detail away (a random sub-pixel
        # shift keeps 0.62 of the lip region's Laplacian variance); the smooth part is
        # sampled bicubically and the fine detail carried to the nearest pixel (0.99).
        top, left, height, width = box
        near = (slice(None), slice(top, top + height), slice(left, left + width))
        low, detail = split_detail(crop)
        x, y = source_x[near], source_y[near]
        sharp = _sample(bicubic_sample, low, x, y) + _sample(nearest_sample, detail, x, y)
        padding = ((0, 0), (top, size - top - height), (left, size - left - width), (0, 0))
        inside = ops.pad(ops.ones_like(sharp[..., :1]), padding)
        return warped * (1.0 - inside) + ops.pad(ops.clip(sharp, 0.0, 1.0), padding)

    def paint(self, warped, inputs):
        """Step 3: the mouth interior over ``warped`` (``(B, S, S, 3)``): drawn, then
        repainted by the learned interior where there is one."""
        painted, mouth = self.draw(warped, inputs)
        if self.interior is None:
            return painted
        return self.learned_interior(painted, mouth, self._size(warped), self._box(inputs))

    def draw(self, warped, inputs):
        """The drawn interior over ``warped`` and its soft mask ``(B, S, S, 1)``.

        Inside the inner lips, back to front: the cavity, lighter towards the bottom of the
        opening (the tongue; from 6% of the mouth width open); the lower teeth, a band above
        the lower lip that shows from 12% open, fully from 22%, mostly at the middle; the
        upper teeth (the ``teeth`` band and colour), in the upper lip's shadow. On real
        videos the inside of an open mouth is darkest under the upper lip and lightest at the
        bottom (:data:`UPPER_TEETH_LIGHT`). Both rows of teeth recede into shadow towards the
        corners. Heights inside the mouth are measured in each pixel column between the
        ring's upper and lower contours (:func:`_column_spans`), so the drawing needs only
        the inner-lip ring, the teeth band and the colours: the renderer's inputs (and the
        exports' signatures) are the same as for a plain cavity. Drawn in the mouth box only,
        and only where a column's lips part further than the identity's (fully from
        :data:`PARTING_PIXELS` further): with no displacement the identity is left as it is.
        """
        size, box = self._size(warped), self._box(inputs)
        top, left, height, width = box
        offset = ops.stack([ops.cast(left, "float32"), ops.cast(top, "float32")])
        inner = ops.cast(inputs["inner_lip"], "float32") - offset
        teeth = ops.cast(inputs["teeth"], "float32") - offset
        mouth, upper = self.interior_masks((inner, teeth), height, width)
        # Half a 3x3 box blur softens the lips' inner edge a little, as a camera would (a
        # whole one left the lips' box softer than the photo's).
        mouth = 0.5 * (mouth + ops.average_pool(mouth, 3, strides=1, padding="same"))
        px = ops.reshape(ops.cast(ops.arange(width), "float32"), (1, 1, -1))
        py = ops.reshape(ops.cast(ops.arange(height), "float32"), (1, -1, 1, 1))
        ceiling, floor = (ops.expand_dims(y, -1) for y in _column_spans(inner, px))
        gap, mouth_width = _gap_and_width(inner)
        opening = ops.reshape(gap / mouth_width, (-1, 1, 1, 1))
        tongue = ops.clip((opening - 0.06) / 0.12, 0.0, 1.0)
        show = ops.clip((opening - 0.12) / 0.1, 0.0, 1.0)
        down = ops.clip((py - ceiling) / ops.maximum(floor - ceiling, 1.0), 0.0, 1.0)
        # The lower teeth: up from the lower lip by 25% of the gap, at most 6% of the width.
        depth = ops.reshape(ops.minimum(0.25 * gap, 0.06 * mouth_width), (-1, 1, 1, 1))
        lower = ops.clip(py + 0.5 - (floor - depth), 0.0, 1.0) * show

        colours = ops.cast(inputs["colours"], "float32")
        cavity, tooth = colours[:, None, None, 0], colours[:, None, None, 1]
        centre = ops.reshape(ops.mean(inner[..., 0], axis=1), (-1, 1, 1, 1))
        half = ops.reshape(ops.max(inner[..., 0], axis=1) - ops.min(inner[..., 0], axis=1),
                           (-1, 1, 1, 1)) / 2.0 + 1.0
        across = ops.square((ops.expand_dims(px, -1) - centre) / half)
        drawn = cavity * (1.0 + 2.0 * tongue * ops.square(down))
        lower_tooth = cavity + (tooth - cavity) * ops.clip(0.8 - 1.2 * across, 0.0, 1.0)
        drawn = drawn * (1.0 - lower) + lower_tooth * lower
        upper_tooth = cavity + (tooth - cavity) * UPPER_TEETH_LIGHT * ops.clip(
            1.0 - 0.7 * across, 0.0, 1.0)
        drawn = drawn * (1.0 - upper) + upper_tooth * upper
        # Drawn only where the lips part further than the identity's do: a closed photo at
        # rest keeps its own lip line (the drawing would lay a dark slit along it). Without
        # a displacement (the interior's training examples: no identity) all of it.
        # The paint is premultiplied by how much of the mask it covers (``cover``).
        cover = 1.0
        if "displacement" in inputs:
            source, x, ceiling0, floor0 = _source_columns(inputs, inner, px)
            cover = ops.clip(((floor - ceiling) - (floor0 - ceiling0)) / PARTING_PIXELS,
                             0.0, 1.0)
        paint = drawn * cover
        if self.own_interior:
            own, alpha, share = self.own_interior_pixels(inputs, source, x, ceiling0, floor0,
                                                         offset, py, ceiling, floor)
            paint = paint * (1.0 - share) + (own * alpha + cavity * (1.0 - alpha)) * share
            cover = cover * (1.0 - share) + share
        region = warped[:, top:top + height, left:left + width]
        region = region * (1.0 - mouth * cover) + paint * mouth
        mouth = mouth * cover
        padding = ((0, 0), (top, size - top - height), (left, size - left - width), (0, 0))
        inside = ops.pad(ops.ones_like(mouth), padding)
        return warped * (1.0 - inside) + ops.pad(region, padding), ops.pad(mouth, padding)

    def own_interior_pixels(self, inputs, source, x, ceiling0, floor0, offset, py, ceiling,
                            floor):
        """The identity's own mouth interior moved into the target inner lips over the mouth
        box (``(B, H, W, 3)``), where it covers the target (``(B, H, W, 1)``), and how far
        the identity's mouth is open (``(B, 1, 1, 1)``, 0-1). ``source``, ``x``,
        ``ceiling0`` and ``floor0``: the identity's ring and columns (:func:`_source_columns`,
        mouth-box pixels); ``offset``: the box's ``(left, top)`` in the crop; ``py``,
        ``ceiling``, ``floor``: :meth:`draw`'s rows and the target's column spans.

        Each target column maps to the identity's column at the same place between the
        corners. Where the target opening is narrower than the identity's, the column's
        inside is squeezed into it; where it is wider, the upper half of the identity's
        inside rides with the upper lip and the lower half with the lower lip, as teeth do
        with their jaws, and the gap that opens between them is not covered: :meth:`draw`
        fills it with the cavity colour, which the rig takes from the darkest part of the
        identity's open mouth (:func:`~lipmotion_tf.motion.face_rig.interior_colours`). The
        drawing stays as it was in proportion as the identity's lips are closed
        (:data:`~lipmotion_tf.motion.representation.OPEN_MOUTH`), and wholly for a closed
        photo.
        """
        half = (floor0 - ceiling0) / 2.0
        squeeze = ops.maximum((floor0 - ceiling0) / ops.maximum(floor - ceiling, 0.5), 1.0)
        down, up = (py - ceiling) * squeeze, (floor - py) * squeeze
        upper = down <= up
        y = ops.where(upper, ceiling0 + down, floor0 - up)
        alpha = ops.clip(half - ops.where(upper, down, up) + 0.5, 0.0, 1.0)
        gap, width = _gap_and_width(source)
        low, high = OPEN_MOUTH  # representation.open_share, in the graph
        share = ops.reshape(ops.clip((gap / width - low) / (high - low), 0.0, 1.0),
                            (-1, 1, 1, 1))
        x = ops.broadcast_to(ops.expand_dims(x, -1), ops.shape(y))
        crop = ops.cast(inputs["crop"], "float32")
        own = _sample(bilinear_sample, crop, x[..., 0] + offset[0], y[..., 0] + offset[1])
        return own, alpha, share

    def interior_inputs(self, painted, mouth, box, side: int):
        """The mouth box of the drawn frame and of its mouth mask, resampled to
        ``side x side``: what :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`
        reads (``region`` ``(B, side, side, 3)``, ``mask`` ``(B, side, side, 1)``)."""
        top, left, height, width = box
        inside = (slice(None), slice(top, top + height), slice(left, left + width))
        return {"region": _resize(painted[inside], side, side),
                "mask": _resize(mouth[inside], side, side)}

    def learned_interior(self, painted, mouth, size, box):
        """The interior network's pixels in place of the drawn ones, inside its blend mask
        only: elsewhere the drawn frame is kept exactly."""
        top, left, height, width = box
        inputs = self.interior_inputs(painted, mouth, box, self.interior.size)
        repainted = self.interior(inputs)
        alpha = _resize(self.interior.blend_mask(inputs["mask"]), height, width)
        region = painted[:, top:top + height, left:left + width]
        region = region * (1.0 - alpha) + _resize(repainted, height, width) * alpha
        padding = ((0, 0), (top, size - top - height), (left, size - left - width), (0, 0))
        inside = ops.pad(ops.ones_like(region[..., :1]), padding)
        return painted * (1.0 - inside) + ops.pad(ops.clip(region, 0.0, 1.0), padding)

    def _size(self, crop):
        return self.crop_size if self.crop_size is not None else ops.shape(crop)[1]

    def _box(self, inputs):
        if self.mouth_box is not None:
            return self.mouth_box
        given = ops.cast(inputs["mouth_box"], "int32")
        return tuple(given[i] for i in range(4))

    @staticmethod
    def _pixel_grid(images, size):
        """Pixel ``x`` and ``y`` of every output pixel, ``(B, S, S)`` each."""
        grid = ops.cast(ops.arange(size), "float32")
        batch = ops.shape(images)[0]  # static where it is (TFLite: 1)
        return (ops.broadcast_to(grid[None, None, :], (batch, size, size)),
                ops.broadcast_to(grid[None, :, None], (batch, size, size)))

    def get_config(self):
        config = super().get_config()
        config.update(crop_size=self.crop_size,
                      mouth_box=None if self.mouth_box is None else list(self.mouth_box),
                      grid_size=self.grid_size, supersample=self.supersample,
                      inverse_steps=self.inverse_steps, soft_edges=self.soft_edges,
                      own_interior=self.own_interior,
                      interior=None if self.interior is None
                      else keras.saving.serialize_keras_object(self.interior))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("interior") is not None:
            config["interior"] = keras.saving.deserialize_keras_object(config["interior"])
        return cls(**config)


def _sample(sampler, image, x, y):
    """``sampler(image, x, y)`` with the positions flattened to ``(B, 1, H' * W')`` and the
    result shaped back: with one free dimension besides the batch, the samplers' new axes
    convert to TFLite builtins when the crop size is known only at run time."""
    shape = ops.shape(x)
    flat = (ops.shape(image)[0], 1, -1)
    values = sampler(image, ops.reshape(x, flat), ops.reshape(y, flat))
    return ops.reshape(values, (shape[0], shape[1], shape[2], ops.shape(image)[3]))


def _gap_and_width(ring):
    """An inner-lip ring's gap (middle upper to middle lower point) and width (corner to
    corner; never 0), ``(B,)`` each."""
    def distance(a, b):
        return ops.sqrt(ops.sum(ops.square(ring[:, a] - ring[:, b]), axis=-1))

    return distance(15, 5), distance(10, 0) + 1e-6


def _corners_x(ring):
    """The ``x`` of an inner-lip ring's two corners, ``(B, 1, 1)`` each."""
    return ops.reshape(ring[:, 0, 0], (-1, 1, 1)), ops.reshape(ring[:, 10, 0], (-1, 1, 1))


def _source_columns(inputs, inner, px):
    """The identity's inner-lip ring (the target ``inner`` ring less its displacement), the
    identity's column ``x`` (``(B, 1, W)``) at the same place between the corners as each
    target column ``px``, and the identity ring's spans there (``(B, 1, W, 1)`` each,
    :func:`_column_spans`)."""
    moved = ops.take(ops.cast(inputs["displacement"], "float32"), INNER_RING_POSITIONS, axis=1)
    source = inner - moved
    (l1, r1), (l0, r0) = _corners_x(inner), _corners_x(source)
    x = l0 + (px - l1) * (r0 - l0) / ops.maximum(r1 - l1, 1.0)
    ceiling, floor = (ops.expand_dims(y, -1) for y in _column_spans(source, x))
    return source, x, ceiling, floor


def _column_spans(inner, x):
    """Where each pixel column ``x`` (``(1, 1, W)`` or ``(B, 1, W)``) crosses inner-lip rings
    ``(B, 20, 2)`` (:data:`~lipmotion_tf.motion.representation.INNER_RING` order: the upper contour
    from corner to corner, then the lower one back): the upper contour's ``y`` and the lower
    one's, ``(B, 1, W)`` each, linear between the points. Outside the corners both are 0 (no
    span)."""
    upper = inner[:, :11]
    lower = ops.concatenate([inner[:, 10:], inner[:, :1]], axis=1)

    def crossing(contour, pick, empty):
        a, b = contour[:, :-1], contour[:, 1:]  # (B, K - 1, 2) segments
        ax, ay = ops.expand_dims(a[..., 0], -1), ops.expand_dims(a[..., 1], -1)
        bx, by = ops.expand_dims(b[..., 0], -1), ops.expand_dims(b[..., 1], -1)
        run = bx - ax
        safe = ops.where(ops.abs(run) < 1e-6, ops.ones_like(run), run)
        t = (x - ax) / safe  # (B, K - 1, W)
        within = ops.logical_and(t >= 0.0, t <= 1.0)
        y = ops.where(within, ay + t * (by - ay), empty)
        return pick(y, axis=1, keepdims=True), ops.any(within, axis=1, keepdims=True)

    ceiling, covered = crossing(upper, ops.min, 1e9)
    floor, _ = crossing(lower, ops.max, -1e9)
    covered = ops.logical_and(covered, floor > -1e8)
    return (ops.where(covered, ceiling, ops.zeros_like(ceiling)),
            ops.where(covered, floor, ops.zeros_like(floor)))


def _resize(images, height, width):
    """Bilinear resize to ``height x width``; either may be a tensor (Keras's resize wants
    Python integers; both reach the same TensorFlow kernel)."""
    if isinstance(height, int) and isinstance(width, int):
        return ops.image.resize(images, (height, width), interpolation="bilinear")
    import tensorflow as tf

    return tf.image.resize(images, ops.stack([height, width]), method="bilinear")


