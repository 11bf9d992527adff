"""Nearest-neighbour upsampling then a per-frame convolution: upsampling without a grid."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers.conv_block import ConvBlock


def upsample_nearest_2x(x):
    """``(B, T, H, W, C) -> (B, T, 2H, 2W, C)``, every pixel copied to a 2x2 block.

    Written as concatenations and reshapes (no gather, no resize kernel) so that it is exact
    and converts to builtin TFLite operators that XNNPACK runs (a broadcast, the first form,
    left the graph in pieces around two BROADCAST_TO nodes): each pixel next to a copy of
    itself along the channels becomes two pixels along the width, each row next to a copy of
    itself becomes two rows.
    """
    shape = ops.shape(x)
    frames, height, width, channels = shape[1], shape[2], shape[3], shape[4]
    wide = ops.reshape(ops.concatenate([x, x], axis=-1),
                       (-1, frames, height, 2 * width, channels))
    return ops.reshape(ops.concatenate([wide, wide], axis=3),
                       (-1, frames, 2 * height, 2 * width, channels))


@keras.saving.register_keras_serializable(package="lipmotion")
class UpsampleConvBlock(keras.layers.Layer):
    """2x spatial upsampling of a video tensor: nearest copy, ``1 x k x k`` conv, BN, ReLU.

    A stride-2 transposed convolution with a 3x3 kernel covers output pixels unevenly
    (Odena et al., 2016) and prints a checkerboard wherever training has not cancelled it;
    copying each pixel to a 2x2 block first and then convolving treats every output pixel
    alike, so the pattern cannot arise. The convolution runs frame by frame (time mixing is
    left to the residual blocks and the 7x7x7 output convolution): at the doubled resolution
    a ``1x3x3`` kernel costs 4/3 of the ``3x3x3`` transposed convolution it replaces.

    Args:
        filters: output channels.
        kernel_size: spatial kernel side (3).
        folded_norm: the batch norm folded into the convolution (see :class:`ConvBlock`).
    """

    def __init__(self, filters, kernel_size=3, folded_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.folded_norm = bool(folded_norm)
        self.block = ConvBlock(
            self.filters,
            (1, self.kernel_size, self.kernel_size),
            rank=3,
            frame_conv_2d=True,
            folded_norm=self.folded_norm,
            name=f"{self.name}_block",
        )

    def conv_blocks(self) -> list:
        """The layer's convolution blocks, in order."""
        return [self.block]

    def build(self, input_shape):
        batch, frames, height, width, channels = input_shape
        up = (batch, frames, None if height is None else 2 * height,
              None if width is None else 2 * width, channels)
        self.block.build(up)
        self.built = True

    def call(self, inputs, training=None):
        return self.block(upsample_nearest_2x(inputs), training=training)

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, _ = input_shape
        return (batch, frames, None if height is None else 2 * height,
                None if width is None else 2 * width, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size,
                       "folded_norm": self.folded_norm})
        return config
