"""Export a generator as a TensorFlow Serving model version: ``MODEL_BASE/<version>/``.

The folder holds ``saved_model.pb``, ``variables/``, ``assets/``,
``assets.extra/tf_serving_warmup_requests`` and ``assets.extra/lipmotion_config.yaml`` (the
experiment config, which ``lipmotion serve`` uses), written through ``keras.export.ExportArchive``
with the signatures of :class:`~lipmotion_tf.export.serving_functions.ServingFunctions`
(``serving_default``, ``generate_window``, ``log_mel``) for the paper model, or of
:class:`~lipmotion_tf.export.motion_functions.MotionServingFunctions` (``serving_default``,
``motion``, ``render``, ``log_mel``) for the motion model. TensorFlow Serving
(``--model_base_path=MODEL_BASE``) and ``lipmotion serve`` load the highest version number.

A version is written to a hidden temporary folder beside it and renamed into place when
complete, so a server polling ``MODEL_BASE`` never sees half a model, and a failed export
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from lipmotion_tf.errors import InputError
from lipmotion_tf.output_files import folder_mode

SAVED_MODEL_FILE = "saved_model.pb"
# The experiment config beside the model, in assets.extra (TF Serving ignores it).
SERVING_CONFIG_FILE = "lipmotion_config.yaml"


def model_versions(model_base: str | Path) -> list[int]:
    """The version numbers under ``model_base`` that hold a SavedModel, ascending."""
    base = Path(model_base)
    if not base.is_dir():
        return []
    return sorted(
        int(child.name) for child in base.iterdir()
        if child.name.isdigit() and (child / SAVED_MODEL_FILE).is_file()
    )


def latest_version_dir(model_base: str | Path) -> Path:
    """The folder of the newest version under ``model_base``.

    Raises:
        InputError: no such folder, or no version in it.
    """
    base = Path(model_base)
    if not base.is_dir():
        raise InputError(f"model base path not found: {base}")
    versions = model_versions(base)
    if not versions:
        raise InputError(
            f"{base} holds no model version (expected {base}/<number>/{SAVED_MODEL_FILE})"
        )
    return base / str(versions[-1])


def export_saved_model(
    generator,
    config,
    model_base: str | Path,
    version: int | None = None,
    overwrite: bool = False,
    model_name: str = "lipmotion",
    batch_size: int = 8,
    conv2d: bool = False,
) -> Path:
    """Writes ``model_base/<version>/`` for TensorFlow Serving.

    Args:
        generator: a built :class:`~lipmotion_tf.models.generator.LipGenerator`.
        config: the experiment it was trained with.
        model_base: the model's base folder (TF Serving's ``--model_base_path``).
        version: version number; default one more than the highest present (1 if none).
        overwrite: replace an existing version folder.
        model_name: the model name written into the warm-up requests.
        batch_size: windows per generator call inside ``serving_default``.
        conv2d: export the graph whose 3-D convolutions run as 2-D ones (same weights;
            see :meth:`~lipmotion_tf.models.generator.LipGenerator.deployment_copy`).
            Off by default: TensorFlow's CPU Conv3D is as fast (benchmarks/export_latency.py),
            and the Conv3D graph is the trained one, equal to Keras to the last bit.

    Returns:
        The version folder.

    Raises:
        InputError: a bad version number, an existing version without ``overwrite``, or a
            ``model_base`` that cannot be created or written.
    """
    from lipmotion_tf.export.serving_functions import ServingFunctions
    from lipmotion_tf.export.warmup import warmup_inputs

    target = resolve_version_dir(model_base, version, overwrite)
    functions = ServingFunctions(generator.deployment_copy() if conv2d else generator, config,
                                 batch_size=batch_size)
    return write_version(functions.tf_functions(), config, model_base, target, model_name,
                         warmup_inputs(config))


def export_motion_saved_model(
    generator,
    config,
    model_base: str | Path,
    version: int | None = None,
    overwrite: bool = False,
    model_name: str = "lipmotion",
    batch_size: int = 8,
    interior=None,
) -> Path:
    """Writes ``model_base/<version>/`` for TensorFlow Serving from a motion model, with the
    signatures of :class:`~lipmotion_tf.export.motion_functions.MotionServingFunctions`
    (``serving_default``, ``motion``, ``render``, ``log_mel``).

    Args:
        generator: a built :class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`.
        config: its :class:`~lipmotion_tf.motion.config.MotionExperimentConfig`.
        batch_size: frames per renderer call inside ``serving_default``.
        interior: the renderer's learned mouth interior, or None (drawn).
        The others: as :func:`export_saved_model`.

    Raises:
        InputError: as :func:`export_saved_model`.
    """
    from lipmotion_tf.export.motion_functions import MotionServingFunctions
    from lipmotion_tf.export.warmup import motion_warmup_inputs

    target = resolve_version_dir(model_base, version, overwrite)
    functions = MotionServingFunctions(generator, config, batch_size=batch_size,
                                       interior=interior)
    return write_version(functions.tf_functions(), config, model_base, target, model_name,
                         motion_warmup_inputs(config, functions.grid_size))


def write_version(functions: dict, config, model_base: str | Path, target: Path,
                  model_name: str, warmup: dict) -> Path:
    """Writes the ``tf.function`` s ``{signature: function}`` as the version folder
    ``target``, with warm-up requests (``{signature: {input: array}}``) and the experiment
    config, staged beside it and renamed into place when complete."""
    import keras

    from lipmotion_tf.export.warmup import warmup_path, write_warmup_requests

    base = Path(model_base)
    archive = keras.export.ExportArchive()
    # No archive.track(generator): the endpoints capture the variables, and tracking them as
    # well stores every weight twice (keras-team/keras#23553).
    for name, function in functions.items():
        archive.add_endpoint(name, function)

    created = _make_folders(base)
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=base))
        # mkdtemp makes it private; a new folder's mode under the umask (a model server may
        # run as another user)
        os.chmod(staging, folder_mode())
        archive.write_out(str(staging), verbose=False)
        write_warmup_requests(warmup_path(staging), model_name, warmup)
        write_serving_config(staging, config)
        _move_into_place(staging, target)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):  # a failed export leaves no empty model base behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return target


def write_serving_config(version_dir: str | Path, config) -> Path:
    """Writes the experiment config beside the model (``assets.extra/lipmotion_config.yaml``).

    ``lipmotion serve`` reads it to compute ``serving_default`` a batch of windows at a time,
    so that a deadline or a stopping server can interrupt it; TF Serving ignores it.
    """
    import yaml

    from lipmotion_tf.export.warmup import WARMUP_DIR

    path = Path(version_dir) / WARMUP_DIR / SERVING_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path


def _make_folders(folder: Path) -> list[Path]:
    """Creates ``folder`` and its missing parents; returns those created, outermost first."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create {folder}: {error.strerror or error}") from None
    return missing


def resolve_version_dir(model_base: str | Path, version: int | None = None,
                        overwrite: bool = False) -> Path:
    """The folder the export will write, checked before any slow work.

    Creates nothing (the export creates ``model_base`` when it writes, so a failed run leaves
    no empty folder). ``version=None`` means one more than the highest version present (1 if
    none).

    Raises:
        InputError: ``model_base`` is a file or cannot be created or written, the version is
            not a positive whole number, or it exists and ``overwrite`` is false.
    """
    base = Path(model_base)
    if base.exists() and not base.is_dir():
        raise InputError(f"model base path {base} exists and is not a folder")
    existing = next(f for f in (base.absolute(), *base.absolute().parents) if f.exists())
    if not existing.is_dir():
        raise InputError(f"cannot create {base}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {existing}: permission denied")
    if version is None:
        versions = model_versions(base)
        version = versions[-1] + 1 if versions else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"version must be a positive whole number, got {version!r}")
    target = base / str(version)
    if target.exists() and not overwrite:
        raise InputError(
            f"{target} already exists (pass --overwrite to replace it, or choose another --version)"
        )
    return target


def _move_into_place(staging: Path, target: Path) -> None:
    """Renames the finished export to ``target``, replacing an old one only once it is done."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
