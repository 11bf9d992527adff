"""Runs an experiment's training stages: FlowNet, perceptual autoencoder, warm-up, the GAN.

Output folder layout::

    OUTPUT/config.yaml              the resolved configuration (written first)
    OUTPUT/flownet.weights.h5       FlowNet after its stage
    OUTPUT/autoencoder.weights.h5   the perceptual autoencoder after its stage
    OUTPUT/warmup.weights.h5        every GAN network after the warm-up stage (the GAN
                                    without its adversarial term; skipped at 0 epochs)
    OUTPUT/generator/warmup.weights.h5   its generator alone
    OUTPUT/generator.keras          the trained generator (whole model, loadable alone)
    OUTPUT/gan.weights.h5           every GAN network and optimizer state at the end
    OUTPUT/checkpoints/<stage>-epochNNN.weights.h5   the newest epochs of each stage
                                                     (train.checkpoints_kept, 2)
    OUTPUT/checkpoints/generator/<stage>-epochNNN.weights.h5   the GAN stages' generator
                                                     alone (read without the other networks)
    OUTPUT/backup/<stage>/          BackupAndRestore state while a stage runs
    OUTPUT/<stage>_log.csv          per-epoch logs
    OUTPUT/logs/<stage>/            TensorBoard scalars (and generated-vs-real previews)
    OUTPUT/motion/                  the joint stage only (``model.generator: motion``): its
                                    motion model after the last GAN stage, a motion model
                                    folder

A stage whose final file exists is skipped, unless the configuration now asks for more
epochs than its log shows: then it continues from its saved state (``--set
train.gan_epochs=30`` trains a finished run's GAN longer). Re-running the same command after
an interruption continues where it stopped: finished stages are kept and the interrupted
stage restarts from its last backup, written at the end of every epoch (weights, optimizer
state, step and epoch; the data order of a resumed stage is drawn from a seed that depends
on the epoch it resumes at, so it does not replay the windows already seen). With a time
budget the run stops at the end of the last epoch that fits and can be continued the same
way.

The data comes from :mod:`lipmotion_tf.train.batches`: ``tf.data`` under TensorFlow, numpy
``.npz`` splits (a device pack, or an export made once with TensorFlow) under JAX.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.config import ExperimentConfig
from lipmotion_tf.errors import ConfigError, DataError
from lipmotion_tf.models.factory import build_networks
from lipmotion_tf.output_files import ensure_writable_folder, write_atomically
from lipmotion_tf.train.autoencoder_stage import AutoencoderStage
from lipmotion_tf.train.batches import make_batches
from lipmotion_tf.train.checkpoint_pruning import PruneCheckpoints
from lipmotion_tf.train.flow_stage import FlowStage
from lipmotion_tf.train.gan import LipMotionGAN
from lipmotion_tf.train.generator_checkpoint import (
    GENERATOR_FOLDER,
    GeneratorCheckpoint,
    save_generator_weights,
)
from lipmotion_tf.train.init_from import check_init_checkpoint, load_generator_weights
from lipmotion_tf.train.nan_guard import NaNGuard
from lipmotion_tf.train.run_folder import save_config  # also runner.save_config, as before
from lipmotion_tf.train.shapes import zero_batch  # also runner.zero_batch, as before
from lipmotion_tf.train.time_budget import BudgetReached, TimeBudget
from lipmotion_tf.train.video_preview import VideoPreview

STAGES = ("flow", "autoencoder", "warmup", "gan")
#: Where the joint stage (``model.generator: motion``) writes its motion model after each
#: GAN stage: a folder ``generate --checkpoint`` takes.
MOTION_FOLDER = "motion"
#: Stages training the GAN, whose checkpoints also hold the generator alone.
GAN_STAGES = ("warmup", "gan")
#: Stage -> the file whose presence marks the stage as finished.
STAGE_OUTPUTS = {
    "flow": "flownet.weights.h5",
    "autoencoder": "autoencoder.weights.h5",
    "warmup": "warmup.weights.h5",
    "gan": "generator.keras",
}
#: What a finished stage continues from when more epochs are asked for: the GAN stages'
#: files hold every network and optimizer state; FlowNet and the autoencoder keep their
#: weights (their optimizers restart).
STAGE_STATE = {
    "flow": "flownet.weights.h5",
    "autoencoder": "autoencoder.weights.h5",
    "warmup": "warmup.weights.h5",
    "gan": "gan.weights.h5",
}


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        output_dir: the run folder.
        stages_run: stages trained by this call.
        stages_skipped: requested stages skipped (already finished or zero epochs).
        history: stage -> Keras ``History.history`` of the stages run.
        budget_reached: the time budget stopped the run before every stage finished
            (run the same command again to continue).
    """

    output_dir: Path
    stages_run: list[str]
    stages_skipped: list[str]
    history: dict[str, dict]
    budget_reached: bool = False


