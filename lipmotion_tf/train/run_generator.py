"""The newest generator of a training run, wherever the run stopped, and weight combinations
of generators (checkpoint averaging, mixing two generators)."""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import InputError, TrainingError


def latest_generator(config, run_dir, average: int = 1):
    """The generator of the newest GAN or warm-up weights in ``run_dir`` (a finished stage's
    or the last epoch checkpoint of one a time budget stopped).

    Args:
        average: with more than 1, the mean of the generator weights (batch-norm statistics
            included) of the newest ``average`` epoch checkpoints of that stage: checkpoint
            averaging, steadier than any one of them (keep them with
            ``train.checkpoints_kept``).

    Raises:
        TrainingError: the run holds no generator weights yet.
        InputError: fewer epoch checkpoints than ``average``.
    """
    import numpy as np

    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.gan import LipMotionGAN
    from lipmotion_tf.train.shapes import zero_batch

    run_dir = Path(run_dir)
    for stage in ("gan", "warmup"):
        epochs = sorted((run_dir / "checkpoints").glob(f"{stage}-epoch*.weights.h5"))
        candidates = sorted((p for p in [*epochs, run_dir / f"{stage}.weights.h5"] if p.is_file()),
                            key=lambda p: p.stat().st_mtime)  # the newest last
        if not candidates:
            continue
        if average > 1 and len(epochs) < average:
            raise InputError(
                f"{run_dir}: {len(epochs)} {stage} epoch checkpoint(s) kept, {average} to "
                "average (train.checkpoints_kept sets how many a run keeps)"
            )
        networks = build_networks(config)
        gan = LipMotionGAN(**networks, discriminator_streams=config.model.discriminator_streams)
        gan.build_from_batch(zero_batch(config))
        generator = networks["generator"]
        if average <= 1:
            gan.load_weights(str(candidates[-1]))
            return generator
        weights = []
        for path in epochs[-average:]:  # epoch numbers are zero-padded: name order is time order
            gan.load_weights(str(path))
            weights.append(generator.get_weights())
        generator.set_weights([np.mean(values, axis=0).astype(values[0].dtype)
                               for values in zip(*weights)])
        return generator
    raise TrainingError(f"{run_dir}: no generator weights yet (the time ran out before the "
                        "first epoch ended)")


def load_checkpoint_or_run(path, average: int = 1):
    """``(generator, config)`` of a generator checkpoint folder, or of a training run folder
    that holds no saved generator yet (its newest epoch checkpoint; with ``average`` > 1,
    the mean of its newest ``average`` epoch checkpoints, see :func:`latest_generator`).

    Raises:
        InputError: a missing or unusable checkpoint, ``average`` > 1 on a checkpoint
            folder (one set of weights, nothing to average), or too few to average.
        TrainingError: a run without any generator weights yet.
    """
    from lipmotion_tf.generate.checkpoint import (
        KERAS_NAME,
        WEIGHTS_NAME,
        checkpoint_config,
        load_generator,
    )

    path = Path(path)
    if average > 1 and not (path / "checkpoints").is_dir():
        raise InputError(f"{path}: averaging needs a training run folder (with checkpoints/)")
    saved = (path / KERAS_NAME).is_file() or (path / WEIGHTS_NAME).is_file()
    if average <= 1 and (not path.is_dir() or saved or not (path / "checkpoints").is_dir()):
        return load_generator(path)
    config = checkpoint_config(path)
    return latest_generator(config, path, average), config


def mix_generator_weights(generator, other, weight: float, name: str) -> None:
    """Sets ``generator`` to ``weight * generator + (1 - weight) * other``, weight by weight
    (batch-norm statistics included): weight-space ensembling of a fine-tuned generator and
    the one it started from. A warp head that ``other`` lacks counts as zeros there (no
    shift), so the mix moves the image by about ``weight`` of ``generator``'s shifts.

    Raises:
        InputError: ``other`` (called ``name`` in the message) has another architecture.
    """
    import numpy as np

    theirs_by_block = {block.name: block.get_weights() for block in other.conv_blocks()}
    blocks = generator.conv_blocks()
    mixed = []
    for block in blocks:
        ours = block.get_weights()
        theirs = theirs_by_block.pop(block.name, None)
        if theirs is None and block is generator.decoder_motion:
            theirs = [np.zeros_like(w) for w in ours]
        if theirs is None or len(theirs) != len(ours) or any(
                a.shape != b.shape for a, b in zip(ours, theirs)):
            raise InputError(f"{name}: its generator has another architecture")
        mixed.append([(weight * a + (1.0 - weight) * b.astype(a.dtype)).astype(a.dtype)
                      for a, b in zip(ours, theirs)])
    if theirs_by_block:
        raise InputError(f"{name}: its generator has another architecture")
    for block, weights in zip(blocks, mixed):
        block.set_weights(weights)
