"""Stage 2: train the perceptual autoencoder to reconstruct lip clips.

Paper Sec. 4.1: an autoencoder is trained from scratch to reconstruct video clips, then
frozen; its encoder gives the feature space of the perceptual loss. The authors train theirs
with a mean squared reconstruction error and Adam (2e-4, betas 0.5 / 0.999).
"""

from __future__ import annotations

import keras

from lipmotion_tf.train.losses import mean_squared_error, scale_for_replicas


def video_targets(dataset):
    """Maps a ``tf.data`` dataset of window batches to ``(video, video)`` pairs."""
    return dataset.map(lambda batch: (batch["video"], batch["video"]))


@keras.saving.register_keras_serializable(package="lipmotion")
class AutoencoderStage(keras.Model):
    """A ``VideoAutoencoder`` trained on reconstruction MSE with Keras' stock train step.

    Inputs and targets are videos ``(B, T, H, W, 3)`` in [-1, 1]; the loss is given to
    Keras through ``compute_loss`` so every backend runs it with its own train step.

    Args:
        autoencoder: the ``VideoAutoencoder`` to train.
    """

    def __init__(self, autoencoder, **kwargs):
        super().__init__(**kwargs)
        self.autoencoder = autoencoder

    def call(self, video, training=False):
        return self.autoencoder(video, training=training)["reconstruction"]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return scale_for_replicas(mean_squared_error(y_pred, y))

    def get_config(self):
        config = super().get_config()
        config["autoencoder"] = keras.saving.serialize_keras_object(self.autoencoder)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["autoencoder"] = keras.saving.deserialize_keras_object(
            config["autoencoder"], custom_objects=custom_objects
        )
        return cls(**config)
