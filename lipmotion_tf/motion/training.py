"""``lipmotion train --config training/motion.yaml``: fit the motion model, resumably.

RUN_DIR receives ``config.yaml`` (the resolved experiment), ``motion_generator.weights.h5``
(when training ends, and what generation loads), ``motion_log.csv`` and TensorBoard logs
(losses and the validation clips' motion measures per epoch), ``checkpoints/`` (one weights
file per epoch) and ``backup/`` (the state ``BackupAndRestore`` resumes from). Running the
same command again continues an interrupted run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.motion.config import WEIGHTS_NAME, MotionExperimentConfig
from lipmotion_tf.motion.template import FRONTAL_TEMPLATE


class MotionValidation(keras.callbacks.Callback):
    """Adds the validation clips' motion measures (``val_sync``, ``val_opening_ratio``...)
    to each epoch's logs, so that CSV and TensorBoard curves show them."""

    def __init__(self, generator, sequences):
        super().__init__()
        self.generator = generator
        self.sequences = sequences

    def on_epoch_end(self, epoch, logs=None):
        from lipmotion_tf.motion.measures import evaluate_sequences

        summary = evaluate_sequences(self.generator, self.sequences)["summary"]
        if logs is not None:
            for key in ("lmd_vs_static", "sync", "opening_ratio", "motion_ratio"):
                logs[f"val_{key}"] = summary[key]


class SyncSwitch(keras.callbacks.Callback):
    """Weighs the sync expert's loss in (``sync_weight`` 0 -> 1) after the first epoch whose
    validation sync loss is below ``threshold``, as Wav2Lip switches its expert on."""

    def __init__(self, threshold: float, log=print):
        super().__init__()
        self.threshold = float(threshold)
        self.log = log

    def on_epoch_end(self, epoch, logs=None):
        trainer = self.model
        value = (logs or {}).get("val_sync_loss")
        if float(trainer.sync_weight.numpy()) == 0 and value is not None and value < self.threshold:
            trainer.sync_weight.assign(1.0)
            self.log(f"\nsync loss {value:.3f} < {self.threshold}: the sync expert's loss is on "
                     f"from epoch {epoch + 2}")


@dataclasses.dataclass
class MotionTrainResult:
    output_dir: Path
    epochs_done: int
    budget_reached: bool
    validation: dict


def amplitude_reference(config: MotionExperimentConfig) -> float | None:
    """What the data pipeline measures amplitudes against: None when the model reads none."""
    return config.model.amplitude_reference if config.model.amplitude_input else None


def build_trainer(config: MotionExperimentConfig, example_batch):
    """The compiled :class:`~lipmotion_tf.motion.trainer.MotionTrainer` with every weight built."""
    from lipmotion_tf.motion.motion_generator import MotionGenerator
    from lipmotion_tf.motion.trainer import MotionTrainer

    generator = MotionGenerator.from_experiment(config)
    expert = None
    if config.loss.sync > 0:
        from lipmotion_tf.errors import ConfigError
        from lipmotion_tf.sync.checkpoint import load_sync_expert, sync_checkpoint

        expert, _ = load_sync_expert(config.loss.sync_expert or sync_checkpoint())
        needed = expert.window + 2 * config.loss.sync_shift
        if (config.data.window < needed or expert.points != config.model.points
                or expert.n_mels != config.audio.n_mels
                or expert.mel_frames_per_frame != config.audio.mel_frames_per_frame):
            raise ConfigError(f"the sync expert needs windows of at least {needed} frames "
                              f"(data.window), {expert.points} motion points and "
                              f"{expert.n_mels} mel bands at {expert.mel_frames_per_frame} "
                              "per frame (audio)")
    trainer = MotionTrainer(generator, config.loss, sync_expert=expert,
                            context=config.data.context, name="motion_trainer")

    def adam(rate):
        return keras.optimizers.Adam(rate, clipnorm=config.train.clip_norm)

    rate = config.train.learning_rate
    if config.train.final_learning_rate is not None:
        rate = keras.optimizers.schedules.CosineDecay(
            rate, config.train.epochs * config.train.steps_per_epoch,
            alpha=config.train.final_learning_rate / rate)
    if config.train.weight_decay > 0:
        g_optimizer = keras.optimizers.AdamW(rate, weight_decay=config.train.weight_decay,
                                             clipnorm=config.train.clip_norm)
        g_optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    else:
        g_optimizer = adam(rate)
    trainer.compile(g_optimizer, adam(config.train.discriminator_learning_rate))
    trainer.build_from_batch(example_batch)
    return trainer