def parse_stages(stages: str | Sequence[str]) -> tuple[str, ...]:
    """``"flow,gan"`` or ``["flow", "gan"]`` -> stages in training order.

    Raises:
        ConfigError: an unknown stage name or an empty list.
    """
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage '{unknown[0]}' (choose from {', '.join(STAGES)})")
    if not stages:
        raise ConfigError(f"no stage given (choose from {', '.join(STAGES)})")
    return tuple(s for s in STAGES if s in stages)


def _backup_epoch(backup_dir: Path) -> int:
    """The epoch a stage resumes at (0 when it has no backup)."""
    try:
        return int(json.loads((backup_dir / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def epochs_logged(log_csv: Path) -> int | None:
    """Epochs a finished stage ran, from its CSV log (``None`` when there is no log)."""
    if not log_csv.is_file():
        return None
    with log_csv.open(newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle) if row.get("epoch")]
    return max(epochs) + 1 if epochs else None


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------------- set-up helpers


def _strategy(config: ExperimentConfig, backend: str):
    name = config.train.distribute
    if backend != "tensorflow":
        if name != "none":
            raise ConfigError(
                f"train.distribute={name} needs the TensorFlow backend (got {backend})"
            )
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None


def _adam(config: ExperimentConfig, learning_rate: float, beta_1: float | None = None,
          weight_decay: float | None = None, name: str | None = None, **extra):
    kwargs = dict(learning_rate=learning_rate, beta_2=config.optimizer.beta_2, name=name,
                  **extra)
    kwargs["beta_1"] = config.optimizer.beta_1 if beta_1 is None else beta_1
    if weight_decay:
        return keras.optimizers.AdamW(weight_decay=weight_decay, **kwargs)
    return keras.optimizers.Adam(**kwargs)


def _ema(config: ExperimentConfig) -> dict:
    """Optimizer arguments of the generator's weight average (none when it is off): the
    average overwrites the weights at each epoch end, before the epoch's checkpoint."""
    momentum = config.optimizer.generator_ema
    if not momentum:
        return {}
    return dict(use_ema=True, ema_momentum=momentum,
                ema_overwrite_frequency=config.train.steps_per_epoch)


def _save_weights_atomically(model, path: Path) -> None:
    with write_atomically(path) as temporary:
        model.save_weights(str(temporary))


def _save_model_atomically(model, path: Path) -> None:
    with write_atomically(path) as temporary:
        model.save(str(temporary))


# ---------------------------------------------------------------------------- stages


class _Run:
    """State shared by the stages of one :func:`train` call."""

    def __init__(self, config, output_dir, batches, backend, strategy, callbacks, verbose, log):
        self.config = config
        self.output_dir = output_dir
        self.batches = batches
        self.backend = backend
        self.strategy = strategy
        self.extra_callbacks = list(callbacks)
        self.verbose = verbose
        self.log = log
        self.networks = None
        self.deadline = None
        self.init_from = None
        self.continued = {}  # stage -> epochs already run, for finished stages trained longer
        self._warned_tensorboard = False

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def jit(self):
        # JAX steps are always compiled (eager JAX is far slower); TF follows the config.
        return True if self.backend == "jax" else self.config.train.jit_compile

    def ensure_networks(self) -> dict:
        if self.networks is None:
            with self.scope():
                generator = None
                if self.config.model.generator == "motion":
                    from lipmotion_tf.motion.joint_generator import build_joint_generator

                    generator = build_joint_generator(self.config)
                self.networks = build_networks(self.config, generator)
            if self.init_from is not None:
                load_generator_weights(self.networks["generator"], self.init_from)
                self.log(f"generator initialised from {self.init_from}")
        return self.networks

    def callbacks(self, stage: str, preview: bool = False) -> list:
        checkpoints = self.output_dir / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        backup_dir = self.output_dir / "backup" / stage
        pattern = f"{stage}-epoch*.weights.h5"
        epoch_file = str(checkpoints / f"{stage}-epoch{{epoch:03d}}.weights.h5")
        keep = self.config.train.checkpoints_kept
        callbacks = [
            # First, so that non-finite weights are never backed up or checkpointed.
            NaNGuard(checkpoints, pattern, backup_dir / "latest.weights.h5"),
            # Saved at epoch ends so that a stop at the budget (below) leaves a backup
            # of the finished epoch; epochs are short on CPU (train.steps_per_epoch).
            keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True),
            keras.callbacks.ModelCheckpoint(epoch_file, save_weights_only=True),
        ]
        if stage in GAN_STAGES:
            callbacks += [GeneratorCheckpoint(epoch_file),
                          PruneCheckpoints(checkpoints / GENERATOR_FOLDER, pattern, keep=keep)]
        callbacks += [
            PruneCheckpoints(checkpoints, pattern, keep=keep),
            keras.callbacks.CSVLogger(str(self.output_dir / f"{stage}_log.csv"), append=True),
        ]
        if self.backend == "tensorflow" and not _has_module("tensorboard"):
            if not self._warned_tensorboard:
                self.log("warning: the tensorboard package is not installed: no TensorBoard logs")
                self._warned_tensorboard = True
        elif self.backend == "tensorflow":
            log_dir = self.output_dir / "logs" / stage
            callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False))
            every = self.config.train.preview_every
            if preview and every > 0:
                callbacks.append(VideoPreview(self.batches.sample(), log_dir, every))
        callbacks += self.extra_callbacks
        if self.deadline is not None:  # last: every other callback sees the final epoch
            callbacks.append(TimeBudget(self.deadline))
        return callbacks

    def resume_state(self, stage: str, model) -> None:
        """Loads a finished stage's saved state into ``model`` when it is trained longer."""
        if stage in self.continued:
            model.load_weights(str(self.output_dir / STAGE_STATE[stage]))

    def fit(self, stage: str, model, epochs: int, transform: str | None, preview=False):
        initial_epoch = self.continued.get(stage, 0)
        resume_epoch = _backup_epoch(self.output_dir / "backup" / stage) or initial_epoch
        self.batches.seed_offset = 1000 * resume_epoch
        history = model.fit(
            self.batches.train(transform),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=self.batches.steps_per_epoch,
            validation_data=self.batches.validation(transform),
            validation_steps=self.batches.validation_steps,
            callbacks=self.callbacks(stage, preview),
            shuffle=False,  # the data sources shuffle themselves
            verbose=self.verbose,
        )
        return history.history

    def flow(self) -> dict:
        networks = self.ensure_networks()
        size = self.config.data.image_size
        with self.scope():
            model = FlowStage(networks["flownet"], name="flow_stage")
            model(np.zeros((1, size, size, 6), np.float32))
            model.compile(
                optimizer=_adam(
                    self.config, self.config.optimizer.flownet_pretrain_learning_rate,
                    beta_1=0.9, weight_decay=self.config.optimizer.flownet_weight_decay,
                    name="flownet_adam",
                ),
                jit_compile=self.jit(),
            )
        self.resume_state("flow", networks["flownet"])
        history = self.fit("flow", model, self.config.train.flow_epochs, "flow")
        _save_weights_atomically(networks["flownet"], self.output_dir / STAGE_OUTPUTS["flow"])
        return history

    def autoencoder(self) -> dict:
        networks = self.ensure_networks()
        with self.scope():
            model = AutoencoderStage(networks["autoencoder"], name="autoencoder_stage")
            model(zero_batch(self.config)["video"])
            model.compile(
                optimizer=_adam(
                    self.config, self.config.optimizer.autoencoder_learning_rate,
                    name="autoencoder_adam",
                ),
                jit_compile=self.jit(),
            )
        self.resume_state("autoencoder", networks["autoencoder"])
        history = self.fit("autoencoder", model, self.config.train.autoencoder_epochs, "video")
        _save_weights_atomically(
            networks["autoencoder"], self.output_dir / STAGE_OUTPUTS["autoencoder"]
        )
        return history

    def warmup(self) -> dict:
        gan = self._gan_model(dataclasses.replace(self.config.loss, adversarial=0.0))
        self.resume_state("warmup", gan)
        history = self.fit("warmup", gan, self.config.train.warmup_epochs, None, preview=True)
        _save_weights_atomically(gan, self.output_dir / STAGE_OUTPUTS["warmup"])
        save_generator_weights(gan.generator, self.output_dir / STAGE_OUTPUTS["warmup"])
        self.save_motion_model(gan.generator)
        return history

    def gan(self) -> dict:
        gan = self._gan_model(self.config.loss)
        warm = self.output_dir / STAGE_OUTPUTS["warmup"]
        if warm.is_file() and self.config.train.warmup_epochs > 0:
            gan.load_weights(str(warm))
        self.resume_state("gan", gan)
        history = self.fit("gan", gan, self.config.train.gan_epochs, None, preview=True)
        _save_weights_atomically(gan, self.output_dir / "gan.weights.h5")
        _save_model_atomically(self.networks["generator"], self.output_dir / STAGE_OUTPUTS["gan"])
        self.save_motion_model(gan.generator)
        return history

    def save_motion_model(self, generator) -> None:
        """The joint stage's motion model as a motion model folder (``OUTPUT/motion``)."""
        if self.config.model.generator == "motion":
            from lipmotion_tf.motion.joint_generator import save_motion_model

            save_motion_model(generator, self.config, self.output_dir / MOTION_FOLDER)

    def _gan_model(self, loss_config) -> LipMotionGAN:
        """The GAN of the configuration, compiled with ``loss_config``, on the shared networks
        (FlowNet and the autoencoder loaded from their stages)."""
        networks = self.ensure_networks()
        for name, stage in (("flownet", "flow"), ("autoencoder", "autoencoder")):
            path = self.output_dir / STAGE_OUTPUTS[stage]
            if path.is_file():
                networks[name].load_weights(str(path))
            elif name == "autoencoder" and self.config.loss.perceptual > 0:
                self.log(
                    f"warning: {path} not found: the perceptual loss uses an untrained encoder"
                )
            elif name == "flownet" and max(loss_config.correlation, loss_config.adversarial) > 0:
                self.log(f"warning: {path} not found: FlowNet starts from random weights")
        opt = self.config.optimizer
        with self.scope():
            gan = LipMotionGAN(
                **networks,
                discriminator_streams=self.config.model.discriminator_streams,
                seed=self.config.seed,
                name="lip_motion_gan",
            )
            gan.compile(
                g_optimizer=_adam(self.config, opt.learning_rate, name="generator_adam",
                                  **_ema(self.config)),
                d_optimizer=_adam(
                    self.config, opt.discriminator_learning_rate or opt.learning_rate,
                    name="discriminator_adam",
                ),
                corr_optimizer=_adam(
                    self.config, opt.correlation_learning_rate, beta_1=0.9,
                    weight_decay=opt.correlation_weight_decay, name="correlation_adam",
                ),
                flow_optimizer=_adam(
                    self.config, opt.flownet_learning_rate, beta_1=0.9,
                    weight_decay=opt.flownet_weight_decay, name="flownet_adam",
                ),
                loss_config=loss_config,
                jit_compile=self.jit(),
            )
            if not gan.built:  # the factory's networks are built; compile then builds all
                gan.build_from_batch(zero_batch(self.config))
        return gan


