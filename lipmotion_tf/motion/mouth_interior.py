"""``MouthInterior``: the learned inside of the mouth (teeth, tongue, cavity, the lips' inner edge).

The renderer draws a rough interior into the warped face (a cavity colour and an upper-teeth
band inside the target inner-lip polygon); this network repaints it as a camera would show
it. It works on the mouth box resampled to ``size x size`` pixels (128 by default: the region
the inner lips can reach, :func:`~lipmotion_tf.motion.face_rig.lips_box`) and only inside
the inner-lip mask widened by a few pixels (:meth:`MouthInterior.blend_mask`): outside it
the face's own pixels pass through untouched, so the network cannot move skin or lips and
needs no penalty to stay in the mouth.

Trained by single-frame self-reenactment (:mod:`~lipmotion_tf.motion.interior_data`): a real
frame of an open mouth with the drawn interior painted over its inner-lip polygon is the
input, the frame itself the target. No audio is needed, so every face video counts.

Inputs: ``region`` ``(B, size, size, 3)`` in [0, 1] (the drawn frame's mouth box) and
``mask`` ``(B, size, size, 1)`` (the inner-lip polygon's soft mask). Output: the region with
the interior repainted, ``(B, size, size, 3)``.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class MouthInterior(keras.Model):
    """A small U-Net that repaints the inside of the mouth (see the module docstring).

    Args:
        size: side of the square the mouth box is resampled to (at least 32, a multiple of 8).
        width: channels of the first level; each of the three lower levels has
            ``1.5x`` the one above.
        grow: pixels (at ``size``) by which the inner-lip mask is widened for blending, so
            that the network also draws the lips' inner edge.
    """

    def __init__(self, size: int = 128, width: int = 24, grow: int = 3, **kwargs):
        super().__init__(**kwargs)
        if size < 32 or size % 8 or width < 4 or grow < 0:
            raise ValueError("size >= 32 (a multiple of 8), width >= 4 and grow >= 0 required")
        self.size, self.width, self.grow = int(size), int(width), int(grow)
        widths = [self.width, int(self.width * 1.5), int(self.width * 2.25),
                  int(self.width * 3.375)]
        self.down = []
        for level, channels in enumerate(widths):
            stride = 1 if level == 0 else 2
            self.down.append([
                layers.Conv2D(channels, 3, strides=stride, padding="same", activation="relu",
                              name=f"down{level}_a"),
                layers.Conv2D(channels, 3, padding="same", activation="relu",
                              name=f"down{level}_b"),
            ])
        # Context at the lowest level (16x16 at 128): the whole mouth, so both corners agree.
        self.context = [layers.Conv2D(widths[-1], 3, padding="same", dilation_rate=rate,
                                      activation="relu", name=f"context{rate}")
                        for rate in (2, 4)]
        self.up = []
        for level in (2, 1, 0):
            self.up.append([
                layers.Conv2D(widths[level], 3, padding="same", activation="relu",
                              name=f"up{level}_a"),
                layers.Conv2D(widths[level], 3, padding="same", activation="relu",
                              name=f"up{level}_b"),
            ])
        self.to_rgb = layers.Conv2D(3, 1, name="to_rgb")

    def blend_mask(self, mask):
        """Where the network's pixels are used: the mask widened by ``grow`` pixels, then
        softened by one (``(B, size, size, 1)``, 0 outside)."""
        mask = ops.cast(mask, "float32")
        if self.grow:
            mask = ops.max_pool(mask, 2 * self.grow + 1, strides=1, padding="same")
        return ops.average_pool(mask, 3, strides=1, padding="same")

    def call(self, inputs, training=False):
        region = ops.cast(inputs["region"], "float32")
        mask = ops.cast(inputs["mask"], "float32")
        x = ops.concatenate([region * 2.0 - 1.0, mask], axis=-1)
        skips = []
        for first, second in self.down:
            x = second(first(x))
            skips.append(x)
        for layer in self.context:
            x = x + layer(x)
        for (first, second), skip in zip(self.up, reversed(skips[:-1])):
            x = ops.image.resize(x, ops.shape(skip)[1:3], interpolation="bilinear")
            x = second(first(ops.concatenate([x, skip], axis=-1)))
        # A residual on the drawn region: the network only has to add what a camera sees.
        painted = ops.clip(region + ops.tanh(self.to_rgb(x)), 0.0, 1.0)
        blend = self.blend_mask(mask)
        return region * (1.0 - blend) + painted * blend

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, width=self.width, grow=self.grow)
        return config
