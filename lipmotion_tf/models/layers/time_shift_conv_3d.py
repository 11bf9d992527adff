"""A 3-D convolution computed as one 2-D convolution per frame and a sum over time shifts."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipmotion")
class TimeShiftConv3D(keras.layers.Conv3D):
    """``keras.layers.Conv3D`` (time stride 1) computed through 2-D convolutions.

    Every (time-padded) input frame is convolved in 2-D with all ``kt`` time slices of the
    kernel at once (``kt * filters`` output channels); output frame ``t`` then sums slice
    ``d`` of frame ``t + d``. The multiply-adds are those of the 3-D convolution, but they
    run as one wide 2-D convolution, which CPU libraries compute far closer to their peak
    when ``filters`` is small: the generator's 7x7x7 output convolution (64 -> 3 channels)
    takes 79 ms instead of 189 ms per window on a 2-core CPU. The kernel is the Conv3D
    kernel, so checkpoints load either way; outputs agree to float rounding.

    Args:
        **kwargs: the arguments of ``keras.layers.Conv3D``; the time stride and time dilation
            must be 1 and the data channels-last.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.strides[0] != 1 or self.dilation_rate[0] != 1:
            raise ValueError(
                f"TimeShiftConv3D needs time stride and dilation 1, got strides {self.strides} "
                f"and dilation {self.dilation_rate}"
            )
        if self.data_format != "channels_last":
            raise ValueError("TimeShiftConv3D needs data_format='channels_last'")

    def convolution_op(self, inputs, kernel):
        depth, height, width, channels, filters = (int(d) for d in kernel.shape)
        if self.padding == "same":  # Keras pads (k - 1) // 2 frames before, the rest after
            before = (depth - 1) // 2
            inputs = ops.pad(
                inputs, [[0, 0], [before, depth - 1 - before], [0, 0], [0, 0], [0, 0]]
            )
        shape = ops.shape(inputs)
        frames = ops.reshape(inputs, (-1, shape[2], shape[3], shape[4]))
        # (kt, kh, kw, C, O) -> (kh, kw, C, kt * O): output channel d * O + o is slice d.
        kernel_2d = ops.reshape(
            ops.transpose(kernel, (1, 2, 3, 0, 4)), (height, width, channels, depth * filters)
        )
        per_frame = ops.conv(
            frames,
            kernel_2d,
            strides=list(self.strides[1:]),
            padding=self.padding,
            dilation_rate=list(self.dilation_rate[1:]),
            data_format="channels_last",
        )
        out_shape = ops.shape(per_frame)
        per_frame = ops.reshape(
            per_frame, (-1, shape[1], out_shape[1], out_shape[2], depth * filters)
        )
        length = shape[1] - depth + 1
        outputs = per_frame[:, 0:length, :, :, 0:filters]
        for d in range(1, depth):
            outputs = outputs + per_frame[:, d:d + length, :, :, d * filters:(d + 1) * filters]
        return outputs
