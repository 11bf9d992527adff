"""``InteriorTrainer``: ``keras fit`` for the learned mouth interior
(:class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`)."""

from __future__ import annotations

import keras
from keras import ops

from lipmotion_tf.motion.interior_losses import (
    hinge_discriminator_loss,
    hinge_generator_loss,
    masked_gradient_l1,
    masked_l1,
)


class InteriorTrainer(keras.Model):
    """Trains an interior network on (drawn region + mask, real region) pairs.

    Batches are ``({"region": ..., "mask": ...}, target)``, images in [0, 1]. Reports
    ``loss``, ``l1``, ``gradient`` and ``drawn_l1`` (the drawn interior's error against the
    same target and mask: the baseline the network has to beat); with a discriminator also
    ``adversarial`` and ``discriminator``.

    Args:
        interior: the :class:`MouthInterior` to train.
        l1: weight of :func:`masked_l1`.
        gradient: weight of :func:`masked_gradient_l1`.
        discriminator: an :class:`~lipmotion_tf.motion.interior_discriminator.
            InteriorDiscriminator`, trained in turn with the interior (hinge loss), or None.
        adversarial: weight of :func:`hinge_generator_loss`.
    """

    def __init__(self, interior, l1: float = 1.0, gradient: float = 1.0, discriminator=None,
                 adversarial: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.interior = interior
        self.discriminator = discriminator
        self.l1_weight, self.gradient_weight = float(l1), float(gradient)
        self.adversarial_weight = float(adversarial) if discriminator is not None else 0.0
        names = ["loss", "l1", "gradient", "drawn_l1"]
        if self.discriminator is not None:
            names += ["adversarial", "discriminator"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.discriminator_optimizer = None

    def compile(self, optimizer, discriminator_optimizer=None, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        if self.discriminator is not None and discriminator_optimizer is None:
            raise ValueError("a trainer with a discriminator needs a discriminator_optimizer")
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.interior(inputs, training=training)

    def terms(self, inputs, target, training=False):
        """``({name: scalar}, output)``: the loss and its terms on one batch, and the
        interior's output."""
        output = self.interior(inputs, training=training)
        mask = self.interior.blend_mask(inputs["mask"])
        l1 = masked_l1(output, target, mask)
        gradient = masked_gradient_l1(output, target, mask)
        terms = {"loss": self.l1_weight * l1 + self.gradient_weight * gradient, "l1": l1,
                 "gradient": gradient, "drawn_l1": masked_l1(inputs["region"], target, mask)}
        if self.discriminator is not None:
            logits = self.discriminator({**inputs, "image": output})
            terms["adversarial"] = hinge_generator_loss(logits, self.patch_weight(mask))
            terms["loss"] = terms["loss"] + self.adversarial_weight * terms["adversarial"]
        return terms, output

    @staticmethod
    def patch_weight(mask):
        """The blend mask at the discriminator's patch size: the patches it repaints."""
        return ops.max_pool(mask, 8, strides=8, padding="same")

    def discriminator_terms(self, inputs, target, output):
        """The discriminator's hinge loss on a batch of real and generated regions."""
        real = self.discriminator({**inputs, "image": target})
        fake = self.discriminator({**inputs, "image": ops.stop_gradient(output)})
        weight = self.patch_weight(self.interior.blend_mask(inputs["mask"]))
        return hinge_discriminator_loss(real, fake, weight)

    def _record(self, terms):
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            terms, output = self.terms(inputs, target, training=True)
        variables = self.interior.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(terms["loss"], variables), variables))
        if self.discriminator is not None:
            with tf.GradientTape() as tape:
                terms["discriminator"] = self.discriminator_terms(inputs, target, output)
            variables = self.discriminator.trainable_variables
            self.discriminator_optimizer.apply_gradients(
                zip(tape.gradient(terms["discriminator"], variables), variables))
        return self._record(terms)

    def test_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        terms, output = self.terms(inputs, target)
        if self.discriminator is not None:
            terms["discriminator"] = self.discriminator_terms(inputs, target, output)
        return self._record(terms)

    def get_config(self):
        config = super().get_config()
        config.update(interior=keras.saving.serialize_keras_object(self.interior),
                      l1=self.l1_weight, gradient=self.gradient_weight,
                      discriminator=None if self.discriminator is None
                      else keras.saving.serialize_keras_object(self.discriminator),
                      adversarial=self.adversarial_weight)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("interior", "discriminator"):
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

