"""The lip-sync judge: embeds speech and mouth motion so that matching windows lie close.

Both branches are fully convolutional with ``valid`` padding, so a sequence of ``T`` video
frames gives ``T - window + 1`` embeddings, one per ``window``-frame span (0.2 s at the
default 5 frames), position ``i`` covering frames ``i .. i + window - 1`` in both branches:

* **speech**: the project's log-mel (4 rows per frame) through
  :func:`~lipmotion_tf.motion.speech_features.speech_features`, a stride-4 convolution to
  25 fps, then ``(window - 1) / 2`` kernel-3 convolutions;
* **mouth**: the normalised lip and jaw displacements of the motion model
  (:mod:`lipmotion_tf.motion.representation`, the same numbers its generator predicts) and
  their frame-to-frame change, through the same stack of convolutions.

Embeddings are unit vectors; the distance of a pair is their Euclidean distance (0 to 2),
which is what LSE-D averages. Landmarks, not pixels, are the mouth input: they are what the
motion model produces, so the expert can judge it (and train it) without rendering, and a
video's landmarks come from the face mesh whatever its resolution or lighting.
"""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.motion.speech_features import speech_features


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class SyncExpert(keras.Model):
    """``{"log_mel": (B, 4T, M), "motion": (B, T, P, 2)}`` -> two ``(B, T - window + 1, D)``
    unit embeddings (speech, mouth).

    Args:
        points: motion points ``P`` per frame.
        n_mels: mel bands ``M``.
        mel_frames_per_frame: log-mel rows per video frame.
        window: frames one embedding sees (odd, >= 3).
        channels: width of the convolutions.
        embedding: size ``D`` of the embeddings.
        motion_scale: displacements (mouth widths) are multiplied by this first.
        mel_std_floor: see :func:`~lipmotion_tf.motion.speech_features.speech_features`.
        silence_db: see :func:`~lipmotion_tf.motion.speech_features.speech_features`.
        dropout: spatial dropout after each convolution in training.
    """

    def __init__(self, points: int = 59, n_mels: int = 128, mel_frames_per_frame: int = 4,
                 window: int = 5, channels: int = 192, embedding: int = 128,
                 motion_scale: float = 10.0, mel_std_floor: float = 6.0,
                 silence_db: float = 50.0, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if window < 3 or window % 2 == 0:
            raise ValueError("window must be odd and >= 3")
        self.points = int(points)
        self.n_mels = int(n_mels)
        self.mel_frames_per_frame = int(mel_frames_per_frame)
        self.window = int(window)
        self.channels = int(channels)
        self.embedding = int(embedding)
        self.motion_scale = float(motion_scale)
        self.mel_std_floor = float(mel_std_floor)
        self.silence_db = float(silence_db)
        self.dropout = float(dropout)
        m = self.mel_frames_per_frame
        self.speech_in = keras.layers.Conv1D(channels, m, strides=m, name="speech_in")
        self.mouth_in = keras.layers.Conv1D(channels, 1, name="mouth_in")
        depth = (self.window - 1) // 2
        self.speech_convs = [keras.layers.Conv1D(channels, 3, name=f"speech_conv_{i}")
                             for i in range(depth)]
        self.mouth_convs = [keras.layers.Conv1D(channels, 3, name=f"mouth_conv_{i}")
                            for i in range(depth)]
        self.speech_dropout = keras.layers.SpatialDropout1D(self.dropout, name="speech_dropout")
        self.mouth_dropout = keras.layers.SpatialDropout1D(self.dropout, name="mouth_dropout")
        self.speech_norm = keras.layers.LayerNormalization(name="speech_norm")
        self.mouth_norm = keras.layers.LayerNormalization(name="mouth_norm")
        self.speech_out = keras.layers.Dense(embedding, name="speech_embedding")
        self.mouth_out = keras.layers.Dense(embedding, name="mouth_embedding")
        # CLIP-style learned temperature of the matching logits (log of the scale).
        self.log_scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(2.3),
                                         name="log_scale")

    def speech_embeddings(self, log_mel, training=False):
        """``(B, 4T, M)`` log-mel (dB) -> ``(B, T - window + 1, D)`` unit vectors."""
        x = keras.activations.gelu(self.speech_in(
            speech_features(log_mel, self.mel_std_floor, self.silence_db)))
        for conv in self.speech_convs:
            x = keras.activations.gelu(conv(self.speech_dropout(x, training=training)))
        return _unit(self.speech_out(self.speech_norm(x)))

    def mouth_embeddings(self, motion, training=False):
        """``(B, T, P, 2)`` displacements -> ``(B, T - window + 1, D)`` unit vectors."""
        frames = ops.shape(motion)[1]
        flat = ops.reshape(ops.cast(motion, "float32") * self.motion_scale,
                           (-1, frames, 2 * self.points))
        change = ops.concatenate([flat[:, :1] * 0.0, flat[:, 1:] - flat[:, :-1]], axis=1)
        x = keras.activations.gelu(self.mouth_in(ops.concatenate([flat, change], axis=-1)))
        for conv in self.mouth_convs:
            x = keras.activations.gelu(conv(self.mouth_dropout(x, training=training)))
        return _unit(self.mouth_out(self.mouth_norm(x)))

    def call(self, inputs, training=False):
        return (self.speech_embeddings(inputs["log_mel"], training),
                self.mouth_embeddings(inputs["motion"], training))

    @property
    def logit_scale(self):
        """The factor from cosine similarity to matching logits (at most 100)."""
        return ops.minimum(ops.exp(self.log_scale), 100.0)

    def get_config(self):
        config = super().get_config()
        config.update(points=self.points, n_mels=self.n_mels,
                      mel_frames_per_frame=self.mel_frames_per_frame, window=self.window,
                      channels=self.channels, embedding=self.embedding,
                      motion_scale=self.motion_scale, mel_std_floor=self.mel_std_floor,
                      silence_db=self.silence_db, dropout=self.dropout)
        return config

    @classmethod
    def from_experiment(cls, config) -> "SyncExpert":
        """The expert a :class:`~lipmotion_tf.sync.config.SyncExperimentConfig` describes."""
        return cls(points=config.model.points, n_mels=config.audio.n_mels,
                   mel_frames_per_frame=config.audio.mel_frames_per_frame,
                   window=config.model.window, channels=config.model.channels,
                   embedding=config.model.embedding, motion_scale=config.model.motion_scale,
                   dropout=config.model.dropout, name="sync_expert")


def _unit(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))
