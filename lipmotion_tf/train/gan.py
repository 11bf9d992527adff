"""The full model of the paper as a ``keras.Model`` trained with ``fit``.

One batch = one discriminator update, then one generator update (the generator is run again
for its step, as in the authors' code). The losses are computed once, in backend-neutral
``keras.ops`` code (:meth:`LipMotionGAN.discriminator_losses`,
:meth:`LipMotionGAN.generator_losses`); only the gradient plumbing differs per backend:
``tf.GradientTape`` under TensorFlow, ``jax.vjp`` with ``stateless_apply`` under JAX.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import ops

from lipmotion_tf.config import LossConfig
from lipmotion_tf.train import losses as L
from lipmotion_tf.train.optimizer_group import OptimizerGroup

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

    With an attention generator the objective adds ``w_att * mean(mask) + w_tv * TV(mask)``.
    With ``adversarial = 0`` (the warm-up stage) the discriminator is neither run nor
    updated: its losses are logged as 0.

    Logged: ``d_loss``, ``g_loss`` (the total generator objective), its terms
    ``adversarial``, ``reconstruction``, ``perceptual``, ``correlation_real``,
    ``correlation_fake``, ``attention`` (unweighted), and ``d_real`` / ``d_fake``: the share of real
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
        identity = ops.zeros(ops.shape(batch["identity"]))
        outputs = self.generator({"audio": audio, "identity": identity}, training=False)
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

    def _group_positions(self) -> dict:
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
        return self.generator(
            {"audio": inputs["audio"], "identity": inputs["identity"]}, training=training
        )

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
            self.generator({"audio": audio, "identity": data["identity"]}, training=training)[
                "video"
            ]
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
        outputs = self.generator({"audio": audio, "identity": data["identity"]}, training=training)
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
        }

    def compute_losses(self, data, training=False):
        """Every logged loss for one batch, without any update (used by ``test_step``)."""
        values = self.discriminator_losses(data, training=training)
        values.update(self.generator_losses(data, training=training))
        return values

    def _gradient_plan(self) -> list:
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

    def _update_metrics(self, values) -> dict:
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    # ------------------------------------------------------------ train steps

    def train_step(self, *args):
        """One D update then one G update (TensorFlow: ``(data)``; JAX: ``(state, data)``)."""
        *state, data = args
        data = _batch_dict(data)
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*state, data)
        return self._tf_train_step(data)

    def test_step(self, *args):
        *state, data = args
        data = _batch_dict(data)
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*state, data)
        return self._update_metrics(self.compute_losses(data, training=False))

    def _tf_train_step(self, data):
        import tensorflow as tf

        def for_gradient(loss, optimizer):
            return optimizer.scale_loss(L.scale_for_replicas(loss))

        positions = self._group_positions()
        variables = self.trainable_variables

        def group_vars(name):
            return [variables[i] for i in positions[name]]

        d_optimizer = self.optimizer.member("discriminator")
        with tf.GradientTape() as tape:
            d_values = self.discriminator_losses(data, training=True)
            d_target = for_gradient(d_values["d_loss"], d_optimizer)
        if self.adversarial:
            d_vars = group_vars("discriminator")
            d_optimizer.apply_gradients(zip(tape.gradient(d_target, d_vars), d_vars))

        plan = self._gradient_plan()
        with tf.GradientTape(persistent=len(plan) > 1) as tape:
            g_values = self.generator_losses(data, training=True)
            targets = [
                for_gradient(g_values[objective], self.optimizer.member(groups[0]))
                for objective, groups in plan
            ]
        for target, (_, groups) in zip(targets, plan):
            sources = [group_vars(g) for g in groups]
            grads = tape.gradient(target, sources)
            for name, group_sources, group_grads in zip(groups, sources, grads):
                if group_sources:
                    self.optimizer.member(name).apply_gradients(zip(group_grads, group_sources))
        del tape
        return self._update_metrics({**d_values, **g_values})

    # The JAX steps run the same loss code inside a StatelessScope that maps every model
    # variable to a traced value, the way keras.Layer.stateless_call does.

    def _jax_scope(self, trainable, non_trainable, optimizer_values=None):
        mapping = list(zip(self.trainable_variables, trainable))
        mapping += list(zip(self.non_trainable_variables, non_trainable))
        if optimizer_values is not None:
            mapping += list(zip(self.optimizer.variables, optimizer_values))
        return keras.StatelessScope(state_mapping=mapping)

    def _jax_collect(self, scope, variables):
        return [scope.get_current_value(v) for v in variables]

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metrics_values = state
        trainable = list(trainable)
        positions = self._group_positions()
        group = self.optimizer
        opt_parts = group.split(optimizer_values)

        def with_group(values, name, group_values):
            values = list(values)
            for i, v in zip(positions[name], group_values):
                values[i] = v
            return values

        # Discriminator step.
        d_opt = group.member("discriminator")

        def d_objective(d_values, non_trainable):
            values = with_group(trainable, "discriminator", d_values)
            with self._jax_scope(values, non_trainable, optimizer_values) as scope:
                losses = self.discriminator_losses(data, training=True)
                target = d_opt.scale_loss(losses["d_loss"])
            return target, (losses, self._jax_collect(scope, self.non_trainable_variables))

        if self.adversarial:
            d_values = [trainable[i] for i in positions["discriminator"]]
            (_, (d_losses, non_trainable)), d_grads = jax.value_and_grad(
                d_objective, has_aux=True
            )(d_values, non_trainable)
            d_values, opt_parts["discriminator"] = d_opt.stateless_apply(
                opt_parts["discriminator"], d_grads, d_values
            )
            trainable = with_group(trainable, "discriminator", d_values)
        else:
            d_losses = self.discriminator_losses(data, training=True)

        # Generator step (and the correlation networks).
        plan = self._gradient_plan()
        groups = [name for _, names in plan for name in names]

        def g_objectives(group_values):
            values = trainable
            for name, v in zip(groups, group_values):
                values = with_group(values, name, v)
            with self._jax_scope(values, non_trainable, optimizer_values) as scope:
                losses = self.generator_losses(data, training=True)
                targets = tuple(
                    group.member(names[0]).scale_loss(losses[objective])
                    for objective, names in plan
                )
            return targets, (losses, self._jax_collect(scope, self.non_trainable_variables))

        group_values = [[trainable[i] for i in positions[name]] for name in groups]
        targets, pullback, (g_losses, non_trainable) = jax.vjp(
            g_objectives, group_values, has_aux=True
        )
        grads_by_group = {}
        for k, (objective, names) in enumerate(plan):
            cotangent = tuple(
                ops.ones_like(t) if j == k else ops.zeros_like(t) for j, t in enumerate(targets)
            )
            (all_grads,) = pullback(cotangent)
            for name in names:
                grads_by_group[name] = all_grads[groups.index(name)]
        for name, grads in grads_by_group.items():
            if not positions[name]:
                continue
            current = [trainable[i] for i in positions[name]]
            new_values, opt_parts[name] = group.member(name).stateless_apply(
                opt_parts[name], grads, current
            )
            trainable = with_group(trainable, name, new_values)

        optimizer_values = group.merge(group.own_values(optimizer_values), opt_parts)
        logs, metrics_values = self._jax_update_metrics(
            metrics_values, {**d_losses, **g_losses}
        )
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def _jax_update_metrics(self, metrics_values, values):
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._update_metrics(values)
        new_values = []
        for ref, value in zip(self.metrics_variables, metrics_values):
            current = scope.get_current_value(ref)
            new_values.append(value if current is None else current)
        return logs, new_values

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        with self._jax_scope(trainable, non_trainable) as scope:
            values = self.compute_losses(data, training=False)
        non_trainable = self._jax_collect(scope, self.non_trainable_variables)
        logs, metrics_values = self._jax_update_metrics(metrics_values, values)
        return logs, (trainable, non_trainable, metrics_values)

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
