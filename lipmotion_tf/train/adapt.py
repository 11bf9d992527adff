"""Adapting a trained generator to one person from a video of that person talking.

The video's first 80% (in time) is prepared as training clips and the rest is kept out
(:mod:`~lipmotion_tf.data.person_video`). The generator is fine-tuned from the given
checkpoint on the first part within a time budget, then the base and the adapted generator
are measured on the part kept out (LMD, lip sync, PSNR, SSIM) next to the static baseline.

Which losses: the motion-weighted L1 reconstruction and the attention terms of the
checkpoint's configuration. The discriminator, FlowNet/correlation and perceptual networks
would need their own trained weights (a shipped generator comes alone) and make a step about
four times dearer on CPU; one person's few hundred windows are learnt within minutes without
them. Appearance augmentation is off: the colours to copy are the person's own.

The output folder is a generator checkpoint (``config.yaml`` + weights) that ``generate``,
``dub``, ``export`` and ``serve`` take as ``--checkpoint``; ``work/`` holds the segments, the
prepared clips and the training run, and ``report/`` the measurements.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

from lipmotion_tf.errors import DataError, InputError

BASE_LABEL = "Base model"
ADAPTED_LABEL = "Adapted"
STEPS_PER_EPOCH = 20  # short epochs: the time budget stops at an epoch end
#: Measured best of 1e-4, 2e-4 and 5e-4 on GRID s3 in 10 minutes (docs/experiments.md,
#: "Adapting to one person").
LEARNING_RATE = 5e-4
BATCH_SIZE = 4


@dataclasses.dataclass
class AdaptResult:
    """What :func:`adapt_to_video` did.

    Attributes:
        checkpoint: the adapted generator's folder.
        report: the held-out measurements, with a ``table()``: an
            :class:`~lipmotion_tf.evaluation.report.EvaluationReport` (the paper generator)
            or a :class:`~lipmotion_tf.motion.adapt.MotionAdaptReport` (the motion model).
        fps: the model's frame rate.
        train_frames: frames trained on.
        heldout_frames: frames kept out.
        steps: training steps run.
        train_seconds: wall time of the training.
        total_seconds: wall time of the whole adaptation.
    """

    checkpoint: Path
    report: object
    fps: int
    train_frames: int
    heldout_frames: int
    steps: int
    train_seconds: float
    total_seconds: float


def adapt_config(base, learning_rate: float = LEARNING_RATE, batch_size: int = BATCH_SIZE,
                 max_steps: int | None = None):
    """The fine-tuning configuration derived from the base checkpoint's ``base``; it trains
    until the time budget ends, or for about ``max_steps`` steps (whole epochs)."""
    epochs = 100_000 if max_steps is None else max(1, -(-max_steps // STEPS_PER_EPOCH))
    loss = dataclasses.replace(base.loss, adversarial=0.0, correlation=0.0, perceptual=0.0)
    data = dataclasses.replace(base.data, augment=False, val_fraction=0.0, test_fraction=0.0,
                               source_weights=[], batch_size=batch_size)
    train = dataclasses.replace(base.train, flow_epochs=0, autoencoder_epochs=0,
                                warmup_epochs=epochs, gan_epochs=0,
                                steps_per_epoch=STEPS_PER_EPOCH, validation_steps=0,
                                preview_every=0)
    optimizer = dataclasses.replace(base.optimizer, learning_rate=learning_rate)
    return dataclasses.replace(base, name=f"{base.name}_adapted", loss=loss, data=data,
                               train=train, optimizer=optimizer)


def check_adaptation(out_dir, minutes: float, learning_rate: float, holdout: float,
                     max_steps: int | None) -> Path:
    """``out_dir`` as a path once the numbers and the folder are fine for an adaptation.

    Checked before anything is loaded: each is otherwise found out late (inf minutes after the
    preparation) or never (a negative rate climbs the loss and saves the result).

    Raises:
        InputError: a number out of range, or an output folder that is not empty.
    """
    if not 0 < minutes < math.inf:
        raise InputError(f"--minutes must be a finite number > 0, got {minutes}")
    if not 0 < learning_rate < math.inf:
        raise InputError(f"--learning-rate must be a finite number > 0, got {learning_rate}")
    if not 0.0 < holdout < 1.0:
        raise InputError(f"--holdout must be between 0 and 1, got {holdout}")
    if max_steps is not None and max_steps < 1:
        raise InputError(f"--max-steps must be at least 1, got {max_steps}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"output folder {out_dir} exists and is not empty")
    return out_dir


def evaluation_reserve(heldout_frames: int) -> float:
    """Seconds kept for measuring two generators on the held-out frames (generation and
    face mesh on three sets of crops; measured ~0.1 s per frame on a 2-core CPU)."""
    return 20.0 + 0.15 * heldout_frames


def adapt_to_video(videos, out_dir, minutes: float = 10.0, checkpoint=None,
                   holdout: float = 0.2, learning_rate: float = LEARNING_RATE,
                   batch_size: int = BATCH_SIZE,
                   max_steps: int | None = None, progress: bool = True,
                   log=print) -> AdaptResult:
    """Fine-tunes ``checkpoint`` (default: the shipped model) on one person's video.

    Args:
        videos: a talking-face video with its sound, at least a few seconds long, or a list
            of videos of the same person (joined in order).
        out_dir: a new (or empty) folder for the adapted checkpoint.
        minutes: the whole adaptation's time budget: cutting, preparing, training and
            measuring.
        checkpoint: the generator to start from.
        holdout: share of the video (its end) kept out of training and measured.
        learning_rate: the fine-tuning learning rate.
        batch_size: windows per step (4: twice the steps of 8 in the same time, which
            measured better on GRID s3 in 10 minutes).
        max_steps: stop after about this many steps (whole epochs of 20) even with time left.
        progress: show progress bars.
        log: where progress lines go.

    Raises:
        InputError: a bad video (no sound, no face, too short), an output folder that is not
            empty or not writable, a budget too short to train, or a number out of range
            (minutes, learning rate, holdout), the last before anything is loaded.
    """
    from lipmotion_tf.data.person_video import split_person_video, video_list
    from lipmotion_tf.data.prepare import PrepareSettings, prepare
    from lipmotion_tf.evaluation.evaluator import evaluate_generators
    from lipmotion_tf.evaluation.report import write_report
    from lipmotion_tf.generate.checkpoint import demo_checkpoint, load_generator, save_generator_npz
    from lipmotion_tf.generate.pipeline import LipMotionPipeline
    from lipmotion_tf.output_files import ensure_writable_folder
    from lipmotion_tf.train.run_generator import latest_generator
    from lipmotion_tf.train.runner import epochs_logged, train

    started = time.monotonic()
    out_dir = check_adaptation(out_dir, minutes, learning_rate, holdout, max_steps)
    checkpoint = Path(checkpoint) if checkpoint is not None else demo_checkpoint()
    base_generator, base_config = load_generator(checkpoint)
    config = adapt_config(base_config, learning_rate, batch_size, max_steps)
    config.validate()
    work = out_dir / "work"
    existed = out_dir.exists()
    ensure_writable_folder(out_dir)
    try:
        parts = split_person_video(videos, work / "video", config.audio, config.data.window,
                                   holdout, progress=progress)
        settings = PrepareSettings.from_configs(config.audio, config.data)
        for part in ("train", "heldout"):
            failures: list[str] = []
            try:
                prepare(getattr(parts, part), work / "data" / part, settings,
                        progress=progress, warn=failures.append)
            except DataError:
                if not failures:
                    raise
                # "<segment>: <reason>": the segments are gone with the folder, the reason
                # is about the user's video.
                raise InputError(failures[0].split(": ", 1)[-1]) from None
            for failure in failures:
                log(f"warning: a segment of the video was left out: {failure}")
        budget = minutes * 60.0 - (time.monotonic() - started) - evaluation_reserve(
            parts.heldout_frames)
        if budget < 10.0:
            raise InputError(f"--minutes {minutes:g} leaves {max(budget, 0):.0f} s to train "
                             "after preparing the video; give more time")
        log(f"training on {parts.train_frames / config.audio.fps:.1f} s of video for up to "
            f"{budget / 60:.1f} min; {parts.heldout_frames / config.audio.fps:.1f} s kept out")
        train_started = time.monotonic()
        train(config, work / "data" / "train", work / "run", stages=("warmup",),
              time_budget=budget, init_from=checkpoint, verbose="auto" if progress else 0,
              log=log)
        train_seconds = time.monotonic() - train_started
        steps = (epochs_logged(work / "run" / "warmup_log.csv") or 0) * STEPS_PER_EPOCH
        save_generator_npz(latest_generator(config, work / "run"), config, out_dir)
    except BaseException:  # nothing half-made is left, interrupted or refused
        clear_output(out_dir, remove=not existed)
        raise

    adapted, _ = load_generator(out_dir)
    pipelines = {BASE_LABEL: LipMotionPipeline(base_generator, base_config, batch_size=batch_size),
                 ADAPTED_LABEL: LipMotionPipeline(adapted, config, batch_size=batch_size)}
    report = evaluate_generators(
        pipelines, work / "data" / "heldout", split="all", video_dirs=[parts.heldout],
        progress=progress, info={"checkpoints": {BASE_LABEL: str(checkpoint),
                                                 ADAPTED_LABEL: str(out_dir)},
                                 "adapted_on": [str(v) for v in video_list(videos)],
                                 "held_out": f"last {holdout:.0%}"})
    write_report(report, out_dir / "report")
    return AdaptResult(checkpoint=out_dir, report=report, fps=config.audio.fps,
                       train_frames=parts.train_frames,
                       heldout_frames=parts.heldout_frames, steps=steps,
                       train_seconds=train_seconds, total_seconds=time.monotonic() - started)


def clear_output(folder: Path, remove: bool) -> None:
    """Empties ``folder`` after a failed adaptation, or removes it (``remove``: it was made
    for this run)."""
    import shutil

    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
