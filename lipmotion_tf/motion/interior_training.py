"""``lipmotion train --config training/interior.yaml``: fit the learned mouth interior, resumably.

The data is a ``lipmotion prepare-interior`` file (:mod:`~lipmotion_tf.motion.interior_data`);
a share of its clips (``data.val_fraction``) is kept for validation. RUN_DIR receives
``config.yaml``, ``mouth_interior.weights.h5`` (when training ends), ``interior_log.csv``
and TensorBoard logs (the loss terms and the drawn interior's error on the same masks, per
epoch), ``validation.json`` (PSNR in the mask, learned vs drawn), ``checkpoints/`` and
``backup/`` (what ``BackupAndRestore`` resumes from).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.motion.interior_config import INTERIOR_WEIGHTS_NAME, InteriorExperimentConfig

KEYS = ("region", "mask", "target")


@dataclasses.dataclass
class InteriorTrainResult:
    output_dir: Path
    budget_reached: bool
    validation: dict


def load_examples(path: str | Path) -> dict:
    """A ``prepare-interior`` file's arrays.

    Raises:
        DataError: a missing or unreadable file, or one without the expected arrays.
    """
    from lipmotion_tf.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"interior examples not found: {path} (run `lipmotion prepare-interior`)")
    try:
        with np.load(path) as data:
            arrays = {key: data[key] for key in KEYS + ("clip",)}
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path} is not a prepare-interior file: {error}") from None
    if len(arrays["region"]) == 0:
        raise DataError(f"{path} holds no examples")
    return arrays


def split_by_clip(clips: np.ndarray, val_fraction: float, seed: int):
    """Indices of the training and validation examples: whole clips go to one side."""
    unique = np.unique(clips)
    rng = np.random.default_rng(seed)
    count = int(round(val_fraction * len(unique))) if len(unique) > 1 else 0
    val_clips = set(rng.choice(unique, count, replace=False).tolist()) if count else set()
    is_val = np.array([clip in val_clips for clip in clips])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def as_float(batch: dict):
    """uint8 arrays -> ``({"region", "mask"}, target)`` float32 in [0, 1]."""
    import tensorflow as tf

    scale = lambda x: tf.cast(x, tf.float32) / 255.0  # noqa: E731
    return {"region": scale(batch["region"]), "mask": scale(batch["mask"])}, scale(batch["target"])


def augment(inputs, target, flip: bool, jitter: float):
    """A random left-right flip and per-channel gain, the same on input and target."""
    import tensorflow as tf

    region, mask = inputs["region"], inputs["mask"]
    if flip:
        mirrored = tf.random.uniform(()) < 0.5
        region, mask, target = (tf.cond(mirrored, lambda x=x: tf.reverse(x, [1]), lambda x=x: x)
                                for x in (region, mask, target))
    if jitter:
        gain = tf.random.uniform((1, 1, 3), 1.0 - jitter, 1.0 + jitter)
        region = tf.clip_by_value(region * gain, 0.0, 1.0)
        target = tf.clip_by_value(target * gain, 0.0, 1.0)
    return {"region": region, "mask": mask}, target


def evaluate_interior(interior, examples: dict, batch_size: int = 32) -> dict:
    """PSNR (dB) and L1 in the blend mask of the learned and the drawn interior on
    ``examples`` (uint8 arrays), over all of them."""
    sums = {"learned": 0.0, "drawn": 0.0, "learned_l1": 0.0, "drawn_l1": 0.0, "weight": 0.0}
    for start in range(0, len(examples["region"]), batch_size):
        batch = {key: examples[key][start:start + batch_size] for key in KEYS}
        inputs, target = _numpy(as_float(batch))
        output = np.asarray(interior(inputs))
        mask = np.asarray(interior.blend_mask(inputs["mask"]))
        for name, image in (("learned", output), ("drawn", inputs["region"])):
            sums[name] += float((np.square(image - target) * mask).sum())
            sums[name + "_l1"] += float((np.abs(image - target) * mask).sum())
        sums["weight"] += float(mask.sum()) * 3
    weight = max(sums["weight"], 1e-6)
    return {"examples": len(examples["region"]),
            "psnr_learned": 10 * np.log10(weight / max(sums["learned"], 1e-10)),
            "psnr_drawn": 10 * np.log10(weight / max(sums["drawn"], 1e-10)),
            "l1_learned": sums["learned_l1"] / weight, "l1_drawn": sums["drawn_l1"] / weight}


def _numpy(pair):
    inputs, target = pair
    return {key: np.asarray(value) for key, value in inputs.items()}, np.asarray(target)


def train_interior(config: InteriorExperimentConfig, data: str | Path, output_dir: str | Path,
                   time_budget: float | None = None, verbose="auto", log=print,
                   init_from: str | Path | None = None) -> InteriorTrainResult:
    """Trains the interior network on ``data`` (a ``prepare-interior`` file) into
    ``output_dir``, starting from the interior of ``init_from`` (a run or motion model
    folder) where given: an L1 run fine-tuned with the discriminator, for example."""
    import tensorflow as tf

    from lipmotion_tf.errors import ConfigError, DataError, TrainingError
    from lipmotion_tf.motion.interior_discriminator import InteriorDiscriminator
    from lipmotion_tf.motion.interior_trainer import InteriorTrainer
    from lipmotion_tf.motion.mouth_interior import MouthInterior
    from lipmotion_tf.train.run_folder import check_run_config, run_callbacks
    from lipmotion_tf.train.run_folder import save_config
    from lipmotion_tf.train.time_budget import BudgetReached

    output_dir = Path(output_dir)
    check_run_config(output_dir, config, InteriorExperimentConfig)
    examples = load_examples(data)
    size = examples["region"].shape[1]
    if size != config.model.size:
        raise DataError(f"{data} holds {size}-pixel examples, the config model.size says "
                        f"{config.model.size}")
    keras.utils.set_random_seed(config.seed)
    train_at, val_at = split_by_clip(examples["clip"], config.data.val_fraction, config.seed)
    if len(val_at) == 0:
        log("no validation clips (data.val_fraction): validation measures training examples")
        val_at = train_at
    train = {key: examples[key][train_at] for key in KEYS}
    val = {key: examples[key][val_at] for key in KEYS}
    log(f"{len(train_at)} training and {len(val_at)} validation examples of "
        f"{len(np.unique(examples['clip']))} clips")

    dataset = (tf.data.Dataset.from_tensor_slices(train)
               .shuffle(len(train_at), seed=config.seed, reshuffle_each_iteration=True)
               .repeat().map(as_float)
               .map(lambda x, y: augment(x, y, config.data.flip, config.data.colour_jitter),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .batch(config.data.batch_size, drop_remainder=True).prefetch(2))
    val_data = tf.data.Dataset.from_tensor_slices(val).map(as_float).batch(config.data.batch_size)

    interior = MouthInterior(**dataclasses.asdict(config.model), name="mouth_interior")
    discriminator = (InteriorDiscriminator(config.train.discriminator_width,
                                           name="interior_discriminator")
                     if config.loss.adversarial > 0 else None)
    trainer = InteriorTrainer(interior, config.loss.l1, config.loss.gradient, discriminator,
                              config.loss.adversarial, name="interior_trainer")
    steps = config.train.epochs * config.train.steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(config.train.learning_rate, steps,
                                                      alpha=0.1)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=config.train.clip_norm),
        discriminator_optimizer=None if discriminator is None else keras.optimizers.Adam(
            config.train.discriminator_learning_rate, beta_1=0.5))
    probe, _ = as_float({key: value[:1] for key, value in train.items()})
    interior(probe)
    if init_from is not None:
        weights = Path(init_from) / INTERIOR_WEIGHTS_NAME
        if not weights.is_file():
            raise DataError(f"--init-from {init_from}: no {INTERIOR_WEIGHTS_NAME} there")
        try:
            interior.load_weights(str(weights))
        except ValueError as error:
            raise ConfigError(f"--init-from {init_from}: its interior does not fit the "
                              f"config's model section ({error})") from None
    # Written once the data and --init-from are known good: a refused run leaves no folder.
    output_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, output_dir / "config.yaml")
    # Built before fit, so that BackupAndRestore can restore weights and optimizer state.
    trainer.optimizer.build(interior.trainable_variables)
    if discriminator is not None:
        discriminator({**probe, "image": probe["region"]})
        trainer.discriminator_optimizer.build(discriminator.trainable_variables)
    trainer.built = True
    log(f"mouth interior: {interior.count_params():,} parameters"
        + ("" if discriminator is None
           else f"; discriminator: {discriminator.count_params():,}"))
    callbacks, checkpoints = run_callbacks(output_dir, "interior_log.csv", time_budget)
    budget_reached = False
    try:
        trainer.fit(dataset, epochs=config.train.epochs,
                    steps_per_epoch=config.train.steps_per_epoch, validation_data=val_data,
                    callbacks=callbacks, verbose=verbose)
    except BudgetReached:
        budget_reached = True
    if not all(np.isfinite(w).all() for w in interior.get_weights()):
        raise TrainingError("the loss became non-finite; the interior was not saved (the last "
                            f"good epochs are in {checkpoints})")
    interior.save_weights(str(output_dir / INTERIOR_WEIGHTS_NAME))
    validation = evaluate_interior(interior, val)
    (output_dir / "validation.json").write_text(json.dumps(validation, indent=2) + "\n")
    return InteriorTrainResult(output_dir, budget_reached, validation)
