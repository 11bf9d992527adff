"""``lipmotion train --config training/sync.yaml``: fit the sync expert, resumably.

RUN_DIR receives ``config.yaml``, ``sync_expert.weights.h5`` (when training ends), ``sync_log.csv``
and TensorBoard logs (the matching loss and accuracies per epoch, and the validation clips'
offset accuracy: the share of (clip, audio shift) pairs whose shift the search finds within
one frame), ``checkpoints/`` and ``backup/`` (what ``BackupAndRestore`` resumes from).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.sync.checkpoint import build_expert
from lipmotion_tf.sync.config import WEIGHTS_NAME, SyncExperimentConfig

#: The audio shifts (frames) of the offset-accuracy trials.
TRIAL_SHIFTS = (0, 3, -3, 6, -6, 10, -10)
#: Clips shorter than this (frames, 2 s) are too short for the offset trials.
MIN_TRIAL_FRAMES = 50


def offset_accuracy(judge, sequences, shifts=TRIAL_SHIFTS, tolerance: int = 1) -> dict:
    """The share of (clip, shift) pairs whose shift is found within ``tolerance`` frames, and
    of unshifted clips found in sync, over ``sequences`` of at least :data:`MIN_TRIAL_FRAMES`."""
    hits, in_sync, clips = [], [], 0
    for sequence in sequences:
        if sequence.num_frames < MIN_TRIAL_FRAMES:
            continue
        clips += 1
        for shift, found in judge.shift_trials(sequence.log_mel, sequence.motion, shifts,
                                               sequence.found):
            hits.append(abs(found - shift) <= tolerance)
            if shift == 0:
                in_sync.append(abs(found) <= tolerance)
    return {"clips": clips, "pairs": len(hits),
            "offset_accuracy": float(np.mean(hits)) if hits else float("nan"),
            "in_sync": float(np.mean(in_sync)) if in_sync else float("nan")}


class OffsetValidation(keras.callbacks.Callback):
    """Adds the validation clips' ``val_offset_accuracy`` and ``val_in_sync`` to each epoch's
    logs (CSV and TensorBoard)."""

    def __init__(self, judge, sequences):
        super().__init__()
        self.judge = judge
        self.sequences = sequences

    def on_epoch_end(self, epoch, logs=None):
        result = offset_accuracy(self.judge, self.sequences)
        if logs is not None:
            logs["val_offset_accuracy"] = result["offset_accuracy"]
            logs["val_in_sync"] = result["in_sync"]


@dataclasses.dataclass
class SyncTrainResult:
    output_dir: Path
    epochs_done: int
    budget_reached: bool
    validation: dict


def train_sync(config: SyncExperimentConfig, data_dir: str | Path, output_dir: str | Path,
               time_budget: float | None = None, verbose="auto", log=print) -> SyncTrainResult:
    """Trains the sync expert on ``data_dir`` (a ``prepare-motion`` folder) into ``output_dir``."""
    from lipmotion_tf.errors import DataError, TrainingError
    from lipmotion_tf.motion.dataset import WindowSampler, fixed_windows, load_sequences
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.sync.judge import SyncJudge
    from lipmotion_tf.sync.trainer import SyncTrainer
    from lipmotion_tf.train.run_folder import check_run_config, run_callbacks, save_config
    from lipmotion_tf.train.time_budget import BudgetReached

    output_dir = Path(output_dir)
    check_run_config(output_dir, config, SyncExperimentConfig)
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
    if train[0].rest.shape[0] != config.model.points:
        raise DataError(f"{data_dir} holds {train[0].rest.shape[0]} motion points per frame, "
                        f"the config model.points says {config.model.points}")
    sampler = WindowSampler(train, config.data.sequence, config.audio, config.data.group_weights,
                            seed=config.seed, spec_augment=config.data.spec_augment)
    output_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, saved)
    log(f"training sequences from {sampler.describe()}; {len(val)} validation clips")
    val_inputs, val_motion = fixed_windows(val, config.data.sequence, config.audio)
    # Shuffled, so that a validation batch's "other clips" are other clips, as in training.
    order = np.random.default_rng(config.seed).permutation(len(val_motion))
    val_inputs, val_motion = {"log_mel": val_inputs["log_mel"][order]}, val_motion[order]

    def batches():
        for inputs, motion in sampler.batches(config.data.batch_size):
            yield {"log_mel": inputs["log_mel"]}, motion

    import tensorflow as tf

    m, n = config.audio.mel_frames_per_frame, config.data.sequence
    signature = ({"log_mel": tf.TensorSpec((config.data.batch_size, m * n, config.audio.n_mels),
                                           tf.float32)},
                 tf.TensorSpec((config.data.batch_size, n, config.model.points, 2), tf.float32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(2)

    expert = build_expert(config)
    trainer = SyncTrainer(expert, config.data.max_shift, config.data.motion_noise,
                          config.data.motion_gain, seed=config.seed, name="sync_trainer")
    trainer.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate,
                                                    clipnorm=config.train.clip_norm))
    # Built before fit, so that BackupAndRestore can restore weights and optimizer state.
    trainer.optimizer.build(expert.trainable_variables)
    trainer.built = True
    log(f"sync expert: {expert.count_params():,} parameters")
    judge = SyncJudge(expert, config)
    callbacks, checkpoints = run_callbacks(output_dir, "sync_log.csv", time_budget,
                                           [OffsetValidation(judge, val)])
    budget_reached = False
    try:
        trainer.fit(dataset, epochs=config.train.epochs,
                    steps_per_epoch=config.train.steps_per_epoch,
                    validation_data=(val_inputs, val_motion),
                    batch_size=config.data.batch_size, callbacks=callbacks, verbose=verbose)
    except BudgetReached:
        budget_reached = True
    if not all(np.isfinite(w).all() for w in expert.get_weights()):
        raise TrainingError("the loss became non-finite; the expert was not saved (the last "
                            f"good epochs are in {checkpoints})")
    expert.save_weights(str(output_dir / WEIGHTS_NAME))
    validation = offset_accuracy(judge, val)
    (output_dir / "validation.json").write_text(json.dumps(validation, indent=2) + "\n")
    epochs_done = len(sorted(checkpoints.glob("epoch*.weights.h5")))
    return SyncTrainResult(output_dir, epochs_done, budget_reached, validation)
