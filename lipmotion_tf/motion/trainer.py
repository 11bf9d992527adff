"""The motion model's training wrapper: losses and a custom ``train_step`` under ``keras fit``.

:class:`MotionTrainer` owns the generator and, when their loss weights are above zero, the
networks that judge it:

* the **correlation encoders** (the paper's Sec. 3.2 with landmark motion as the visual
  derivative): an audio-derivative encoder on the frame-to-frame change of the normalised
  log-mel, and a motion encoder on the landmark velocities. They learn on real pairs to
  point the same way when aligned and not when the audio is shifted; the generator is then
  asked to move so that its velocities' features match the speech's;
* the **(audio, motion) discriminator**, told aligned real pairs from generated ones and
  from real motion under shifted audio (mismatch);
* a trained, fixed **sync expert** (:mod:`lipmotion_tf.sync`), whose matching loss on the
  generated motion is weighed in once it is below ``loss.sync_start`` (Wav2Lip's switch).

Both auxiliary groups share one optimizer; the generator has its own. TensorFlow backend.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from lipmotion_tf.motion import losses
from lipmotion_tf.motion.representation import LOWER_INNER, UPPER_INNER
from lipmotion_tf.sync.losses import matching_loss
from lipmotion_tf.train.optimizer_group import OptimizerGroup


def _encoder(channels: int, stride: int, name: str) -> keras.Sequential:
    """A small temporal conv encoder; ``stride`` brings 100 fps audio to 25 fps."""
    layers = [keras.layers.Conv1D(channels, 5, strides=stride, padding="same",
                                  activation="gelu", name=f"{name}_conv_1"),
              keras.layers.Conv1D(channels, 3, padding="same", activation="gelu",
                                  name=f"{name}_conv_2"),
              keras.layers.Conv1D(channels, 3, padding="same", name=f"{name}_conv_3")]
    return keras.Sequential(layers, name=name)


def frame_difference(x):
    """``x[t] - x[t - 1]`` along axis 1, 0 at the first frame (the length is kept)."""
    return ops.concatenate([x[:, :1] * 0.0, x[:, 1:] - x[:, :-1]], axis=1)


def flat_motion(motion, scale: float):
    """``(B, T, P, 2)`` motion as ``(B, T, 2P)``, multiplied by ``scale``."""
    return ops.reshape(motion * scale, (-1, ops.shape(motion)[1], motion.shape[2] * 2))


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class MotionDiscriminator(keras.Model):
    """Scores whether a motion sequence belongs with a log-mel: ``(B, T', 1)`` logits.

    Args:
        channels: conv width.
        mel_frames_per_frame: log-mel frames per video frame.
        target_scale: motion is multiplied by this before the first layer.
    """

    def __init__(self, channels: int = 128, mel_frames_per_frame: int = 4,
                 target_scale: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.mel_frames_per_frame = int(mel_frames_per_frame)
        self.target_scale = float(target_scale)
        self.audio = _encoder(channels, mel_frames_per_frame, "discriminator_audio")
        self.motion = keras.layers.Conv1D(channels, 3, padding="same", name="discriminator_motion")
        self.joint = [keras.layers.Conv1D(channels, 3, dilation_rate=d, padding="same",
                                          name=f"discriminator_joint_{i}")
                      for i, d in enumerate((1, 2, 4))]
        self.out = keras.layers.Conv1D(1, 1, name="discriminator_logit")

    def call(self, audio_features, motion):
        flat = flat_motion(motion, self.target_scale)
        x = self.audio(audio_features) + self.motion(
            ops.concatenate([flat, frame_difference(flat)], axis=-1))
        for layer in self.joint:
            x = x + layer(keras.activations.leaky_relu(x, 0.2))
        return self.out(keras.activations.leaky_relu(x, 0.2))

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, mel_frames_per_frame=self.mel_frames_per_frame,
                      target_scale=self.target_scale)
        return config


def real_opening(rest, motion):
    """The inner-lip gap of ``rest + motion`` in mouth widths: ``(B, T)``."""
    shape = rest[:, None] + motion
    gap = shape[:, :, UPPER_INNER] - shape[:, :, LOWER_INNER]
    return ops.sqrt(ops.sum(ops.square(gap), axis=-1))


class MotionTrainer(keras.Model):
    """Trains a :class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`.

    Args:
        generator: the motion generator.
        loss_config: a :class:`~lipmotion_tf.motion.config.MotionLossConfig`.
        channels: width of the correlation encoders and the discriminator.
        sync_expert: the trained :class:`~lipmotion_tf.sync.expert.SyncExpert` when
            ``loss_config.sync`` is above zero (kept fixed).
        context: video frames of speech on each side of a batch's log-mel beyond the frames
            its motion scores (``data.context``): the generator hears them, every loss
            looks at the scored frames only.
    """

    def __init__(self, generator, loss_config, channels: int = 128, sync_expert=None,
                 context: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.context = int(context)
        self.loss_config = loss_config
        self.sync_expert = sync_expert
        if sync_expert is not None:
            sync_expert.trainable = False
            # 0 until the generator's sync loss is below loss.sync_start (SyncSwitch).
            self.sync_weight = self.add_weight(
                shape=(), initializer="zeros" if loss_config.sync_start > 0 else "ones",
                trainable=False, name="sync_weight")
        self.scale = generator.target_scale
        m = generator.mel_frames_per_frame
        self.use_correlation = loss_config.correlation > 0
        self.use_adversarial = loss_config.adversarial > 0
        if self.use_correlation:
            self.audio_derivative_encoder = _encoder(channels, m, "audio_derivative_encoder")
            self.motion_velocity_encoder = _encoder(channels, 1, "motion_velocity_encoder")
        if self.use_adversarial:
            self.discriminator = MotionDiscriminator(channels, m, self.scale,
                                                     name="motion_discriminator")
        names = ["loss", "landmark", "velocity", "amplitude"]
        if loss_config.opening > 0:
            names += ["opening"]
        if self.use_correlation:
            names += ["correlation", "correlation_encoders"]
        if self.use_adversarial:
            names += ["adversarial", "d_loss"]
        if self.sync_expert is not None:
            names += ["sync_loss"]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def auxiliary_variables(self) -> list:
        """The weights of the correlation encoders and the discriminator."""
        variables = []
        if self.use_correlation:
            variables += self.audio_derivative_encoder.trainable_variables
            variables += self.motion_velocity_encoder.trainable_variables
        if self.use_adversarial:
            variables += self.discriminator.trainable_variables
        return variables

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        """Sets the generator's and the auxiliary networks' optimizers."""
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        super().compile(optimizer=OptimizerGroup(
            {"generator": g_optimizer, "auxiliary": d_optimizer}, name="motion_optimizers"),
            **kwargs)

    def scored(self, x, per_frame: int = 1):
        """``x`` (time on axis 1, ``per_frame`` steps a video frame) without the context."""
        cut = self.context * per_frame
        return x if cut == 0 else x[:, cut:x.shape[1] - cut]

    def _heard(self, inputs, training=False):
        """The generator's motion and audio features over the scored frames."""
        m = self.generator.mel_frames_per_frame
        return (self.scored(self.generator(inputs, training=training)),
                self.scored(self.generator.audio_features(inputs["log_mel"]), m))

    def build_from_batch(self, batch) -> None:
        """Creates every weight and the optimizers' state from one batch's shapes."""
        inputs, motion = batch
        generated, features = self._heard(inputs)
        if self.use_correlation:
            self.audio_derivative_encoder(features)
            self.motion_velocity_encoder(self._flat_velocity(generated))
        if self.use_adversarial:
            self.discriminator(features, motion)
        self.optimizer.build_members({"generator": self.generator.trainable_variables,
                                      "auxiliary": self.auxiliary_variables()})
        self.built = True

    def build(self, input_shape=None):
        self.built = True  # weights come from build_from_batch

    def _flat_velocity(self, motion):
        """Landmark velocities as ``(B, T, 2P)`` (a zero first frame keeps the length)."""
        return frame_difference(flat_motion(motion, self.scale))

    def _shifted(self, features):
        """The audio features rolled by ``mismatch_shift`` video frames (a mismatched pair)."""
        shift = self.loss_config.mismatch_shift * self.generator.mel_frames_per_frame
        return ops.roll(features, shift, axis=1)

    def _generator_losses(self, inputs, real, training):
        generated, features = self._heard(inputs, training)
        cfg = self.loss_config
        opened = real_opening(inputs["rest"], real)
        weights = losses.closed_frame_weights(opened, cfg.closed_weight)
        values = {
            "landmark": losses.landmark_loss(real, generated, weights, self.scale),
            "velocity": losses.velocity_loss(real, generated, self.scale),
            "amplitude": losses.amplitude_loss(real, generated, self.scale),
        }
        total = (cfg.landmark * values["landmark"] + cfg.velocity * values["velocity"]
                 + cfg.amplitude * values["amplitude"])
        if cfg.opening > 0:
            values["opening"] = losses.opening_correlation_loss(
                opened, real_opening(inputs["rest"], generated))
            total += cfg.opening * values["opening"]
        if self.use_correlation:
            values["correlation"] = losses.derivative_correlation_loss(
                self.audio_derivative_encoder(frame_difference(features)),
                self.motion_velocity_encoder(self._flat_velocity(generated)))
            total += cfg.correlation * values["correlation"]
        if self.use_adversarial:
            values["adversarial"] = losses.generator_adversarial_loss(
                self.discriminator(features, generated))
            total += cfg.adversarial * values["adversarial"]
        if self.sync_expert is not None:
            values["sync_loss"] = ops.mean(matching_loss(
                self.sync_expert.speech_embeddings(
                    self.scored(inputs["log_mel"], self.generator.mel_frames_per_frame)),
                self.sync_expert.mouth_embeddings(generated), cfg.sync_shift,
                self.sync_expert.logit_scale))
            total += cfg.sync * self.sync_weight * values["sync_loss"]
        return total, values, generated, features

    def _auxiliary_losses(self, real, generated, features):
        values, total = {}, 0.0
        if self.use_correlation:
            audio = self.audio_derivative_encoder(frame_difference(features))
            shifted = self.audio_derivative_encoder(frame_difference(self._shifted(features)))
            motion = self.motion_velocity_encoder(self._flat_velocity(real))
            # Aligned pairs pulled together, shifted pairs pushed to orthogonal (no collapse).
            values["correlation_encoders"] = (
                losses.derivative_correlation_loss(audio, motion)
                + ops.mean(ops.relu(losses.cosine_similarity(shifted, motion))))
            total += values["correlation_encoders"]
        if self.use_adversarial:
            values["d_loss"] = losses.discriminator_loss(
                self.discriminator(features, real),
                self.discriminator(features, ops.stop_gradient(generated)),
                self.discriminator(self._shifted(features), real))
            total += values["d_loss"]
        return total, values

    def train_step(self, data):
        inputs, real = data
        with tf.GradientTape() as tape:
            total, values, generated, features = self._generator_losses(inputs, real, True)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        if self.use_correlation or self.use_adversarial:
            with tf.GradientTape() as tape:
                aux_total, aux_values = self._auxiliary_losses(
                    real, generated, ops.stop_gradient(features))
            variables = self.auxiliary_variables()
            self.d_optimizer.apply_gradients(zip(tape.gradient(aux_total, variables), variables))
            values.update(aux_values)
        values["loss"] = total
        return self._track(values)

    def test_step(self, data):
        inputs, real = data
        total, values, _, _ = self._generator_losses(inputs, real, False)
        values["loss"] = total
        return self._track(values)

    def _track(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()
                if name in values}
