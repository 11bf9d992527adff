"""``MotionRenderer``: moves a face crop's own pixels to target landmarks, paints the mouth.

Per frame, at the crop's own (native) resolution:

1. the displacement field: ``basis @ displacements`` on a coarse grid (the thin-plate spline
   through the control points, :func:`~lipmotion_tf.motion.warp.tps_basis`); its inverse
   ``g(q) = f(q - f(q))`` (one fixed-point step) on the same grid, resized to the crop;
2. backward warping: each output pixel ``p`` takes the identity at ``p - g(p)``, sampled
   bicubically around the mouth (``mouth_box``) and bilinearly elsewhere;
3. the mouth interior: inside the target inner-lip polygon, a cavity colour with the upper
   teeth as a band under the upper lip, darker towards the corners (both colours come from
   the identity), blended
   through the polygon's anti-aliased mask, drawn only in ``mouth_box`` (the region the
   mouth can reach) to keep the per-frame cost small.

Only pixels the spline moves or the interior covers change; anchors on the crop's border
keep the border still, so pasting the crop back into the photo leaves no seam.

The interior is drawn, not learned: where the identity's mouth is closed there are no teeth
to move, and a learned interior needs the self-reenactment training this renderer was built
to receive (its inputs already carry everything such a layer would read).
"""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.motion.warp import bicubic_sample, bilinear_sample, polygon_mask


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class MotionRenderer(keras.layers.Layer):
    """Renders frames of a square face crop.

    Inputs (a dict):
        ``crop``: ``(B, S, S, 3)`` float32 identity crop in [0, 1].
        ``basis``: ``(G * G, N)`` thin-plate basis of the control points on a ``G x G`` grid.
        ``displacement``: ``(B, N, 2)`` control point displacements in crop pixels.
        ``inner_lip``: ``(B, K, 2)`` the target inner-lip polygon in crop pixels.
        ``teeth``: ``(B, K', 2)`` the target upper-teeth polygon in crop pixels.
        ``colours``: ``(B, 2, 3)`` cavity and teeth colours in [0, 1].

    Args:
        crop_size: ``S``.
        mouth_box: ``(top, left, height, width)`` in crop pixels: where the interior can be.
        grid_size: ``G``.
        supersample: samples per pixel side of the polygon masks (anti-aliasing).
    """

    def __init__(self, crop_size: int, mouth_box, grid_size: int = 64, supersample: int = 2,
                 **kwargs):
        super().__init__(**kwargs)
        if crop_size < 8 or grid_size < 2 or supersample < 1:
            raise ValueError("crop_size >= 8, grid_size >= 2 and supersample >= 1 required")
        self.crop_size = int(crop_size)
        self.grid_size = int(min(grid_size, crop_size))
        self.supersample = int(supersample)
        top, left, height, width = (int(v) for v in mouth_box)
        if not (0 <= top and 0 <= left and height >= 1 and width >= 1
                and top + height <= crop_size and left + width <= crop_size):
            raise ValueError(f"mouth_box {mouth_box} is not inside a {crop_size}-pixel crop")
        self.mouth_box = (top, left, height, width)

    def inverse_field(self, basis, displacement):
        """``g`` with ``p - g(p)`` the source of output pixel ``p``: ``(B, S, S, 2)`` pixels."""
        grid = self.grid_size
        forward = ops.reshape(ops.einsum("mn,bnc->bmc", basis, displacement), (-1, grid, grid, 2))
        # Coarse grid coordinates of a crop position q: (q + 0.5) * G / S - 0.5.
        step = grid / self.crop_size
        centres = (ops.cast(ops.arange(grid), "float32") + 0.5) / step - 0.5
        qx = centres[None, None, :] - forward[..., 0]
        qy = centres[None, :, None] - forward[..., 1]
        inverse = bilinear_sample(forward, (qx + 0.5) * step - 0.5, (qy + 0.5) * step - 0.5)
        return ops.image.resize(inverse, (self.crop_size, self.crop_size),
                                interpolation="bilinear")

    def interior_masks(self, inner_lip, teeth):
        """The mouth and teeth masks ``(B, S, S, 1)``, drawn inside ``mouth_box`` only."""
        top, left, height, width = self.mouth_box
        offset = ops.convert_to_tensor([[[float(left), float(top)]]])
        masks = [polygon_mask(ops.cast(p, "float32") - offset, height, width, self.supersample)
                 for p in (inner_lip, teeth)]
        padding = ((0, 0), (top, self.crop_size - top - height),
                   (left, self.crop_size - left - width))
        return [ops.pad(mask, padding)[..., None] for mask in masks]

    def call(self, inputs):
        crop = ops.cast(inputs["crop"], "float32")
        size = self.crop_size
        inverse = self.inverse_field(inputs["basis"], ops.cast(inputs["displacement"], "float32"))
        grid = ops.cast(ops.arange(size), "float32")
        batch = ops.shape(inverse)[0]
        px = ops.broadcast_to(grid[None, None, :], (batch, size, size))
        py = ops.broadcast_to(grid[None, :, None], (batch, size, size))
        warped = bilinear_sample(crop, px - inverse[..., 0], py - inverse[..., 1])
        # Around the mouth, where the eye looks, bicubic sampling keeps the lips' texture.
        top, left, height, width = self.mouth_box
        near = (slice(None), slice(top, top + height), slice(left, left + width))
        sharp = bicubic_sample(crop, px[near] - inverse[near][..., 0],
                               py[near] - inverse[near][..., 1])
        padding = ((0, 0), (top, size - top - height), (left, size - left - width), (0, 0))
        inside = ops.pad(ops.ones_like(sharp[..., :1]), padding)
        warped = warped * (1.0 - inside) + ops.pad(ops.clip(sharp, 0.0, 1.0), padding)
        mouth, teeth = self.interior_masks(inputs["inner_lip"], inputs["teeth"])
        # A 3x3 box blur softens the lips' inner edge by a pixel, as a camera would.
        mouth = ops.average_pool(mouth, 3, strides=1, padding="same")
        colours = ops.cast(inputs["colours"], "float32")
        cavity, tooth = colours[:, None, None, 0], colours[:, None, None, 1]
        # Teeth recede into shadow towards the corners of the mouth.
        inner = ops.cast(inputs["inner_lip"], "float32")
        centre = ops.mean(inner[..., 0], axis=1)[:, None, None, None]
        half = (ops.max(inner[..., 0], axis=1) - ops.min(inner[..., 0], axis=1))[
            :, None, None, None] / 2.0 + 1.0
        across = ops.abs(px[..., None] - centre) / half
        tooth = cavity + (tooth - cavity) * ops.clip(1.0 - 0.7 * ops.square(across), 0.0, 1.0)
        interior = cavity * (1.0 - teeth) + tooth * teeth
        return warped * (1.0 - mouth) + interior * mouth

    def get_config(self):
        config = super().get_config()
        config.update(crop_size=self.crop_size, mouth_box=list(self.mouth_box),
                      grid_size=self.grid_size, supersample=self.supersample)
        return config
