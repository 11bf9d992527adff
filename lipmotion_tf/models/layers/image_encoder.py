"""Lip image encoder: 7x7 stem and two stride-2 convolutions (pix2pix ResNet front end)."""

from __future__ import annotations

import keras

from lipmotion_tf.models.layers.conv_block import ConvBlock


@keras.saving.register_keras_serializable(package="lipmotion")
class ImageEncoder(keras.layers.Layer):
    """Encodes ``(B, 64, 64, 3)`` images into ``(B, 16, 16, 4c)`` feature maps.

    Structure (``c = channels``, each + BN + ReLU)::

        reflect-pad 3 + conv 7x7 c -> conv 3x3 s2 2c -> conv 3x3 s2 4c

    It is the generator's identity encoder and the front of the perceptual autoencoder,
    which share this layout in the authors' code.

    Args:
        channels: width ``c``.
        folded_norm: batch norms folded into the convolutions (see :class:`ConvBlock`).
    """

    def __init__(self, channels=64, folded_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.folded_norm = bool(folded_norm)
        c = self.channels
        folded = dict(folded_norm=self.folded_norm)
        self.blocks = [
            ConvBlock(c, 7, padding_mode="reflect", name=f"{self.name}_conv_1", **folded),
            ConvBlock(2 * c, 3, strides=2, name=f"{self.name}_conv_2", **folded),
            ConvBlock(4 * c, 3, strides=2, name=f"{self.name}_conv_3", **folded),
        ]

    def conv_blocks(self) -> list:
        """The encoder's convolution blocks, in order."""
        return list(self.blocks)

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "folded_norm": self.folded_norm})
        return config
