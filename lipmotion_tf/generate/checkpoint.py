"""Finding and loading a trained generator with the configuration it was trained with.

A generator checkpoint is a folder holding ``config.yaml`` (the resolved experiment config)
and either ``generator.keras`` (a full Keras save) or ``generator_weights.npz`` (the weights
alone, possibly float16, as the shipped demonstration model). A training run's output folder
is such a folder. A lone ``.keras`` file with a ``config.yaml`` beside it works too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

CONFIG_NAME = "config.yaml"
KERAS_NAME = "generator.keras"
WEIGHTS_NAME = "generator_weights.npz"


def demo_checkpoint() -> Path:
    """The demonstration model shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "assets" / "demo"


def _config_path(path: Path) -> Path:
    folder = path if path.is_dir() else path.parent
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise InputError(f"checkpoint {path} has no {CONFIG_NAME} beside it")
    return config


def load_generator(path: str | Path | None = None):
    """Loads ``(generator, config)`` from a checkpoint (default: the demonstration model).

    Raises:
        InputError: the path is missing or is not a generator checkpoint, or its weights do
            not match its configuration.
    """
    import yaml

    from lipmotion_tf.config import config_from_dict
    from lipmotion_tf.errors import ConfigError

    path = Path(path) if path is not None else demo_checkpoint()
    if not path.exists():
        raise InputError(f"checkpoint not found: {path}")
    try:
        config = config_from_dict(yaml.safe_load(_config_path(path).read_text()) or {})
    except (ConfigError, yaml.YAMLError) as error:
        raise InputError(f"checkpoint {path}: unusable {CONFIG_NAME} ({error})") from None

    keras_file = path if path.suffix == ".keras" else path / KERAS_NAME
    weights_file = path / WEIGHTS_NAME if path.is_dir() else None
    if keras_file.is_file():
        import keras

        import lipmotion_tf.models  # noqa: F401  (registers the serializable classes)

        try:
            model = keras.saving.load_model(keras_file, compile=False)
        except (ValueError, OSError, TypeError) as error:
            raise InputError(f"cannot load {keras_file}: {error}") from None
        return model, config
    if weights_file is not None and weights_file.is_file():
        return _generator_from_npz(weights_file, config), config
    raise InputError(f"{path} holds neither {KERAS_NAME} nor {WEIGHTS_NAME}")


def _generator_from_npz(weights_file: Path, config):
    from lipmotion_tf.models.factory import build_generator

    generator = build_generator(config)
    with np.load(weights_file) as stored:
        weights = [stored[f"w{i:04d}"] for i in range(len(stored.files))]
    expected = generator.get_weights()
    if len(weights) != len(expected) or any(
        w.shape != e.shape for w, e in zip(weights, expected)
    ):
        raise InputError(f"{weights_file} does not match the generator its config describes")
    generator.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
    return generator


def save_generator_npz(generator, config, folder: str | Path, dtype: str = "float16") -> Path:
    """Writes a compact checkpoint folder: ``config.yaml`` + weights as ``dtype``."""
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {f"w{i:04d}": w.astype(dtype) for i, w in enumerate(generator.get_weights())}
    np.savez_compressed(folder / WEIGHTS_NAME, **weights)
    (folder / CONFIG_NAME).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return folder
