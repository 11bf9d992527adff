"""3-D convolutions computed as 2-D ones over frames stacked along the channels (for deployment).

A 3-D convolution whose time stride is 1 mixes ``kt`` neighbouring frames. Stacking those
frames along the channel axis (frame ``t`` gets the channels of frames ``t .. t + kt - 1``)
and reshaping the kernel ``(kt, kh, kw, C, O)`` to ``(kh, kw, kt * C, O)`` turns it into one
2-D convolution per frame with exactly the same sums; the transposed convolution works the
same way with the frames in reverse order. The weights are the same variables; only the graph
changes.

Why: TFLite runs CONV_2D and TRANSPOSE_CONV through XNNPACK, but CONV_3D and
CONV_3D_TRANSPOSE through its own kernels, whose im2col buffer for the generator's 7x7x7
output convolution alone is 5.7 GB at full size (65536 positions x 21952 taps): too slow and
too large for a phone, and enough to exhaust memory during int8 calibration. Stacked, the
largest temporary is the stacked input (117 MB for that layer).

The classes subclass Keras's ``Conv3D`` / ``Conv3DTranspose`` without adding state (same
weights); blocks built with ``stack_frames=True`` use them
(:meth:`~lipmotion_tf.models.generator.LipGenerator.deployment_copy`).
"""

from __future__ import annotations

import keras
from keras import ops


def _check_time_axis(layer) -> None:
    if layer.strides[0] != 1 or layer.dilation_rate[0] != 1:
        raise ValueError(
            f"{layer.name}: frame stacking needs time stride and dilation 1, got strides "
            f"{layer.strides} and dilation {layer.dilation_rate}"
        )
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: frame stacking needs channels_last data")


@keras.saving.register_keras_serializable(package="lipmotion")
class TemporalStackConv3D(keras.layers.Conv3D):
    """``keras.layers.Conv3D`` (time stride 1) computed as a per-frame Conv2D on stacked frames."""

    def convolution_op(self, inputs, kernel):
        _check_time_axis(self)
        depth = int(kernel.shape[0])
        if self.padding == "same":  # Keras pads (k - 1) // 2 before, the rest after
            before = (depth - 1) // 2
            inputs = ops.pad(inputs, [[0, 0], [before, depth - 1 - before], [0, 0], [0, 0],
                                      [0, 0]])
        frames = int(inputs.shape[1]) - depth + 1
        height, width, channels = inputs.shape[2], inputs.shape[3], inputs.shape[4]
        stacked = ops.concatenate(
            [inputs[:, shift:shift + frames] for shift in range(depth)], axis=-1
        )
        stacked = ops.reshape(stacked, (-1, height, width, depth * channels))
        kernel_2d = ops.reshape(
            ops.transpose(kernel, (1, 2, 0, 3, 4)),
            (kernel.shape[1], kernel.shape[2], depth * channels, kernel.shape[4]),
        )
        outputs = ops.conv(
            stacked, kernel_2d, strides=list(self.strides[1:]), padding=self.padding,
            dilation_rate=list(self.dilation_rate[1:]), data_format="channels_last",
        )
        shape = ops.shape(outputs)
        return ops.reshape(outputs, (-1, frames, shape[1], shape[2], shape[3]))


@keras.saving.register_keras_serializable(package="lipmotion")
class TemporalStackConv3DTranspose(keras.layers.Conv3DTranspose):
    """``keras.layers.Conv3DTranspose`` ("valid", time stride 1) as a per-frame 2-D one.

    Output frame ``t`` sums the 2-D transposed convolutions of input frames ``t - d`` with
    kernel slice ``d``: the zero-padded input stacked in reverse frame order.
    """

    def call(self, inputs):
        _check_time_axis(self)
        if self.padding != "valid" or self.output_padding is not None:
            raise ValueError(f"{self.name}: frame stacking needs padding='valid' and no "
                             "output_padding")
        kernel = self.kernel  # (kt, kh, kw, out, in)
        depth = int(kernel.shape[0])
        padded = ops.pad(inputs, [[0, 0], [depth - 1, depth - 1], [0, 0], [0, 0], [0, 0]])
        frames = int(inputs.shape[1]) + depth - 1
        height, width, channels = inputs.shape[2], inputs.shape[3], inputs.shape[4]
        stacked = ops.concatenate(
            [padded[:, depth - 1 - shift:depth - 1 - shift + frames] for shift in range(depth)],
            axis=-1,
        )
        stacked = ops.reshape(stacked, (-1, height, width, depth * channels))
        kernel_2d = ops.reshape(
            ops.transpose(kernel, (1, 2, 3, 0, 4)),
            (kernel.shape[1], kernel.shape[2], kernel.shape[3], depth * channels),
        )
        outputs = ops.conv_transpose(
            stacked, kernel_2d, strides=list(self.strides[1:]), padding="valid",
            dilation_rate=list(self.dilation_rate[1:]), data_format="channels_last",
        )
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        shape = ops.shape(outputs)
        outputs = ops.reshape(outputs, (-1, frames, shape[1], shape[2], shape[3]))
        return self.activation(outputs) if self.activation is not None else outputs
