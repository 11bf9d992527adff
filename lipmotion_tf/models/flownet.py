"""FlowNetS: optical flow between two lip frames, differentiable end to end."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers import ConvBlock, ConvTransposeBlock

# (name, filters as a multiple of c, kernel, stride) of the contracting part.
_ENCODER = (
    ("conv1", 1, 7, 2),
    ("conv2", 2, 5, 2),
    ("conv3", 4, 5, 2),
    ("conv3_1", 4, 3, 1),
    ("conv4", 8, 3, 2),
    ("conv4_1", 8, 3, 1),
    ("conv5", 8, 3, 2),
    ("conv5_1", 8, 3, 1),
    ("conv6", 16, 3, 2),
    ("conv6_1", 16, 3, 1),
)
# Expanding part, coarse to fine: the level a flow is predicted at and the skip it joins.
_LEVELS = (("5", "conv5_1", 8), ("4", "conv4_1", 4), ("3", "conv3_1", 2), ("2", "conv2", 1))


@keras.saving.register_keras_serializable(package="lipmotion")
class FlowNet(keras.Model):
    """FlowNetS (Dosovitskiy et al., 2015) without batch norm, as the authors use it.

    Input: frame pairs ``(N, 64, 64, 6)`` = ``concat(frame_t, frame_t+1)`` on channels,
    frames in [-1, 1]. Output: a list of flows, finest first,
    ``[flow2 (N, 16, 16, 2), flow3 (N, 8, 8, 2), flow4 (N, 4, 4, 2), flow5, flow6 (N, 1, 1, 2)]``.

    Structure (``c = channels``; 38.68 M parameters at ``c = 64``; every conv has a bias and
    is followed by LeakyReLU(0.1), PyTorch padding ``k // 2``)::

        conv1 7x7 s2 c, conv2 5x5 s2 2c, conv3 5x5 s2 4c, conv3_1 4c, conv4 s2 8c,
        conv4_1 8c, conv5 s2 8c, conv5_1 8c, conv6 s2 16c, conv6_1 16c      (3x3 unless said)
        flow6 = predict_flow6(conv6_1)
        for level 5, 4, 3, 2:
            deconv = ConvTranspose 4x4 s2 (no bias) + LeakyReLU of the previous features
            up     = ConvTranspose 4x4 s2 (no bias) of the previous flow
            concat(skip, deconv, up) -> predict_flow (3x3 conv to 2 channels, no bias)

    Deconvolution widths are 8c, 4c, 2c, c. At 64x64 the sizes divide evenly, so FlowNetS's
    ``crop_like`` is not needed.

    Units: the fine-tuning targets are OpenCV Farneback flows of the 64x64 frames, in
    pixels, divided by 20 (the authors' normalisation) and average-pooled to each flow's
    grid without rescaling (as FlowNetS's multiscale loss), so ``20 * flow2`` is a
    displacement in 64x64 pixels sampled on a 16x16 grid.

    Differences from the authors' code: the network always returns the list of flows (the
    PyTorch model returns only flow2 in eval mode, which is why the authors keep it in
    train mode; it has no batch norm, so the mode changes nothing else). Kernels are
    He-normal initialised.

    Args:
        channels: width ``c`` (64 as FlowNetS; smaller for CPU runs).
    """

    def __init__(self, channels=64, **kwargs):
        super().__init__(**kwargs)
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.channels = int(channels)
        c = self.channels
        for name, multiple, kernel, stride in _ENCODER:
            setattr(self, name, ConvBlock(
                multiple * c, kernel, strides=stride, norm=False, activation="leaky_relu",
                name=name,
            ))
        self.predict_flow6 = self._flow_head("predict_flow6")
        for level, _, multiple in _LEVELS:
            setattr(self, f"deconv{level}", ConvTransposeBlock(
                multiple * c, 4, strides=2, padding=1, norm=False, activation="leaky_relu",
                use_bias=False, name=f"deconv{level}",
            ))
            setattr(self, f"upsample_flow{int(level) + 1}_to_{level}", ConvTransposeBlock(
                2, 4, strides=2, padding=1, norm=False, activation=None, use_bias=False,
                name=f"upsample_flow{int(level) + 1}_to_{level}",
            ))
            setattr(self, f"concat{level}", keras.layers.Concatenate(
                axis=-1, name=f"concat{level}"
            ))
            setattr(self, f"predict_flow{level}", self._flow_head(f"predict_flow{level}"))

    @staticmethod
    def _flow_head(name: str) -> ConvBlock:
        return ConvBlock(2, 3, norm=False, activation=None, use_bias=False, name=name)

    def call(self, inputs, training=None):
        skips = {}
        x = inputs
        for name, *_ in _ENCODER:
            x = getattr(self, name)(x)
            skips[name] = x
        flow = self.predict_flow6(x)
        flows = [flow]
        for level, skip, _ in _LEVELS:
            deconv = getattr(self, f"deconv{level}")(x)
            up = getattr(self, f"upsample_flow{int(level) + 1}_to_{level}")(flow)
            x = getattr(self, f"concat{level}")([skips[skip], deconv, up])
            flow = getattr(self, f"predict_flow{level}")(x)
            flows.append(flow)
        return flows[::-1]

    def clip_flows(self, video, training=None):
        """Flows of the consecutive frame pairs of clips.

        Args:
            video: ``(B, T, 64, 64, 3)`` in [-1, 1], T >= 2.

        Returns:
            ``(B, T - 1, 16, 16, 2)``: flow2 of each pair ``(frame_t, frame_t+1)``.
        """
        shape = ops.shape(video)
        pairs = ops.concatenate([video[:, :-1], video[:, 1:]], axis=-1)
        pairs = ops.reshape(pairs, (-1, shape[2], shape[3], 2 * shape[4]))
        flow = self(pairs, training=training)[0]
        flow_shape = ops.shape(flow)
        return ops.reshape(flow, (-1, shape[1] - 1, flow_shape[1], flow_shape[2], 2))

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels})
        return config
