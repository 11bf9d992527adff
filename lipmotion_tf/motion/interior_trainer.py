"""``InteriorTrainer``: ``keras fit`` for :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.motion.interior_losses import masked_gradient_l1, masked_l1


class InteriorTrainer(keras.Model):
    """Trains an interior network on (drawn region + mask, real region) pairs.

    Batches are ``({"region": ..., "mask": ...}, target)``, images in [0, 1]. Reports
    ``loss``, ``l1``, ``gradient`` and ``drawn_l1`` (the drawn interior's error against the
    same target and mask: the baseline the network has to beat).

    Args:
        interior: the :class:`MouthInterior` to train.
        l1: weight of :func:`masked_l1`.
        gradient: weight of :func:`masked_gradient_l1`.
    """

    def __init__(self, interior, l1: float = 1.0, gradient: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.interior = interior
        self.l1_weight, self.gradient_weight = float(l1), float(gradient)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "l1", "gradient", "drawn_l1")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.interior(inputs, training=training)

    def terms(self, inputs, target, training=False):
        """``{name: scalar}``: the loss and its terms on one batch."""
        output = self.interior(inputs, training=training)
        mask = self.interior.blend_mask(inputs["mask"])
        l1 = masked_l1(output, target, mask)
        gradient = masked_gradient_l1(output, target, mask)
        return {"loss": self.l1_weight * l1 + self.gradient_weight * gradient, "l1": l1,
                "gradient": gradient, "drawn_l1": masked_l1(inputs["region"], target, mask)}

    def _record(self, terms):
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        inputs, target = data
        with tf.GradientTape() as tape:
            terms = self.terms(inputs, target, training=True)
        variables = self.interior.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(terms["loss"], variables), variables))
        return self._record(terms)

    def test_step(self, data):
        inputs, target = data
        return self._record(self.terms(inputs, target))

    def get_config(self):
        config = super().get_config()
        config.update(interior=keras.saving.serialize_keras_object(self.interior),
                      l1=self.l1_weight, gradient=self.gradient_weight)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["interior"] = keras.saving.deserialize_keras_object(config["interior"])
        return cls(**config)


def masked_psnr(output, target, mask) -> float:
    """PSNR (dB) of images in [0, 1] inside a soft mask."""
    error = float(ops.convert_to_numpy(
        ops.sum(ops.square(output - target) * ops.broadcast_to(mask, ops.shape(target)))
        / (ops.sum(ops.broadcast_to(mask, ops.shape(target))) + 1e-6)))
    import math

    return 10.0 * math.log10(1.0 / max(error, 1e-10))
