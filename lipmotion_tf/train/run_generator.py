"""The newest generator of a training run, wherever the run stopped, and weight combinations
of generators (checkpoint averaging, mixing two generators)."""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import InputError, TrainingError


def latest_generator(config, run_dir, average: int = 1):
    """The generator of the newest GAN or warm-up weights in ``run_dir`` (a finished stage's
    or the last epoch checkpoint of one a time budget stopped).

    Only the generator is built when the weights it needs were also saved alone
    (:mod:`~lipmotion_tf.train.generator_checkpoint`); a run from before that is read through
    the whole GAN.

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

    from lipmotion_tf.models.factory import build_generator
    from lipmotion_tf.train.generator_checkpoint import generator_weights_file

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
        # Epoch numbers are zero-padded: name order is time order.
        files = epochs[-average:] if average > 1 else candidates[-1:]
        alone = [generator_weights_file(path) for path in files]
        if all(path.is_file() for path in alone):
            generator = build_generator(config)
            load, files = generator.load_weights, alone
        else:
            generator, load = _generator_in_gan(config)
        weights = []
        for path in files:
            load(str(path))
            weights.append(generator.get_weights())
        # The mean of one set of weights is that set, exactly.
        generator.set_weights([np.mean(values, axis=0).astype(values[0].dtype)
                               for values in zip(*weights)])
        return generator
    raise TrainingError(f"{run_dir}: no generator weights yet (the time ran out before the "
                        "first epoch ended)")


def _generator_in_gan(config):
    """``(generator, load)``: the generator inside a built GAN of ``config``, and the GAN's
    ``load_weights`` (for GAN weights files without their generator alone)."""
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.gan import LipMotionGAN
    from lipmotion_tf.train.shapes import zero_batch

    networks = build_networks(config)
    gan = LipMotionGAN(**networks, discriminator_streams=config.model.discriminator_streams)
    gan.build_from_batch(zero_batch(config))
    return networks["generator"], gan.load_weights


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
