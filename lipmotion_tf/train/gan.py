"""The full model of the paper as a ``keras.Model`` trained with ``fit``.

One batch = one discriminator update, then one generator update (the generator is run again
for its step, as in the authors' code). The losses are computed once, in backend-neutral
``keras.ops`` code (:meth:`LipMotionGAN.discriminator_losses`,
:meth:`LipMotionGAN.generator_losses`); only the gradient plumbing differs per backend, each
in its own module as Keras's backend trainers: ``tf.GradientTape`` under TensorFlow
(:mod:`lipmotion_tf.train.tf_step`), ``jax.vjp`` with ``stateless_apply`` under JAX
(:mod:`lipmotion_tf.train.jax_step`).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from lipmotion_tf.config import LossConfig
from lipmotion_tf.train import losses as L
from lipmotion_tf.train.optimizer_group import OptimizerGroup
from lipmotion_tf.train.shapes import generator_inputs

#: Loss trackers, in the order they are logged.
TRACKER_NAMES = (
    "d_loss",
    "g_loss",
    "adversarial",
    "reconstruction",
    "perceptual",
    "correlation_real",
    "correlation_fake",
    "attention",
    "warp",
    "d_real",
    "d_fake",
)


def _batch_dict(data) -> dict:
    """The batch dict from what ``fit`` passes (a dict, or ``(x, y, sample_weight)``)."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


