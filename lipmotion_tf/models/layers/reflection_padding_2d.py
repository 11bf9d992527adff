"""Reflection padding of the two spatial axes (PyTorch's ``ReflectionPad2d``)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipmotion")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads ``(B, H, W, C)`` by mirroring the border rows and columns (the edge is not repeated).

    Keras has no reflection padding layer; the identity encoder and the perceptual
    autoencoder pad with reflection before their 7x7 and residual convolutions, as the
    pix2pix-style networks of the authors do, to avoid dark borders.

    Args:
        padding: ``p`` or ``((top, bottom), (left, right))``.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        self.padding = tuple(tuple(int(p) for p in pair) for pair in padding)

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        (top, bottom), (left, right) = self.padding
        return (
            batch,
            None if height is None else height + top + bottom,
            None if width is None else width + left + right,
            channels,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"padding": [list(pair) for pair in self.padding]})
        return config
