"""The newest generator of a training run, wherever the run stopped."""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import TrainingError


def latest_generator(config, run_dir):
    """The generator of the newest GAN or warm-up weights in ``run_dir`` (a finished stage's
    or the last epoch checkpoint of one a time budget stopped).

    Raises:
        TrainingError: the run holds no generator weights yet.
    """
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.gan import LipMotionGAN
    from lipmotion_tf.train.runner import zero_batch

    run_dir = Path(run_dir)
    for stage in ("gan", "warmup"):
        candidates = [*(run_dir / "checkpoints").glob(f"{stage}-epoch*.weights.h5"),
                      run_dir / f"{stage}.weights.h5"]
        candidates = sorted((p for p in candidates if p.is_file()),
                            key=lambda p: p.stat().st_mtime)  # the newest last
        if candidates:
            networks = build_networks(config)
            gan = LipMotionGAN(**networks, discriminator_streams=config.model.discriminator_streams)
            gan.build_from_batch(zero_batch(config))
            gan.load_weights(str(candidates[-1]))
            return networks["generator"]
    raise TrainingError(f"{run_dir}: no generator weights yet (the time ran out before the "
                        "first epoch ended)")


def load_checkpoint_or_run(path):
    """``(generator, config)`` of a generator checkpoint folder, or of a training run folder
    that holds no saved generator yet (its newest epoch checkpoint).

    Raises:
        InputError: a missing or unusable checkpoint.
        TrainingError: a run without any generator weights yet.
    """
    from lipmotion_tf.generate.checkpoint import (
        KERAS_NAME,
        WEIGHTS_NAME,
        checkpoint_config,
        load_generator,
    )

    path = Path(path)
    saved = (path / KERAS_NAME).is_file() or (path / WEIGHTS_NAME).is_file()
    if not path.is_dir() or saved or not (path / "checkpoints").is_dir():
        return load_generator(path)
    config = checkpoint_config(path)
    return latest_generator(config, path), config
