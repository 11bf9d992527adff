"""Visual side of the audio-visual correlation loss."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers import ConvBlock

_CHANNELS = (4, 8, 16, 16, 16, 16)


@keras.saving.register_keras_serializable(package="lipmotion")
class FlowEncoder(keras.Model):
    """Maps optical flows (or frames) to one value per time step (paper Sec. 3.2).

    Structure (11.6 k parameters with ``derivative=True``)::

        derivative=True:  flows (B, T - 1, 16, 16, 2)
            4 x [Conv3D 3x3x3, stride (1, 2, 2), padding 1 + BN + ReLU]: 4, 8, 16, 16
            -> (B, T - 1, 1, 1, 16) -> mean over channels -> (B, T - 1)
        derivative=False: video (B, T, 64, 64, 3)   ("non-derivative correlation" ablation)
            6 such layers: 4, 8, 16, 16, 16, 16 -> (B, T, 1, 1, 16) -> (B, T)

    The strides shrink only the spatial axes, so the time length is kept; the 3-D kernels
    give each output step a temporal receptive field that lets the loss absorb the
    variable audio-visual delay. The 6-layer layout is the authors' encoder for 64x64 flow
    fields, used here on the frames themselves as the paper's ablation describes.

    Args:
        derivative: read FlowNet flows (the paper) or, when False, the video frames.
    """

    def __init__(self, derivative=True, **kwargs):
        super().__init__(**kwargs)
        self.derivative = bool(derivative)
        layers = 4 if self.derivative else 6
        self.blocks = [
            ConvBlock(filters, 3, strides=(1, 2, 2), rank=3, name=f"conv_{i + 1}")
            for i, filters in enumerate(_CHANNELS[:layers])
        ]

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return ops.mean(x, axis=(2, 3, 4))

    def get_config(self):
        config = super().get_config()
        config.update({"derivative": self.derivative})
        return config
