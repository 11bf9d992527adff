"""The audio-conditioned video discriminator (three-stream and its ablations)."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.models.layers import AudioEncoder, ConvBlock
from lipmotion_tf.models.layers.conv_block import batch_norm

STREAMS = ("three", "two", "frame_diff")


@keras.saving.register_keras_serializable(package="lipmotion")
class LipDiscriminator(keras.Model):
    """Scores a 16-frame lip clip against its speech; returns logits ``(B, 1)``.

    Inputs (a dict):
        ``video``: ``(B, 16, 64, 64, 3)`` in [-1, 1].
        ``audio``: ``(B, 64, 128)`` log-mel window of the clip (or of another clip, for
            the mismatch term).
        ``flow``: ``(B, 15, 16, 16, 2)`` FlowNet flows of consecutive frames; read only
            with ``streams="three"``.

    Structure (``c = channels``; paper Sec. 4.2 and the authors' three-stream D,
    54.28 M parameters at ``c = 64``)::

        audio stream   4 x [conv 3x3 + BN + ReLU]: c/2 s1, c s2, 2c s1, 4c s2 -> (16, 32, 4c)
                       flatten, Dense 4c (no bias) + BN + ReLU, tiled to (1, 4, 4, 4c)
        video stream   4 x Conv3D 4x4x4, PyTorch padding 1, strides 2, 2, 2, (1, 2, 2);
                       c (no norm, bias), 2c, 4c, 4c (+ BN); ReLU -> (1, 4, 4, 4c)
        flow stream    4 x Conv3D 3x3x3, padding 1, strides 2, (2, 1, 1), 2, (2, 1, 1);
                       c (no norm, bias), 2c, 4c, 4c (+ BN); ReLU -> (1, 4, 4, 4c)
        joint          concat (12c) -> Conv3D 3x3x3 8c + BN + ReLU
                       -> Conv3D (1, 4, 4) valid 1 (bias) -> (B, 1) logits

    ``streams`` selects the paper's ablations (Table 2):

    * ``"three"``: audio + video + optical flow (the full model).
    * ``"two"``: audio + video. As the authors' two-stream D, the video stream's last
      layer is widened to 8c so the joint layers see the same 12c channels.
    * ``"frame_diff"``: the third stream reads the differences of consecutive frames
      ``(B, 15, 64, 64, 3)``, computed here from the video, through 4 x Conv3D
      (3, 4, 4), stride 2, padding 1 (c without norm, 2c, 4c, 4c) -> (1, 4, 4, 4c). The
      authors' code for this variant is not public; this layout is the project's own.

    Differences from the authors' code: the authors end with a sigmoid and train with
    ``BCELoss``; this network returns the logit and the losses use from-logits binary
    cross-entropy, the same objective computed stably. Activations are ReLU, as in the
    authors' code (not LeakyReLU). The audio stream of every variant keeps the Dense +
    BN + ReLU of the three-stream D (the authors' two-stream D has a biased Dense + ReLU).

    Args:
        channels: width ``c``; a multiple of 4.
        streams: ``"three"``, ``"two"`` or ``"frame_diff"``.
    """

    def __init__(self, channels=64, streams="three", **kwargs):
        super().__init__(**kwargs)
        if channels < 4 or channels % 4:
            raise ValueError(f"channels must be a positive multiple of 4, got {channels}")
        if streams not in STREAMS:
            raise ValueError(f"streams must be one of {STREAMS}, got {streams!r}")
        self.channels = int(channels)
        self.streams = streams
        c = self.channels

        self.audio_stream = AudioEncoder(c, downsample_frequency=False, name="audio_stream")
        self.audio_flatten = keras.layers.Flatten(name="audio_stream_flatten")
        self.audio_dense = keras.layers.Dense(4 * c, use_bias=False, name="audio_stream_dense")
        self.audio_bn = batch_norm("audio_stream_dense_bn")
        self.audio_relu = keras.layers.ReLU(name="audio_stream_dense_relu")

        video_last = 8 * c if streams == "two" else 4 * c
        video_specs = [(c, 2), (2 * c, 2), (4 * c, 2), (video_last, (1, 2, 2))]
        self.video_stream = [
            ConvBlock(
                filters, 4, strides=strides, rank=3, padding=1, norm=i > 0,
                name=f"video_stream_conv_{i + 1}",
            )
            for i, (filters, strides) in enumerate(video_specs)
        ]
        self.motion_stream = []
        if streams == "three":
            motion_specs = [(c, 2), (2 * c, (2, 1, 1)), (4 * c, 2), (4 * c, (2, 1, 1))]
            self.motion_stream = [
                ConvBlock(
                    filters, 3, strides=strides, rank=3, padding=1, norm=i > 0,
                    name=f"flow_stream_conv_{i + 1}",
                )
                for i, (filters, strides) in enumerate(motion_specs)
            ]
        elif streams == "frame_diff":
            self.motion_stream = [
                ConvBlock(
                    filters, (3, 4, 4), strides=2, rank=3, padding=1, norm=i > 0,
                    name=f"frame_diff_stream_conv_{i + 1}",
                )
                for i, filters in enumerate((c, 2 * c, 4 * c, 4 * c))
            ]
        self.joint_concat = keras.layers.Concatenate(axis=-1, name="joint_concat")
        self.joint_conv = ConvBlock(8 * c, 3, rank=3, name="joint_conv")
        self.joint_output = ConvBlock(
            1, (1, 4, 4), rank=3, padding=0, norm=False, activation=None, use_bias=True,
            name="joint_output",
        )

    def call(self, inputs, training=None):
        video = inputs["video"]
        audio = self.audio_stream(inputs["audio"], training=training)
        audio = self.audio_flatten(audio)
        audio = self.audio_relu(self.audio_bn(self.audio_dense(audio), training=training))

        x = video
        for block in self.video_stream:
            x = block(x, training=training)
        features = [x]
        if self.streams != "two":
            if self.streams == "three":
                if "flow" not in inputs:
                    raise ValueError('streams="three" needs inputs["flow"] (B, 15, 16, 16, 2)')
                m = inputs["flow"]
            else:
                m = video[:, 1:] - video[:, :-1]
            for block in self.motion_stream:
                m = block(m, training=training)
            features.append(m)

        # The audio vector is duplicated over the (1, 4, 4) grid of the other streams.
        depth, height, width = x.shape[1], x.shape[2], x.shape[3]
        audio = ops.reshape(audio, (-1, 1, 1, 1, audio.shape[-1]))
        audio = ops.tile(audio, (1, depth, height, width, 1))
        features.insert(0, audio)

        x = self.joint_concat(features)
        x = self.joint_conv(x, training=training)
        x = self.joint_output(x, training=training)
        return ops.reshape(x, (-1, 1))

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "streams": self.streams})
        return config