def train(
    config: ExperimentConfig,
    data_dir: str | Path,
    output_dir: str | Path,
    stages: str | Sequence[str] = STAGES,
    *,
    callbacks: Sequence = (),
    verbose: str | int = "auto",
    log: Callable[[str], None] = print,
    extra_data: Sequence[str | Path] = (),
    time_budget: float | None = None,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Trains the requested stages of an experiment, in order.

    The data is checked before any network is built; the resolved configuration is saved
    in ``output_dir`` first. Finished stages (see :data:`STAGE_OUTPUTS`) are skipped.

    Args:
        config: the validated experiment.
        data_dir: a folder written by ``lipmotion prepare`` (or, under JAX, holding
            ``train.npz`` / ``val.npz``).
        output_dir: the run folder (created).
        stages: subset of ``flow``, ``autoencoder``, ``gan`` (a list or comma string).
        callbacks: extra Keras callbacks added to every stage's ``fit``, after the
            project's own.
        verbose: Keras ``fit`` verbosity.
        log: where progress lines go.
        extra_data: more prepared folders whose clips (every split) are mixed into the
            training windows (``data.source_weights``); validation uses ``data_dir``.
        time_budget: seconds this call may train; it stops at the end of the last epoch
            that fits, keeping the stage's backup, and sets ``budget_reached``.
        init_from: a generator checkpoint (a run folder or a shipped model folder) whose
            weights start the generator; its architecture must match the configuration.

    Raises:
        ConfigError: unknown stage, or a distribution the backend cannot run.
        DataError: missing, empty or inconsistent data.
        TrainingError: a non-finite loss (the message names the last good checkpoint).
    """
    stages = parse_stages(stages)
    config.validate()
    backend = keras.backend.backend()
    output_dir = Path(output_dir)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data folder not found: {data_dir}")
    ensure_writable_folder(output_dir, "run folder")
    if time_budget is not None and not (0 < time_budget < float("inf")):
        raise ConfigError(f"the time budget must be a positive number of seconds, got {time_budget}")
    if init_from is not None:
        if config.model.generator == "motion":
            raise ConfigError("--init-from is for the paper generator; the joint stage starts "
                              "from model.motion_checkpoint")
        check_init_checkpoint(init_from, config)
    batches = make_batches(config, data_dir, output_dir, backend, extra_data)
    save_config(config, output_dir / "config.yaml")

    epochs = {
        "flow": config.train.flow_epochs,
        "autoencoder": config.train.autoencoder_epochs,
        "warmup": config.train.warmup_epochs,
        "gan": config.train.gan_epochs,
    }
    previous_policy = keras.mixed_precision.dtype_policy()
    if config.train.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    elif config.train.precision != "float32":
        keras.mixed_precision.set_dtype_policy(config.train.precision)
    keras.utils.set_random_seed(config.seed)
    run = _Run(config, output_dir, batches, backend, _strategy(config, backend), callbacks,
               verbose, log)
    if time_budget is not None:
        run.deadline = time.monotonic() + time_budget
    run.init_from = init_from
    result = TrainResult(output_dir, [], [], {})
    try:
        for stage in stages:
            finished = output_dir / STAGE_OUTPUTS[stage]
            if finished.exists():
                done = epochs_logged(output_dir / f"{stage}_log.csv")
                if done is None or done >= epochs[stage] or not (
                        output_dir / STAGE_STATE[stage]).is_file():
                    log(f"stage {stage}: already finished ({finished} exists), skipped")
                    result.stages_skipped.append(stage)
                    continue
                log(f"stage {stage}: finished after {done} epochs; continuing to {epochs[stage]}")
                run.continued[stage] = done
            if epochs[stage] == 0:
                log(f"stage {stage}: 0 epochs configured, skipped")
                result.stages_skipped.append(stage)
                continue
            if run.deadline is not None and time.monotonic() >= run.deadline:
                result.budget_reached = True
                break
            log(f"stage {stage}: {epochs[stage]} epochs of {batches.steps_per_epoch} steps")
            try:
                result.history[stage] = getattr(run, stage)()
            except BudgetReached as stop:
                log(f"stage {stage}: time budget reached after epoch {stop.epoch + 1}; "
                    "run the same command again to continue")
                result.budget_reached = True
                break
            result.stages_run.append(stage)
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    return result
