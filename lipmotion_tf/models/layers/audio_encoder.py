"""Log-mel audio encoder shared by the generator and the discriminator's audio stream."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers.conv_block import ConvBlock


@keras.saving.register_keras_serializable(package="lipmotion")
class AudioEncoder(keras.layers.Layer):
    """Encodes a log-mel window ``(B, 4T, 128)`` into ``(B, T, 16, 4c)`` (time axis first).

    Structure (``c = channels``; every conv is 3x3, PyTorch padding 1, + BN + ReLU)::

        (B, 4T, 128, 1) -> conv c/2 s1 -> conv c s2 -> conv 2c s1 -> conv 4c s2
                        -> (B, T, 32, 4c) -> [conv 4c stride (1, 2)] -> (B, T, 16, 4c)

    The generator uses all five layers (the authors' ``model_corr`` generator). The paper's
    Table 4 and the authors' ``model_flownet_diff``/``model_base`` end with a (1, 2) max
    pooling instead of the fifth conv; this project keeps the conv, whose generator is the
    one the authors trained with the correlation loss (16.70 M parameters). The
    discriminator's audio stream stops after four layers (``downsample_frequency=False``),
    as in the paper's Table 9.

    Args:
        channels: width ``c`` (the generator's ``ngf``); must be even.
        downsample_frequency: add the fifth, frequency-halving conv.
        folded_norm: batch norms folded into the convolutions (see :class:`ConvBlock`).
    """

    def __init__(self, channels=64, downsample_frequency=True, folded_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.folded_norm = bool(folded_norm)
        if channels % 2:
            raise ValueError(f"channels must be even, got {channels}")
        self.channels = int(channels)
        self.downsample_frequency = bool(downsample_frequency)
        c = self.channels
        specs = [(c // 2, 1), (c, 2), (2 * c, 1), (4 * c, 2)]
        if self.downsample_frequency:
            specs.append((4 * c, (1, 2)))
        self.blocks = [
            ConvBlock(filters, 3, strides=strides, folded_norm=self.folded_norm,
                      name=f"{self.name}_conv_{i + 1}")
            for i, (filters, strides) in enumerate(specs)
        ]

    def conv_blocks(self) -> list:
        """The encoder's convolution blocks, in order."""
        return list(self.blocks)

    def call(self, inputs, training=None):
        x = ops.expand_dims(inputs, -1)
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {"channels": self.channels, "downsample_frequency": self.downsample_frequency,
             "folded_norm": self.folded_norm}
        )
        return config
