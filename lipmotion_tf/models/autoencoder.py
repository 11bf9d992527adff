"""Per-frame autoencoder whose encoder gives the perceptual loss's feature space."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers import (
    ConvBlock,
    ConvTransposeBlock,
    ImageEncoder,
    ResidualBlock,
)


@keras.saving.register_keras_serializable(package="lipmotion")
class VideoAutoencoder(keras.Model):
    """A 2-D ResNet autoencoder applied to every frame of a clip (paper Sec. 4.1).

    Input: video ``(B, T, 64, 64, 3)`` in [-1, 1]. Output (a dict): ``reconstruction``
    ``(B, T, 64, 64, 3)`` (tanh) and ``features`` ``(B, T, 16, 16, 4c)``, the encoder output
    the perceptual loss compares (with the encoder frozen).

    Structure (``c = channels``; 7.84 M parameters at ``c = 64``, the authors'
    ``embedding.Encoder``)::

        encoder  reflect-pad 3 + conv 7x7 c, conv 3x3 s2 2c, conv 3x3 s2 4c (+ BN + ReLU)
                 res_blocks x [reflect-pad 1, conv 3x3, BN, ReLU, reflect-pad 1, conv, BN] + skip
        decoder  2 x [ConvTranspose 3x3 s2 (PyTorch padding 1, output padding 1) + BN + ReLU]: 2c, c
                 reflect-pad 3 + conv 7x7 -> 3 (bias) + tanh

    The frames are folded into the batch ``(B*T, 64, 64, 3)``: one 2-D pass instead of the
    authors' Python loop over frames, with the same result.

    Args:
        channels: width ``c``.
        res_blocks: residual blocks at the bottleneck (6).
    """

    def __init__(self, channels=64, res_blocks=6, **kwargs):
        super().__init__(**kwargs)
        if res_blocks < 0:
            raise ValueError(f"res_blocks must be >= 0, got {res_blocks}")
        self.channels = int(channels)
        self.res_blocks = int(res_blocks)
        c = self.channels
        self.encoder_stem = ImageEncoder(c, name="encoder_stem")
        self.encoder_blocks = [
            ResidualBlock(4 * c, 3, padding_mode="reflect", name=f"encoder_res_block_{i + 1}")
            for i in range(self.res_blocks)
        ]
        self.decoder_upsample = [
            ConvTransposeBlock(
                filters, 3, strides=2, padding=1, output_padding=1,
                name=f"decoder_upsample_{i + 1}",
            )
            for i, filters in enumerate((2 * c, c))
        ]
        self.decoder_output = ConvBlock(
            3, 7, padding_mode="reflect", norm=False, activation="tanh", use_bias=True,
            name="decoder_output",
        )

    def _encode_frames(self, frames, training=None):
        x = self.encoder_stem(frames, training=training)
        for block in self.encoder_blocks:
            x = block(x, training=training)
        return x

    @staticmethod
    def _fold(video):
        shape = ops.shape(video)
        return ops.reshape(video, (-1, shape[2], shape[3], shape[4])), shape[1]

    @staticmethod
    def _unfold(frames, length):
        shape = ops.shape(frames)
        return ops.reshape(frames, (-1, length, shape[1], shape[2], shape[3]))

    def call(self, inputs, training=None):
        frames, length = self._fold(inputs)
        features = self._encode_frames(frames, training=training)
        x = features
        for block in self.decoder_upsample:
            x = block(x, training=training)
        reconstruction = self.decoder_output(x, training=training)
        return {
            "reconstruction": self._unfold(reconstruction, length),
            "features": self._unfold(features, length),
        }

    def encode(self, video, training=False):
        """Encoder features ``(B, T, 16, 16, 4c)`` of a video ``(B, T, 64, 64, 3)``."""
        frames, length = self._fold(video)
        return self._unfold(self._encode_frames(frames, training=training), length)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "res_blocks": self.res_blocks})
        return config
