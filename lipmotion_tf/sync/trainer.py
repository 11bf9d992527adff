"""The sync expert's ``train_step`` under ``keras fit``: multi-way matching with augmentation."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from lipmotion_tf.sync import losses


class SyncTrainer(keras.Model):
    """Trains a :class:`~lipmotion_tf.sync.expert.SyncExpert` on ``({"log_mel", ...}, motion)``
    batches of whole training sequences.

    Args:
        expert: the expert.
        max_shift: shifts ``-S .. S`` of the same clip that compete with the aligned window.
        motion_noise: std (mouth widths) of the landmark jitter added in training.
        motion_gain: motion is scaled by a random factor in ``1 +- motion_gain`` in training.
        seed: seed of the augmentation.
    """

    def __init__(self, expert, max_shift: int = 8, motion_noise: float = 0.0,
                 motion_gain: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.expert = expert
        self.max_shift = int(max_shift)
        self.motion_noise = float(motion_noise)
        self.motion_gain = float(motion_gain)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "accuracy", "accuracy_1")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def augmented(self, motion):
        """Tracker-like jitter and a per-sequence gain on the landmark motion."""
        batch = ops.shape(motion)[0]
        gain = keras.random.uniform((batch, 1, 1, 1), 1.0 - self.motion_gain,
                                    1.0 + self.motion_gain, seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(motion), stddev=self.motion_noise,
                                    seed=self.seed_generator)
        return motion * gain + noise

    def _matching(self, inputs, motion, training=False):
        speech = self.expert.speech_embeddings(inputs["log_mel"], training)
        mouth = self.expert.mouth_embeddings(motion, training)
        loss = ops.mean(losses.matching_loss(speech, mouth, self.max_shift,
                                             self.expert.logit_scale))
        return loss, speech, mouth

    def train_step(self, data):
        inputs, motion = data
        with tf.GradientTape() as tape:
            loss, speech, mouth = self._matching(inputs, self.augmented(motion), True)
        variables = self.expert.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._track(loss, speech, mouth)

    def test_step(self, data):
        inputs, motion = data
        return self._track(*self._matching(inputs, motion))

    def _track(self, loss, speech, mouth):
        self.trackers["loss"].update_state(loss)
        self.trackers["accuracy"].update_state(
            losses.shift_accuracy(speech, mouth, self.max_shift))
        self.trackers["accuracy_1"].update_state(
            losses.shift_accuracy(speech, mouth, self.max_shift, tolerance=1))
        return {name: tracker.result() for name, tracker in self.trackers.items()}
