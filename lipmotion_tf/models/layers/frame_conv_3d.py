"""A 3-D convolution that can run its ``1 x k x k`` kernel frame by frame as a 2-D convolution."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lipmotion")
class FrameConv3D(keras.layers.Conv3D):
    """``keras.layers.Conv3D`` with an optional per-frame 2-D execution path.

    A Conv3D whose kernel is one frame deep (``(1, kh, kw, C_in, C_out)``) with time stride 1
    mixes nothing across frames: it equals a Conv2D with kernel ``kernel[0]`` applied to
    every frame. With ``frame_conv_2d=True`` the input ``(B, T, H, W, C)`` is folded to
    ``(B*T, H, W, C)`` and convolved in 2-D. The weights are the same variable in both modes,
    so a checkpoint written in one mode loads in the other; the switch only changes the
    graph. It exists for deployment: TFLite runs CONV_3D through slow reference kernels and
    CONV_2D through XNNPACK.

    Args:
        frame_conv_2d: run as a per-frame 2-D convolution. Needs a kernel depth, time stride
            and time dilation of 1.
        **kwargs: the arguments of ``keras.layers.Conv3D``.
    """

    def __init__(self, *args, frame_conv_2d=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.frame_conv_2d = bool(frame_conv_2d)
        if self.frame_conv_2d and (
            self.kernel_size[0] != 1 or self.strides[0] != 1 or self.dilation_rate[0] != 1
        ):
            raise ValueError(
                "frame_conv_2d needs a kernel depth, time stride and time dilation of 1, got "
                f"kernel_size={self.kernel_size}, strides={self.strides}"
            )
        if self.frame_conv_2d and self.data_format != "channels_last":
            raise ValueError("frame_conv_2d needs data_format='channels_last'")

    def convolution_op(self, inputs, kernel):
        if not self.frame_conv_2d:
            return super().convolution_op(inputs, kernel)
        shape = ops.shape(inputs)
        frames = ops.reshape(inputs, (-1, shape[2], shape[3], shape[4]))
        outputs = ops.conv(
            frames,
            kernel[0],
            strides=list(self.strides[1:]),
            padding=self.padding,
            dilation_rate=list(self.dilation_rate[1:]),
            data_format="channels_last",
        )
        out_shape = ops.shape(outputs)
        return ops.reshape(outputs, (-1, shape[1], out_shape[1], out_shape[2], out_shape[3]))

    def get_config(self):
        config = super().get_config()
        config.update({"frame_conv_2d": self.frame_conv_2d})
        return config
