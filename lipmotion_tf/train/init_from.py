"""Starting a training run from the weights of an existing generator checkpoint."""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import ConfigError, InputError
from lipmotion_tf.models.factory import GENERATOR_CONFIG_KEYS


def check_init_checkpoint(path, config) -> None:
    """Refuses a checkpoint whose generator differs from ``config.model`` (before training).

    Raises:
        ConfigError: missing, unreadable, or another architecture (the key is named).
    """
    import yaml

    from lipmotion_tf.generate.checkpoint import CONFIG_NAME

    path = Path(path)
    config_file = (path if path.is_dir() else path.parent) / CONFIG_NAME
    if not config_file.is_file():
        raise ConfigError(f"--init-from {path}: no generator checkpoint there ({CONFIG_NAME} "
                          "missing)")
    try:
        stored = (yaml.safe_load(config_file.read_text()) or {}).get("model", {})
    except yaml.YAMLError as error:
        raise ConfigError(f"--init-from {path}: unreadable {CONFIG_NAME} ({error})") from None
    defaults = type(config.model)()
    for key in GENERATOR_CONFIG_KEYS.values():
        theirs = stored.get(key, getattr(defaults, key))
        ours = getattr(config.model, key)
        if theirs != ours:
            raise ConfigError(
                f"--init-from {path}: its generator has model.{key}={theirs} but this "
                f"configuration has {ours}"
            )


def load_generator_weights(generator, path) -> None:
    """Copies the weights of the checkpoint at ``path`` into ``generator``.

    Raises:
        ConfigError: the checkpoint cannot be loaded or its weights do not fit.
    """
    from lipmotion_tf.generate.checkpoint import load_generator

    try:
        source, _ = load_generator(path)
    except InputError as error:
        raise ConfigError(f"--init-from: {error}") from None
    weights = source.get_weights()
    expected = generator.get_weights()
    if len(weights) != len(expected) or any(w.shape != e.shape for w, e in zip(weights, expected)):
        raise ConfigError(f"--init-from {path}: its weights do not fit this generator")
    generator.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