def train_motion(config: MotionExperimentConfig, data_dir: str | Path, output_dir: str | Path,
                 time_budget: float | None = None, verbose="auto", log=print) -> MotionTrainResult:
    """Trains the motion model on ``data_dir`` (a ``prepare-motion`` folder) into ``output_dir``."""
    from lipmotion_tf.errors import DataError
    from lipmotion_tf.motion.dataset import WindowSampler, fixed_windows, load_sequences
    from lipmotion_tf.train.run_folder import check_run_config, run_callbacks, save_config
    from lipmotion_tf.train.time_budget import BudgetReached

    output_dir = Path(output_dir)
    check_run_config(output_dir, config, MotionExperimentConfig)
    saved = output_dir / "config.yaml"
    keras.utils.set_random_seed(config.seed)
    split_args = dict(rest_fraction=config.data.rest_fraction,
                      val_fraction=config.data.val_fraction,
                      test_fraction=config.data.test_fraction)
    train = load_sequences(data_dir, FRONTAL_TEMPLATE, split="train", **split_args)
    try:
        val = load_sequences(data_dir, FRONTAL_TEMPLATE, split="val", **split_args)
    except DataError:
        log("no validation clips (data.val_fraction): validation measures training clips")
        val = train
    points = train[0].rest.shape[0]
    if points != config.model.points:
        raise DataError(f"{data_dir} holds {points} motion points per frame, the config "
                        f"model.points says {config.model.points}")
    reference = amplitude_reference(config)
    sampler = WindowSampler.from_config(train, config, reference)
    # Written once the data is known good: a refused run leaves no folder behind.
    output_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, saved)
    log(f"training windows from {sampler.describe()}; {len(val)} validation clips")
    dataset = sampler.dataset(config.data.batch_size)
    val_inputs, val_targets = fixed_windows(val, config.data.window, config.audio,
                                            amplitude_reference=reference,
                                            context=config.data.context)
    trainer = build_trainer(config, next(iter(dataset)))
    log(f"motion generator: {trainer.generator.count_params():,} parameters")

    extra = [MotionValidation(trainer.generator, val[::max(1, len(val) // 60)])]
    if config.loss.sync > 0 and config.loss.sync_start > 0:
        extra.insert(0, SyncSwitch(config.loss.sync_start, log))
    callbacks, checkpoints = run_callbacks(output_dir, "motion_log.csv", time_budget, extra)
    budget_reached = False
    try:
        trainer.fit(dataset, epochs=config.train.epochs, steps_per_epoch=config.train.steps_per_epoch,
                    shuffle=False,
                    validation_data=(val_inputs, val_targets),
                    batch_size=config.data.batch_size, callbacks=callbacks, verbose=verbose)
    except BudgetReached:
        budget_reached = True
    if not budget_reached and config.train.average_last > 1:
        average_epochs(trainer, sorted(checkpoints.glob("epoch*.weights.h5"))[
            -config.train.average_last:], log)
    if not all(np.isfinite(w).all() for w in trainer.generator.get_weights()):
        from lipmotion_tf.errors import TrainingError

        raise TrainingError("the loss became non-finite; the generator was not saved (the "
                            f"last good epochs are in {checkpoints})")
    if config.model.amplitude_input:
        offset = calibrate_amplitude(trainer.generator, val, config.model.amplitude_reference)
        log(f"amplitude offset {offset:+.3f}: the validation clips' median opening ratio is 1 "
            "with their own amplitude")
    trainer.generator.save_weights(str(output_dir / WEIGHTS_NAME))
    from lipmotion_tf.motion.measures import evaluate_sequences

    validation = evaluate_sequences(trainer.generator, val, config.audio)["summary"]
    (output_dir / "validation.json").write_text(json.dumps(validation, indent=2) + "\n")
    epochs_done = len(sorted(checkpoints.glob("epoch*.weights.h5")))
    return MotionTrainResult(output_dir, epochs_done, budget_reached, validation)


def calibrate_amplitude(generator, sequences, reference: float, low: float = -1.0,
                        high: float = 2.0, steps: int = 8) -> float:
    """Sets ``generator.amplitude_offset`` so that, each clip generated with its speaker's own
    amplitude, the median opening ratio over ``sequences`` (the validation clips) is 1, and
    returns it. Trained with a squared error, the model opens less than its input says (it
    cannot hear exactly when the mouth opens, and the mean of uncertain openings is a smaller
    one); the offset asks for the amplitude it means. Bisection within ``[low, high]``."""
    from lipmotion_tf.motion.measures import evaluate_sequences

    def ratio(offset):
        generator.amplitude_offset.assign(offset)
        return evaluate_sequences(generator, sequences,
                                  amplitude_reference=reference)["summary"]["opening_ratio"]

    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (middle, high) if ratio(middle) < 1.0 else (low, middle)
    offset = (low + high) / 2
    generator.amplitude_offset.assign(offset)
    return offset


def average_epochs(trainer, paths, log=print) -> None:
    """Sets the trainer's generator to the mean of its weights in the epoch files ``paths``."""
    weights = []
    for path in paths:
        trainer.load_weights(str(path))
        weights.append(trainer.generator.get_weights())
    trainer.generator.set_weights([np.mean(group, axis=0) for group in zip(*weights)])
    log(f"generator: the mean of {len(paths)} epochs ({paths[0].name} .. {paths[-1].name})")


def load_motion_generator(run_dir: str | Path):
    """The trained :class:`MotionGenerator` of a run (or shipped model) folder and its config."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.motion_generator import MotionGenerator

    run_dir = Path(run_dir)
    weights = run_dir / WEIGHTS_NAME
    if not weights.is_file():
        raise InputError(f"no motion model in {run_dir} ({WEIGHTS_NAME} missing)")
    config = load_config(run_dir / "config.yaml", config_class=MotionExperimentConfig)
    generator = MotionGenerator.from_experiment(config)
    frames = 8
    generator({"log_mel": np.zeros((1, frames * config.audio.mel_frames_per_frame,
                                     config.audio.n_mels), np.float32),
               "rest": np.zeros((1, config.model.points, 2), np.float32)})
    generator.load_weights(str(weights))
    return generator, config


def load_mouth_interior(run_dir: str | Path, config):
    """The learned :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior` of a motion
    model folder (built from ``config.interior``), or None where the folder has none (its
    renderer then draws the interior)."""
    from lipmotion_tf.motion.interior_config import INTERIOR_WEIGHTS_NAME
    from lipmotion_tf.motion.mouth_interior import MouthInterior

    weights = Path(run_dir) / INTERIOR_WEIGHTS_NAME
    if not weights.is_file():
        return None
    interior = MouthInterior(**dataclasses.asdict(config.interior), name="mouth_interior")
    size = config.interior.size
    interior({"region": np.zeros((1, size, size, 3), np.float32),
              "mask": np.zeros((1, size, size, 1), np.float32)})
    try:
        interior.load_weights(str(weights))
    except ValueError as error:
        from lipmotion_tf.errors import InputError

        raise InputError(f"{weights} does not fit the interior section of "
                         f"{Path(run_dir) / 'config.yaml'} (the interior run's model settings "
                         f"go there): {str(error).splitlines()[0]}") from None
    return interior
