"""Audio side of the audio-visual correlation loss."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers import ConvBlock


@keras.saving.register_keras_serializable(package="lipmotion")
class AudioDerivativeEncoder(keras.Model):
    """Maps the generator's audio features to one value per time step (paper Sec. 3.2).

    Input: ``audio_features`` ``(B, T, 16, C)`` (time, frequency, channels), the
    generator's audio encoder output.

    Structure (``c = channels``; 0.39 M parameters at ``c = 128``, ``C = 256``)::

        derivative  x[:, t + 1] - x[:, t]                       -> (B, T - 1, 16, C)
        4 x [Conv2D 3x3, stride (1, 2), padding 1 + BN + ReLU]: c, c/2, c/4, c/8
                                                                -> (B, T - 1, 1, c/8)
        mean over the c/8 channels                              -> (B, T - 1)

    The strides shrink only the frequency axis, so the time length is kept and each output
    step sees 9 input steps; the mean over channels is the authors' ``avg_pool1d(., 16, 16)``.

    Differences from the authors' code: the derivative is the forward difference
    ``x[t + 1] - x[t]`` (the paper's "derivative between consecutive frames"); the
    authors compute ``x[t] - x[t + 1]``. The sign is absorbed by the learned convolutions.

    Args:
        channels: width of the first layer ``c`` (128); halved by each following layer.
        derivative: take the time derivative first (the paper). False is the
            "non-derivative correlation" ablation: the same layers on the features
            themselves, giving ``(B, T)``.
    """

    def __init__(self, channels=128, derivative=True, **kwargs):
        super().__init__(**kwargs)
        if channels < 8 or channels % 8:
            raise ValueError(f"channels must be a positive multiple of 8, got {channels}")
        self.channels = int(channels)
        self.derivative = bool(derivative)
        self.blocks = [
            ConvBlock(self.channels // 2**i, 3, strides=(1, 2), name=f"conv_{i + 1}")
            for i in range(4)
        ]

    def call(self, inputs, training=None):
        x = inputs
        if self.derivative:
            x = x[:, 1:] - x[:, :-1]
        for block in self.blocks:
            x = block(x, training=training)
        return ops.mean(x, axis=(2, 3))

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "derivative": self.derivative})
        return config
