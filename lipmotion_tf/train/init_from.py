"""Starting a training run from the weights of an existing generator checkpoint."""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import ConfigError, InputError, TrainingError
from lipmotion_tf.models.factory import GENERATOR_CONFIG_KEYS


def check_init_checkpoint(path, config) -> None:
    """Refuses a checkpoint whose generator differs from ``config.model`` (before training).

    Raises:
        ConfigError: missing, unreadable, or another architecture (the key is named).
    """
    from lipmotion_tf.config import read_yaml
    from lipmotion_tf.generate.checkpoint import CONFIG_NAME

    path = Path(path)
    config_file = (path if path.is_dir() else path.parent) / CONFIG_NAME
    if not config_file.is_file():
        raise ConfigError(f"--init-from {path}: no generator checkpoint there ({CONFIG_NAME} "
                          "missing)")
    try:
        content = read_yaml(config_file) or {}  # not UTF-8 or not YAML: names the file
    except ConfigError as error:
        raise ConfigError(f"--init-from: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("model") or {}, dict):
        raise ConfigError(f"--init-from: {config_file}: not an experiment config (expected a "
                          "mapping with a 'model' mapping)")
    stored = content.get("model") or {}
    defaults = type(config.model)()
    for key in GENERATOR_CONFIG_KEYS.values():
        theirs = stored.get(key, getattr(defaults, key))
        ours = getattr(config.model, key)
        if key == "generator_res_blocks" and theirs <= ours:
            continue  # a deeper generator: the extra blocks start as the identity
        if key in ("generator_attention_region", "generator_dead_zone"):
            continue  # where the mask may open, and its threshold, change no weight
        if key == "generator_warp_range" and theirs == 0:
            continue  # a warp added: its head starts with near-zero shifts
        if theirs != ours:
            raise ConfigError(
                f"--init-from {path}: its generator has model.{key}={theirs} but this "
                f"configuration has {ours}"
            )


def load_generator_weights(generator, path) -> None:
    """Copies the weights of the checkpoint at ``path`` into ``generator``.

    ``path`` may also be a training run stopped before it saved a generator: the newest
    epoch checkpoint is read. ``generator`` may have more residual blocks than the
    checkpoint: each extra block's last batch-norm scale starts at zero, so the block adds
    nothing and the grown generator computes what the checkpoint did until training uses the
    new capacity. Likewise a warp head the checkpoint lacks keeps its own near-zero start.

    Raises:
        ConfigError: the checkpoint cannot be loaded or its weights do not fit.
    """
    import keras

    from lipmotion_tf.train.run_generator import load_checkpoint_or_run

    try:
        source, _ = load_checkpoint_or_run(path)
    except (InputError, TrainingError) as error:
        raise ConfigError(f"--init-from: {error}") from None
    sources = {block.name: block for block in source.conv_blocks()}
    targets = generator.conv_blocks()
    missing = [block for block in targets if block.name not in sources]
    if len(targets) - len(missing) != len(sources) or any(
        not block.name.startswith(("decoder_res_block_", "decoder_motion")) for block in missing
    ):
        raise ConfigError(f"--init-from {path}: its weights do not fit this generator")
    for target in targets:
        if target.name not in sources:
            continue
        weights = sources[target.name].get_weights()
        expected = target.get_weights()
        if len(weights) != len(expected) or any(
            w.shape != e.shape for w, e in zip(weights, expected)
        ):
            raise ConfigError(f"--init-from {path}: its weights do not fit this generator")
        target.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
    for block in generator.decoder_blocks:
        if block.conv_2 in missing:
            block.conv_2.bn.gamma.assign(keras.ops.zeros_like(block.conv_2.bn.gamma))

