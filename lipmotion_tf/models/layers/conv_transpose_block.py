"""Transposed convolution (+ batch norm) (+ activation) with PyTorch's output geometry."""

from __future__ import annotations

import keras

from lipmotion_tf.models.layers.conv_block import (
    as_tuple,
    batch_norm,
    folded_conv_weights,
    make_activation,
)
from lipmotion_tf.models.layers.initializers import he_normal
from lipmotion_tf.models.layers.temporal_stack_conv import TemporalStackConv3DTranspose


@keras.saving.register_keras_serializable(package="lipmotion")
class ConvTransposeBlock(keras.layers.Layer):
    """A 2-D or 3-D transposed convolution, then batch norm and an activation.

    PyTorch's ``ConvTranspose(k, s, padding=p, output_padding=op)`` keeps the full
    ``(n - 1) * s + k`` output and crops ``p`` elements at the start and ``p - op`` at the
    end of each axis. This block does exactly that (a ``"valid"`` transposed convolution and
    a cropping layer) so the output size *and* pixel alignment equal the authors' layers;
    Keras's ``"same"`` gives the same size for ``k=3, s=2`` but shifted by one pixel.

    Args:
        filters: output channels.
        kernel_size: int or tuple of ``rank`` ints.
        strides: int or tuple of ``rank`` ints.
        rank: 2 or 3.
        padding: PyTorch ``padding``; default ``k // 2``.
        output_padding: PyTorch ``output_padding`` (at most ``padding`` on each axis).
        norm: add a batch normalisation.
        activation: ``"relu"``, ``"leaky_relu"`` (slope 0.1), ``"tanh"`` or None.
        use_bias: transposed convolution bias; default ``not norm``.
        stack_frames: compute a 3-D transposed convolution (time stride 1) as a 2-D one of
            frames stacked along the channels (:class:`TemporalStackConv3DTranspose`).
        folded_norm: the inference form of a block with ``norm`` (batch norm folded into
            the convolution; see :meth:`folded_weights`).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        rank=2,
        padding=None,
        output_padding=0,
        norm=True,
        activation="relu",
        use_bias=None,
        stack_frames=False,
        folded_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rank not in (2, 3):
            raise ValueError(f"rank must be 2 or 3, got {rank}")
        self.filters = int(filters)
        self.rank = rank
        self.kernel_size = as_tuple(kernel_size, rank, "kernel_size")
        self.strides = as_tuple(strides, rank, "strides")
        self.padding = (
            tuple(k // 2 for k in self.kernel_size)
            if padding is None
            else as_tuple(padding, rank, "padding")
        )
        self.output_padding = as_tuple(output_padding, rank, "output_padding")
        if any(op > p for op, p in zip(self.output_padding, self.padding)):
            raise ValueError("output_padding must not exceed padding on any axis")
        if any(k < s for k, s in zip(self.kernel_size, self.strides)):
            raise ValueError("kernel_size must be at least strides on every axis")
        self.norm = bool(norm)
        self.activation = activation
        self.use_bias = (not self.norm) if use_bias is None else bool(use_bias)
        self.stack_frames = bool(stack_frames)
        self.folded_norm = bool(folded_norm) and self.norm
        if self.stack_frames and rank != 3:
            raise ValueError("stack_frames applies to 3-D convolutions only")

        if rank == 2:
            layer = keras.layers.Conv2DTranspose
        elif self.stack_frames:
            layer = TemporalStackConv3DTranspose
        else:
            layer = keras.layers.Conv3DTranspose
        self.conv = layer(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding="valid",
            use_bias=self.use_bias or self.folded_norm,
            kernel_initializer=he_normal(),
            name=f"{self.name}_conv",
        )
        crops = tuple((p, p - op) for p, op in zip(self.padding, self.output_padding))
        self.crop = None
        if any(any(pair) for pair in crops):
            cropping = keras.layers.Cropping2D if rank == 2 else keras.layers.Cropping3D
            self.crop = cropping(crops, name=f"{self.name}_crop")
        self.bn = batch_norm(f"{self.name}_bn") if self.norm and not self.folded_norm else None
        self.act = make_activation(activation, f"{self.name}_{activation}")

    def folded_weights(self):
        """``(kernel, bias)`` with the batch norm folded in (as
        :meth:`ConvBlock.folded_weights`)."""
        return folded_conv_weights(self.conv, self.bn, transposed=True)

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        if self.crop is not None:
            x = self.crop(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.act is not None:
            x = self.act(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "rank": self.rank,
                "padding": list(self.padding),
                "output_padding": list(self.output_padding),
                "norm": self.norm,
                "activation": self.activation,
                "use_bias": self.use_bias,
                "stack_frames": self.stack_frames,
                "folded_norm": self.folded_norm,
            }
        )
        return config