@keras.saving.register_keras_serializable(package="lipmotion")
class LipMotionGAN(keras.Model):
    """Generator, three-stream discriminator, correlation networks and perceptual encoder.

    Generator objective (paper Eq. 2)::

        L_G = w_adv * BCE(D(G(a, p), a), 1) + w_rec * L1 + w_perc * perceptual
              + w_corr * (corr(real flows) + corr(generated flows))

    Discriminator objective (paper Eq. 4)::

        L_D = BCE(D(v, a), 1) + w_mis * [BCE(D(G(a, p), a), 0) + BCE(D(v, a_other), 0)]

    The correlation encoders and FlowNet are updated with the gradient of the correlation
    terms only (their own optimizers); the adversarial gradient reaches the generator
    through FlowNet's flows of the generated video but does not change FlowNet. The
    perceptual autoencoder is frozen.

    Batches are dicts with ``audio`` ``(B, 4T, M)``, ``video`` ``(B, T, S, S, 3)``,
    ``identity`` ``(B, S, S, 3)`` and ``mismatch_audio`` (audio of other clips). Without
    ``mismatch_audio`` the batch's own audio is rotated by a random non-zero offset, so each
    clip is paired with another clip's audio.

    With an attention generator the objective adds ``w_att * mean(mask) + w_tv * TV(mask)``,
    and with a warp head ``w_warp * mean(|shift| / R)``.
    With ``adversarial = 0`` (the warm-up stage) the discriminator is neither run nor
    updated: its losses are logged as 0.

    Logged: ``d_loss``, ``g_loss`` (the total generator objective), its terms
    ``adversarial``, ``reconstruction``, ``perceptual``, ``correlation_real``,
    ``correlation_fake``, ``attention`` and ``warp`` (unweighted), and ``d_real`` / ``d_fake``: the share of real
    (generated) clips the discriminator classifies correctly.

    Args:
        generator: ``LipGenerator``.
        discriminator: ``LipDiscriminator`` returning logits.
        flownet: ``FlowNet`` with ``clip_flows(video, training)``.
        audio_encoder: ``AudioDerivativeEncoder``.
        flow_encoder: ``FlowEncoder``.
        autoencoder: ``VideoAutoencoder`` with ``encode(video, training)``; frozen here.
        discriminator_streams: ``three`` (the discriminator reads optical flow), ``two`` or
            ``frame_diff`` (it does not).
        seed: seed of the random mismatch rotation.
    """

    def __init__(
        self,
        generator,
        discriminator,
        flownet,
        audio_encoder,
        flow_encoder,
        autoencoder,
        discriminator_streams="three",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if discriminator_streams not in ("three", "two", "frame_diff"):
            raise ValueError(f"unknown discriminator_streams {discriminator_streams!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.flownet = flownet
        self.audio_encoder = audio_encoder
        self.flow_encoder = flow_encoder
        self.autoencoder = autoencoder
        self.autoencoder.trainable = False
        self.discriminator_streams = discriminator_streams
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="mismatch_seed")
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in TRACKER_NAMES
        }
        self.loss_config = LossConfig()

    # ------------------------------------------------------------------ set-up

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def uses_flow_stream(self) -> bool:
        """Whether the discriminator reads optical flow (three-stream)."""
        return self.discriminator_streams == "three"

    def compile(
        self,
        g_optimizer,
        d_optimizer,
        corr_optimizer,
        flow_optimizer,
        loss_config: LossConfig | None = None,
        **kwargs,
    ):
        """Sets the four optimizers and the loss weights.

        Under a ``mixed_float16`` policy each optimizer is wrapped in a
        ``keras.optimizers.LossScaleOptimizer`` (dynamic loss scaling, as Keras does for
        a single optimizer); ``mixed_bfloat16`` needs none.

        Args:
            g_optimizer: generator optimizer.
            d_optimizer: discriminator optimizer.
            corr_optimizer: audio-derivative and flow encoders' optimizer.
            flow_optimizer: FlowNet's optimizer.
            loss_config: loss weights and switches (defaults: the paper).
            **kwargs: passed to ``keras.Model.compile`` (``jit_compile``,
                ``steps_per_execution``, ``run_eagerly``).
        """
        members = {
            "generator": g_optimizer,
            "discriminator": d_optimizer,
            "correlation": corr_optimizer,
            "flow": flow_optimizer,
        }
        if self.dtype_policy.name == "mixed_float16":
            members = {
                name: opt if isinstance(opt, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale")
                for name, opt in members.items()
            }
        self.loss_config = dataclasses.replace(loss_config or LossConfig())
        kwargs.setdefault("auto_scale_loss", False)
        super().compile(optimizer=OptimizerGroup(members, name="gan_optimizers"), **kwargs)
        self._group_variable_positions = None
        if self._networks_built():
            self.built = True
            self._build_optimizers()

    def _networks(self) -> list:
        return [self.generator, self.discriminator, self.flownet, self.audio_encoder,
                self.flow_encoder, self.autoencoder]

    def _networks_built(self) -> bool:
        return all(network.built for network in self._networks())

    def build_from_batch(self, batch) -> None:
        """Creates the weights of networks not built yet (and the optimizers' state).

        Networks from :func:`~lipmotion_tf.models.factory.build_networks` are already
        built; others are called once on zeros shaped like ``batch`` (a training batch of
        arrays or tensors; only shapes are used). Call it after :meth:`compile`, which
        says which inputs the correlation encoders take.
        """
        audio = ops.zeros(ops.shape(batch["audio"]))
        video = ops.zeros(ops.shape(batch["video"]))
        outputs = self.generator(self.generator_inputs(batch), training=False)
        flows = self.flownet.clip_flows(video, training=False)
        if not self.discriminator.built:
            self.discriminator(self._d_inputs(video, audio, flows), training=False)
        if not self.audio_encoder.built:
            self.audio_encoder(outputs["audio_features"], training=False)
        if not self.flow_encoder.built:
            derivative = self.loss_config.derivative_correlation
            self.flow_encoder(flows if derivative else video, training=False)
        if not self.autoencoder.built:
            self.autoencoder(video, training=False)
        self.built = True
        if getattr(self, "optimizer", None) is not None:
            self._build_optimizers()

    def build(self, input_shape=None):
        # Variables come from build_from_batch; Keras calls build() with no shapes we can use.
        self.built = True

    def _build_optimizers(self) -> None:
        variables = self._group_variables()
        self.optimizer.build_members(variables)

    def _group_variables(self) -> dict:
        encoders = self.audio_encoder.trainable_variables + self.flow_encoder.trainable_variables
        return {
            "generator": self.generator.trainable_variables,
            "discriminator": self.discriminator.trainable_variables,
            "correlation": encoders,
            "flow": self.flownet.trainable_variables,
        }

    def group_positions(self) -> dict:
        """Positions of each group's variables in ``self.trainable_variables``."""
        if getattr(self, "_group_variable_positions", None) is None:
            index = {id(v): i for i, v in enumerate(self.trainable_variables)}
            self._group_variable_positions = {
                name: [index[id(v)] for v in variables]
                for name, variables in self._group_variables().items()
            }
        return self._group_variable_positions

    def call(self, inputs, training=False):
        """Runs the generator: ``{"audio", "identity"} -> {"video", "audio_features"}``."""
        return self.generator(self.generator_inputs(inputs), training=training)

    def generator_inputs(self, data) -> dict:
        """What the generator reads from a batch (:func:`~lipmotion_tf.train.shapes.
        generator_inputs`)."""
        return generator_inputs(self.generator, data)

    # --------------------------------------------------------- shared losses

    def _d_inputs(self, video, audio, flow):
        inputs = {"video": video, "audio": audio}
        if flow is not None:
            inputs["flow"] = flow
        return inputs

    def _mismatch_audio(self, data):
        if "mismatch_audio" in data:
            return data["mismatch_audio"]
        audio = data["audio"]
        batch = ops.shape(audio)[0]
        # A random rotation by 1..B-1 pairs every clip with another clip's audio.
        offset = keras.random.randint(
            (), 1, ops.maximum(batch, 2), seed=self.seed_generator, dtype="int32"
        )
        order = ops.mod(ops.arange(batch, dtype="int32") + offset, batch)
        return ops.take(audio, order, axis=0)

    def _active_groups(self) -> tuple:
        config = self.loss_config
        groups = ["generator"]
        if config.correlation > 0:
            groups.append("correlation")
            if config.derivative_correlation:
                groups.append("flow")
        return tuple(groups)

    @property
    def adversarial(self) -> bool:
        """Whether the discriminator takes part (a non-zero adversarial weight)."""
        return self.loss_config.adversarial > 0

    def discriminator_losses(self, data, training=True):
        """The discriminator objective and its diagnostics (backend-neutral).

        Returns:
            dict with ``d_loss``, ``d_real`` and ``d_fake`` (float32 scalars; zeros when
            the adversarial term is off).
        """
        if not self.adversarial:
            zero = ops.zeros((), "float32")
            return {"d_loss": zero, "d_real": zero, "d_fake": zero}
        audio, real = data["audio"], data["video"]
        mismatch = self._mismatch_audio(data)
        fake = ops.stop_gradient(
            self.generator(self.generator_inputs(data), training=training)["video"]
        )
        real_flow = fake_flow = None
        if self.uses_flow_stream:
            real_flow = ops.stop_gradient(self.flownet.clip_flows(real, training=training))
            fake_flow = ops.stop_gradient(self.flownet.clip_flows(fake, training=training))
        real_logits = self.discriminator(self._d_inputs(real, audio, real_flow), training=training)
        fake_logits = self.discriminator(self._d_inputs(fake, audio, fake_flow), training=training)
        mismatch_logits = self.discriminator(
            self._d_inputs(real, mismatch, real_flow), training=training
        )
        d_loss = L.discriminator_loss(
            real_logits, fake_logits, mismatch_logits, self.loss_config.mismatch
        )
        return {
            "d_loss": d_loss,
            "d_real": ops.mean(ops.cast(ops.cast(real_logits, "float32") > 0, "float32")),
            "d_fake": ops.mean(ops.cast(ops.cast(fake_logits, "float32") < 0, "float32")),
        }

    def generator_losses(self, data, training=True):
        """The generator objective, its terms and the correlation objective (backend-neutral).

        Returns:
            dict with ``g_loss`` (what the generator minimises), ``correlation_objective``
            (``w_corr * (corr_real + corr_fake)``: what the correlation encoders and
            FlowNet minimise) and the unweighted terms ``adversarial``, ``reconstruction``,
            ``perceptual``, ``correlation_real``, ``correlation_fake``.
        """
        config = self.loss_config
        audio, real = data["audio"], data["video"]
        outputs = self.generator(self.generator_inputs(data), training=training)
        fake = outputs["video"]
        zero = ops.zeros((), "float32")

        use_corr = config.correlation > 0
        derivative = config.derivative_correlation
        corr_on_fake = use_corr and config.correlation_on_fake
        d_flow = self.adversarial and self.uses_flow_stream
        fake_flow = None
        if d_flow or (corr_on_fake and derivative):
            fake_flow = self.flownet.clip_flows(fake, training=training)

        adversarial = zero
        if self.adversarial:
            fake_logits = self.discriminator(
                self._d_inputs(fake, audio, fake_flow if d_flow else None), training=training
            )
            adversarial = L.generator_adversarial_loss(fake_logits)
        attention = smoothness = zero
        if "attention" in outputs:
            attention = L.attention_loss(outputs["attention"])
            smoothness = L.smoothness_loss(outputs["attention"])
        warp = L.shift_loss(outputs["shift"]) if "shift" in outputs else zero
        if config.motion_weighting > 0:
            reconstruction = L.motion_weighted_reconstruction_loss(
                fake, real, data["identity"], config.motion_weighting
            )
        else:
            reconstruction = L.reconstruction_loss(fake, real)
        perceptual = zero
        if config.perceptual > 0:
            real_features = ops.stop_gradient(self.autoencoder.encode(real, training=False))
            fake_features = self.autoencoder.encode(fake, training=False)
            perceptual = L.perceptual_loss(fake_features, real_features)

        corr_real = corr_fake = zero
        if use_corr:
            audio_vector = self.audio_encoder(outputs["audio_features"], training=training)
            if derivative:
                real_visual = self.flownet.clip_flows(real, training=training)
                fake_visual = fake_flow
            else:
                real_visual, fake_visual = real, fake
            corr_real = L.correlation_loss(
                audio_vector, self.flow_encoder(real_visual, training=training)
            )
            if corr_on_fake:
                corr_fake = L.correlation_loss(
                    audio_vector, self.flow_encoder(fake_visual, training=training)
                )
        correlation_objective = config.correlation * (corr_real + corr_fake)
        g_loss = (
            config.adversarial * adversarial
            + config.reconstruction * reconstruction
            + config.perceptual * perceptual
            + correlation_objective
            + config.attention * attention
            + config.attention_smoothness * smoothness
            + config.warp * warp
        )
        return {
            "g_loss": g_loss,
            "correlation_objective": correlation_objective,
            "adversarial": adversarial,
            "reconstruction": reconstruction,
            "perceptual": perceptual,
            "correlation_real": corr_real,
            "correlation_fake": corr_fake,
            "attention": attention,
            "warp": warp,
        }

    def compute_losses(self, data, training=False):
        """Every logged loss for one batch, without any update (used by ``test_step``)."""
        values = self.discriminator_losses(data, training=training)
        values.update(self.generator_losses(data, training=training))
        return values

    def gradient_plan(self) -> list:
        """Which objective each active optimizer group differentiates, grouped into passes.

        Returns a list of ``(objective, [groups])``: one backward pass each. The encoders'
        gradient of ``g_loss`` equals that of the correlation objective, and so does
        FlowNet's unless the discriminator reads flows, so without loss scaling those
        groups share the generator's pass.
        """
        active = self._active_groups()
        scaled = any(
            isinstance(self.optimizer.member(g), keras.optimizers.LossScaleOptimizer)
            for g in active
        )
        if scaled:
            return [("g_loss", ["generator"])] + [
                ("correlation_objective", [g]) for g in active if g != "generator"
            ]
        d_flow = self.adversarial and self.uses_flow_stream
        shared = [g for g in active if not (g == "flow" and d_flow)]
        plan = [("g_loss", shared)]
        if "flow" in active and d_flow:
            plan.append(("correlation_objective", ["flow"]))
        return plan

    def update_metrics(self, values) -> dict:
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # ------------------------------------------------------------ train steps

    def train_step(self, *args):
        """One D update then one G update (TensorFlow: ``(data)``; JAX: ``(state, data)``):
        :func:`~lipmotion_tf.train.tf_step.tf_train_step` or
        :func:`~lipmotion_tf.train.jax_step.jax_train_step`."""
        *state, data = args
        data = _batch_dict(data)
        if keras.backend.backend() == "jax":
            from lipmotion_tf.train.jax_step import jax_train_step

            return jax_train_step(self, *state, data)
        from lipmotion_tf.train.tf_step import tf_train_step

        return tf_train_step(self, data)

    def test_step(self, *args):
        *state, data = args
        data = _batch_dict(data)
        if keras.backend.backend() == "jax":
            from lipmotion_tf.train.jax_step import jax_test_step

            return jax_test_step(self, *state, data)
        return self.update_metrics(self.compute_losses(data, training=False))

    # ------------------------------------------------------------ serialisation

    def get_config(self):
        config = super().get_config()
        for name in ("generator", "discriminator", "flownet", "audio_encoder", "flow_encoder",
                     "autoencoder"):
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        config.update(discriminator_streams=self.discriminator_streams, seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in ("generator", "discriminator", "flownet", "audio_encoder", "flow_encoder",
                     "autoencoder"):
            config[name] = keras.saving.deserialize_keras_object(
                config[name], custom_objects=custom_objects
            )
        return cls(**config)
