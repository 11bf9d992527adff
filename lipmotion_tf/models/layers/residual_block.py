"""Residual block ``x + BN(conv(ReLU(BN(conv(x)))))``, 2-D or 3-D."""

from __future__ import annotations

import keras

from lipmotion_tf.models.layers.conv_block import ConvBlock


@keras.saving.register_keras_serializable(package="lipmotion")
class ResidualBlock(keras.layers.Layer):
    """Two same-size convolutions with batch norm and a skip connection (no ReLU after the add).

    As the ResNet blocks of the authors' generator (3-D, zero padding) and perceptual
    autoencoder (2-D, reflection padding): conv, BN, ReLU, conv, BN, then ``x + f(x)``.

    Args:
        filters: channels (input and output).
        kernel_size: int or tuple of ``rank`` ints, odd (``(1, 3, 3)`` in the generator).
        rank: 2 or 3.
        padding_mode: ``"zero"`` or ``"reflect"`` (2-D only).
        frame_conv_2d: compute ``1 x k x k`` 3-D kernels as per-frame 2-D convolutions
            (same weights; see :class:`FrameConv3D`).
        stack_frames: compute 3-D kernels over stacked frames (see :class:`ConvBlock`).
        folded_norm: batch norms folded into the convolutions (see :class:`ConvBlock`).
    """

    def __init__(
        self, filters, kernel_size=3, rank=2, padding_mode="zero", frame_conv_2d=False,
        stack_frames=False, folded_norm=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = kernel_size if isinstance(kernel_size, int) else tuple(kernel_size)
        self.rank = rank
        self.padding_mode = padding_mode
        self.frame_conv_2d = bool(frame_conv_2d)
        self.stack_frames = bool(stack_frames)
        self.folded_norm = bool(folded_norm)
        common = dict(
            filters=self.filters,
            kernel_size=self.kernel_size,
            rank=rank,
            padding_mode=padding_mode,
            frame_conv_2d=self.frame_conv_2d,
            stack_frames=self.stack_frames,
            folded_norm=self.folded_norm,
        )
        self.conv_1 = ConvBlock(activation="relu", name=f"{self.name}_1", **common)
        self.conv_2 = ConvBlock(activation=None, name=f"{self.name}_2", **common)
        self.skip_add = keras.layers.Add(name=f"{self.name}_add")

    def conv_blocks(self) -> list:
        """The block's convolution blocks, in order."""
        return [self.conv_1, self.conv_2]

    def call(self, inputs, training=None):
        residual = self.conv_2(self.conv_1(inputs, training=training), training=training)
        return self.skip_add([inputs, residual])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": (
                    self.kernel_size
                    if isinstance(self.kernel_size, int)
                    else list(self.kernel_size)
                ),
                "rank": self.rank,
                "padding_mode": self.padding_mode,
                "frame_conv_2d": self.frame_conv_2d,
                "stack_frames": self.stack_frames,
                "folded_norm": self.folded_norm,
            }
        )
        return config
