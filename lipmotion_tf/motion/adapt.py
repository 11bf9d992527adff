"""Adapting the motion model to one person from a video of that person talking.

Each video is tracked once (face mesh, speech log-mel) and turned into a motion sequence in
its own mouth frame, the rest shape read from its most-closed frames as ``dub`` reads it. The
videos joined in order are cut in time: the first ``1 - holdout`` is trained on, the rest is
kept out. The motion generator is fine-tuned from the given model on windows of the first
part with its reconstruction terms (landmarks, velocity, amplitude, closed frames); the sync
expert and the discriminator stay off (one person's few hundred windows do not need them and
a step costs half). Then the base and the adapted model are measured on the part kept out
(the motion measures of ``evaluate --motion-only``) and the table is printed.

What a person's own video teaches is mostly how far *their* mouth opens: a model trained on
~200 people opens an unseen speaker's mouth by the crowd's average amount.

The renderer has no learned weights (it moves the photo's own pixels and draws the mouth
interior from its colours), so there is nothing of it to adapt.

The output folder is a motion model (``config.yaml`` + weights) that ``generate``, ``dub``,
``export`` and ``serve`` take as ``--checkpoint``; ``report/`` holds the measurements.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

#: Measured on GRID s3 and a VoxCeleb2 speaker (docs/experiments.md, "Adapting the motion
#: model"): a third of the base model's rate keeps what the crowd taught while the amplitude
#: moves to the person's.
LEARNING_RATE = 3e-4
BATCH_SIZE = 16
STEPS_PER_EPOCH = 25  # short epochs: the time budget stops at an epoch end
MAX_STEPS = 200
MIN_SECONDS = 4.0  # of speech in all: a held-out part of about one second at the default
PERSON = "person"  # the sequences' group


@dataclasses.dataclass
class MotionAdaptReport:
    """The held-out motion measures (``evaluate_sequences`` summaries) of the base model,
    of the base model given the person's amplitude (a model that reads it; else None: what
    the amplitude alone brings) and of the adapted model."""

    base: dict
    base_own: dict | None
    adapted: dict

    def table(self) -> str:
        """The measures of each model, a Markdown table."""
        rows = [("Still (rest shape)", 1.0, math.nan, 0.0, 0.0)]
        for label, summary in (("Base model", self.base),
                               ("Base, their amplitude", self.base_own),
                               ("Adapted", self.adapted)):
            if summary is not None:
                rows.append((label, summary["lmd_vs_static"], summary["sync"],
                             summary["opening_ratio"], summary["motion_ratio"]))
        lines = ["| model | LMD vs still | sync | opening ratio | motion ratio |",
                 "|---|---|---|---|---|"]
        for label, *values in rows:
            cells = ["-" if math.isnan(v) else f"{v:.3f}" for v in values]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def adapt_config(base, learning_rate: float = LEARNING_RATE, batch_size: int = BATCH_SIZE,
                 steps: int = MAX_STEPS):
    """The fine-tuning configuration derived from the base model's ``base``."""
    loss = dataclasses.replace(base.loss, sync=0.0, adversarial=0.0)
    data = dataclasses.replace(base.data, batch_size=batch_size, group_weights={})
    train = dataclasses.replace(base.train, learning_rate=learning_rate,
                                final_learning_rate=None, steps_per_epoch=STEPS_PER_EPOCH,
                                epochs=max(1, -(-steps // STEPS_PER_EPOCH)), average_last=1)
    return dataclasses.replace(base, name=f"{base.name}_adapted", loss=loss, data=data,
                               train=train)


def track_person(videos, audio, progress: bool = True) -> list:
    """Each video as a :class:`~lipmotion_tf.motion.dataset.MotionSequence` (group
    :data:`PERSON`).

    Raises:
        InputError: a video cannot be read, has no sound, or shows no face in half its frames.
    """
    from tqdm import tqdm

    from lipmotion_tf.motion.dataset import to_sequence
    from lipmotion_tf.motion.extract import extract_clip
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    sequences = []
    for path in tqdm(videos, desc="tracking", unit="video", disable=not progress):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"video not found: {path}")
        with FaceMeshDetector(static_image_mode=False) as detector:
            clip = extract_clip(path, path.stem, detector, audio)
        sequences.append(to_sequence(clip, PERSON, FRONTAL_TEMPLATE))
    return sequences


def split_in_time(sequences, holdout: float, mel_frames_per_frame: int):
    """``(train, heldout)``: the sequences joined in order, cut at ``1 - holdout`` of their
    frames (the sequence that spans the cut is split in two)."""
    total = sum(s.num_frames for s in sequences)
    cut = round(total * (1.0 - holdout))
    train, heldout, start = [], [], 0
    for sequence in sequences:
        end = start + sequence.num_frames
        if end <= cut:
            train.append(sequence)
        elif start >= cut:
            heldout.append(sequence)
        else:
            inside = cut - start
            train.append(_part(sequence, 0, inside, mel_frames_per_frame))
            heldout.append(_part(sequence, inside, sequence.num_frames, mel_frames_per_frame))
        start = end
    return train, heldout


def _part(sequence, first: int, last: int, mel_frames_per_frame: int):
    m = mel_frames_per_frame
    return dataclasses.replace(sequence, clip_id=f"{sequence.clip_id}[{first}:{last}]",
                               log_mel=sequence.log_mel[m * first:m * last],
                               motion=sequence.motion[first:last],
                               found=sequence.found[first:last])


def adapt_motion(videos, out_dir, minutes: float = 5.0, checkpoint=None, holdout: float = 0.2,
                 learning_rate: float = LEARNING_RATE, batch_size: int = BATCH_SIZE,
                 max_steps: int | None = None, progress: bool = True, log=print):
    """Fine-tunes the motion model ``checkpoint`` (default: the shipped one) on one person;
    returns an :class:`~lipmotion_tf.train.adapt.AdaptResult` whose report is a
    :class:`MotionAdaptReport`.

    Args:
        videos: a talking-face video with its sound, or a list of videos of the same person
            (joined in order).
        out_dir: a new (or empty) folder for the adapted model.
        minutes: time for the whole adaptation (tracking, training, measuring).
        checkpoint: the motion model to start from.
        holdout: share of the videos (their end) kept out of training and measured.
        learning_rate: the fine-tuning learning rate.
        batch_size: windows per step.
        max_steps: training steps at most (whole epochs of :data:`STEPS_PER_EPOCH`; default
            :data:`MAX_STEPS`: past it the held-out measures no longer improved).
        progress: show progress bars.
        log: where progress lines go.

    Raises:
        InputError: a bad video, an output folder that is not empty or not writable, speech
            too short, a budget too short to train, or a number out of range (the last before
            anything is loaded).
    """
    import keras

    from lipmotion_tf.data.person_video import video_list
    from lipmotion_tf.motion.config import WEIGHTS_NAME
    from lipmotion_tf.motion.interior_config import INTERIOR_WEIGHTS_NAME
    from lipmotion_tf.motion.dataset import WindowSampler, speaking_amplitude
    from lipmotion_tf.motion.measures import evaluate_sequences
    from lipmotion_tf.motion.pipeline import motion_checkpoint
    from lipmotion_tf.motion.training import (
        amplitude_reference,
        build_trainer,
        load_motion_generator,
    )
    from lipmotion_tf.output_files import ensure_writable_folder, write_atomically
    from lipmotion_tf.train.adapt import AdaptResult, check_adaptation, clear_output
    from lipmotion_tf.train.run_folder import save_config
    from lipmotion_tf.train.time_budget import BudgetReached, TimeBudget

    started = time.monotonic()
    out_dir = check_adaptation(out_dir, minutes, learning_rate, holdout, max_steps)
    checkpoint = Path(checkpoint) if checkpoint is not None else motion_checkpoint()
    base_generator, base_config = load_motion_generator(checkpoint)
    config = adapt_config(base_config, learning_rate, batch_size,
                          MAX_STEPS if max_steps is None else max_steps)
    config.validate()
    fps, m = config.audio.fps, config.audio.mel_frames_per_frame

    sequences = track_person(video_list(videos), config.audio, progress)
    total = sum(s.num_frames for s in sequences)
    window = config.data.window
    if total < MIN_SECONDS * fps or total * holdout < window or total * (1 - holdout) < window:
        raise InputError(f"{total / fps:.1f} s of video: adapting needs at least "
                         f"{max(MIN_SECONDS, window / min(holdout, 1 - holdout) / fps):.1f} s "
                         f"(with --holdout {holdout:g})")
    train, heldout = split_in_time(sequences, holdout, m)
    own_amplitude = None
    if config.model.amplitude_input:
        # The adapted model's typical speaker is this person: their amplitude becomes 0.
        own_amplitude = float(np.median([
            speaking_amplitude(s.rest, s.motion, config.model.amplitude_reference)
            for s in train]))
        deviation = config.model.amplitude_reference * float(np.exp(own_amplitude))
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, amplitude_reference=deviation))
    budget = minutes * 60.0 - (time.monotonic() - started) - 10.0
    if budget < 10.0:
        raise InputError(f"--minutes {minutes:g} leaves {max(budget, 0):.0f} s to train after "
                         "tracking the video; give more time")
    sampler = WindowSampler.from_config(train, config, amplitude_reference(config),
                                        window=window, weighted=False)
    dataset = sampler.dataset(batch_size)
    keras.utils.set_random_seed(config.seed)
    trainer = build_trainer(config, next(iter(dataset)))
    trainer.generator.set_weights(base_generator.get_weights())
    train_frames = sum(s.num_frames for s in train)
    log(f"training on {train_frames / fps:.1f} s of video for up to {budget / 60:.1f} min; "
        f"{(total - train_frames) / fps:.1f} s kept out")

    steps = 0

    class CountSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            nonlocal steps
            steps += 1

    train_started = time.monotonic()
    try:
        trainer.fit(dataset, epochs=config.train.epochs, steps_per_epoch=STEPS_PER_EPOCH,
                    shuffle=False, callbacks=[CountSteps(), TimeBudget(time.monotonic() + budget)],
                    verbose="auto" if progress else 0)
    except BudgetReached:
        pass
    train_seconds = time.monotonic() - train_started
    if not all(np.isfinite(w).all() for w in trainer.generator.get_weights()):
        raise InputError("the adaptation's loss became non-finite; try a lower --learning-rate")

    base = evaluate_sequences(base_generator, heldout)["summary"]
    base_own = None if own_amplitude is None else evaluate_sequences(
        base_generator, heldout, amplitude=own_amplitude)["summary"]
    adapted = evaluate_sequences(trainer.generator, heldout)["summary"]
    existed = out_dir.exists()
    ensure_writable_folder(out_dir)
    try:
        save_config(config, out_dir / "config.yaml")
        with write_atomically(out_dir / WEIGHTS_NAME) as temporary:
            trainer.generator.save_weights(str(temporary))
        interior = Path(checkpoint) / INTERIOR_WEIGHTS_NAME
        if interior.is_file():  # the renderer's learned interior goes with the model
            shutil.copyfile(interior, out_dir / INTERIOR_WEIGHTS_NAME)
        report = MotionAdaptReport(base, base_own, adapted)
        result = AdaptResult(out_dir, report, fps, train_frames, total - train_frames, steps,
                             train_seconds, time.monotonic() - started)
        folder = out_dir / "report"
        folder.mkdir()
        (folder / "adapt.json").write_text(json.dumps({
            "base": base, "base_own_amplitude": base_own, "adapted": adapted,
            "base_checkpoint": str(checkpoint),
            "adapted_on": [str(v) for v in video_list(videos)],
            "held_out": f"last {holdout:.0%}", "steps": steps}, indent=2) + "\n")
        (folder / "adapt.md").write_text(report.table() + "\n")
    except BaseException:  # nothing half-made is left
        clear_output(out_dir, remove=not existed)
        raise
    return result
