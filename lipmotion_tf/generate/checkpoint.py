"""Finding and loading a trained generator with the configuration it was trained with.

A generator checkpoint is a folder holding ``config.yaml`` (the resolved experiment config)
and either ``generator.keras`` (a full Keras save) or ``generator_weights.npz`` (the weights
alone, possibly float16, as the shipped demonstration model; a large model's weights may be
split over ``generator_weights.npz``, ``generator_weights_2.npz``, ... so that no file passes
a size limit). A training run's output folder is such a folder. A lone ``.keras`` or
weights ``.npz`` file with a ``config.yaml`` beside it works too.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

CONFIG_NAME = "config.yaml"
KERAS_NAME = "generator.keras"
WEIGHTS_NAME = "generator_weights.npz"

# Packages and modules defining the custom Keras objects a saved generator may hold: the
# networks and every layer under them (deployment forms included), and the audio front end.
SERIALIZABLE_PACKAGES = ("lipmotion_tf.models",)
SERIALIZABLE_MODULES = ("lipmotion_tf.audio.log_mel",)

# What a damaged or foreign file raises while being opened or read (a zip archive inside).
_UNREADABLE = (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def demo_checkpoint() -> Path:
    """The demonstration model shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "assets" / "demo"


def _config_path(path: Path) -> Path:
    folder = path if path.is_dir() else path.parent
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise InputError(f"checkpoint {path} has no {CONFIG_NAME} beside it")
    return config


def checkpoint_config(path: str | Path | None = None):
    """The experiment configuration saved beside a checkpoint (or in a run folder; default:
    the demonstration model's).

    Raises:
        InputError: no ``config.yaml`` there, or one that cannot be used.
    """
    from lipmotion_tf.config import config_from_dict, read_yaml
    from lipmotion_tf.errors import ConfigError

    path = Path(path) if path is not None else demo_checkpoint()
    try:
        return config_from_dict(read_yaml(_config_path(path)) or {})
    except ConfigError as error:
        raise InputError(f"checkpoint {path}: unusable {CONFIG_NAME} ({error})") from None


def load_generator(path: str | Path | None = None):
    """Loads ``(generator, config)`` from a checkpoint (default: the demonstration model).

    Raises:
        InputError: the path is missing or is not a generator checkpoint, or its weights do
            not match its configuration.
    """
    path = Path(path) if path is not None else demo_checkpoint()
    if not path.exists():
        raise InputError(f"checkpoint not found: {path}")
    config = checkpoint_config(path)

    keras_file = path if path.suffix == ".keras" else path / KERAS_NAME
    weights_file = path if path.suffix == ".npz" else path / WEIGHTS_NAME
    if keras_file.is_file():
        import keras

        try:
            model = keras.saving.load_model(keras_file, custom_objects=custom_objects(),
                                            compile=False)
        except _UNREADABLE as error:
            raise InputError(f"cannot load {keras_file}: {_first_line(error)}") from None
        return model, config
    if weights_file.is_file():
        return _generator_from_npz(weights_file, config), config
    raise InputError(f"{path} holds neither {KERAS_NAME} nor {WEIGHTS_NAME}")


def custom_objects() -> dict:
    """``registered name -> object`` for every custom Keras class or function a saved generator
    may hold, to pass to ``keras.saving.load_model``.

    Built from the defining modules rather than taken from Keras's global registry: the
    packages import their classes lazily, so in a fresh process nothing may be registered yet.
    """
    import importlib
    import inspect
    import pkgutil

    import keras

    modules = [importlib.import_module(name) for name in SERIALIZABLE_MODULES]
    for package_name in SERIALIZABLE_PACKAGES:
        package = importlib.import_module(package_name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            modules.append(importlib.import_module(info.name))
    objects = {}
    for module in modules:
        for value in vars(module).values():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if defined_here and (inspect.isclass(value) or inspect.isfunction(value)):
                name = keras.saving.get_registered_name(value)
                if name != value.__name__:  # registered, under a package prefix
                    objects[name] = value
    return objects


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _weight_parts(weights_file: Path) -> list[Path]:
    """The weights file and the further parts of a split one, in order."""
    parts = [weights_file]
    while (part := weights_file.with_name(f"{weights_file.stem}_{len(parts) + 1}.npz")).is_file():
        parts.append(part)
    return parts


def _generator_from_npz(weights_file: Path, config):
    from lipmotion_tf.models.factory import build_generator

    try:
        stored = {}
        for part in _weight_parts(weights_file):
            with np.load(part) as content:
                stored.update({name: content[name] for name in content.files})
        weights = [stored[f"w{i:04d}"] for i in range(len(stored))]
    except _UNREADABLE as error:
        raise InputError(f"cannot read {weights_file}: not a complete generator weights file "
                         f"({_first_line(error)})") from None
    generator = build_generator(config)
    expected = generator.get_weights()
    if len(weights) != len(expected) or any(
        w.shape != e.shape for w, e in zip(weights, expected)
    ):
        raise InputError(f"{weights_file} does not match the generator its config describes")
    generator.set_weights([w.astype(e.dtype) for w, e in zip(weights, expected)])
    return generator


def save_generator_npz(generator, config, folder: str | Path, dtype: str = "float16",
                       max_part_mib: float | None = None) -> list[Path]:
    """Writes a compact checkpoint folder: ``config.yaml`` + weights as ``dtype``.

    Args:
        max_part_mib: split the weights over several files of at most about this size
            (before compression; one array is never split); ``None``: one file.

    Returns:
        The weights files written, in order.
    """
    import yaml

    from lipmotion_tf.output_files import write_atomically

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    limit = float("inf") if max_part_mib is None else max_part_mib * (1 << 20)
    parts, size = [{}], 0
    for i, w in enumerate(generator.get_weights()):
        w = w.astype(dtype)
        if parts[-1] and size + w.nbytes > limit:
            parts.append({})
            size = 0
        parts[-1][f"w{i:04d}"] = w
        size += w.nbytes
    for stale in _weight_parts(folder / WEIGHTS_NAME)[len(parts):]:
        stale.unlink()
    written = []
    for index, arrays in enumerate(parts):
        name = WEIGHTS_NAME if index == 0 else f"{Path(WEIGHTS_NAME).stem}_{index + 1}.npz"
        with write_atomically(folder / name, verify=_check_npz) as temporary:
            np.savez_compressed(temporary, **arrays)
        written.append(folder / name)
    with write_atomically(folder / CONFIG_NAME) as temporary:
        temporary.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return written


def _check_npz(path: Path) -> None:
    """Reads every array back, so a full disk cannot leave a truncated archive behind."""
    try:
        with np.load(path) as stored:
            for name in stored.files:
                stored[name]
    except _UNREADABLE as error:
        raise InputError(f"cannot write {path}: {_first_line(error)}") from None
