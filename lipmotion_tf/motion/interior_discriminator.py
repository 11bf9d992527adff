"""``InteriorDiscriminator``: tells a camera's mouth interior from the network's.

A conditional patch discriminator on the ``size``-pixel mouth box: it reads the drawn region
and its mask (what the interior network was given) with either the real region or the
network's, and gives a logit per patch (``size / 8`` on a side). An L1 loss alone makes the
interior the median of what a mouth can hold (a pinkish blur where a camera would show teeth,
tongue or a dark cavity); this term rewards a picture a camera could have taken.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class InteriorDiscriminator(keras.Model):
    """Patch logits ``(B, size / 8, size / 8, 1)`` for ``{"region", "mask", "image"}``.

    Args:
        width: channels of the first layer (doubled at each of the next two).
    """

    def __init__(self, width: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        self.convs = [layers.Conv2D(self.width * 2 ** level, 4, strides=2, padding="same",
                                    name=f"conv{level}") for level in range(3)]
        self.head = layers.Conv2D(1, 3, padding="same", name="logits")

    def call(self, inputs):
        x = ops.concatenate([ops.cast(inputs["region"], "float32") * 2.0 - 1.0,
                             ops.cast(inputs["mask"], "float32"),
                             ops.cast(inputs["image"], "float32") * 2.0 - 1.0], axis=-1)
        for conv in self.convs:
            x = ops.leaky_relu(conv(x), 0.2)
        return self.head(x)

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width)
        return config
