"""What every ``keras fit`` run of the motion-first models shares: a run folder that keeps one
configuration, and the callbacks that make it resumable and logged.

The motion model, the sync expert and the mouth interior each write ``config.yaml``,
``checkpoints/epochNNN.weights.h5``, ``backup/`` (``BackupAndRestore``), a CSV log and
TensorBoard logs, and stop at an epoch end once a ``--time-budget`` is spent.
"""

from __future__ import annotations

import time
from pathlib import Path


def check_run_config(output_dir: Path, config, config_class) -> None:
    """Refuses a run folder whose ``config.yaml`` holds another configuration (running the
    same command again resumes; a changed one needs a new folder).

    Raises:
        ConfigError: the saved configuration differs from ``config``.
    """
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError

    saved = Path(output_dir) / "config.yaml"
    if saved.is_file():
        earlier = load_config(saved, config_class=config_class)
        if earlier.to_dict() != config.to_dict():
            raise ConfigError(f"{output_dir} holds a run with another configuration; "
                              "use a new --output folder")


def run_callbacks(output_dir: Path, log_name: str, time_budget: float | None = None,
                  extra=()) -> tuple[list, Path]:
    """The callbacks of a run in ``output_dir`` and its checkpoint folder (created):
    ``TerminateOnNaN``, then ``extra`` (validation measures that add to the logs, in order),
    ``BackupAndRestore``, a weights file per epoch, the CSV log ``log_name`` and TensorBoard,
    and a :class:`~lipmotion_tf.train.time_budget.TimeBudget` for ``time_budget`` seconds."""
    import keras

    from lipmotion_tf.train.time_budget import TimeBudget

    output_dir = Path(output_dir)
    checkpoints = output_dir / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        *extra,
        keras.callbacks.BackupAndRestore(str(output_dir / "backup"), double_checkpoint=True),
        keras.callbacks.ModelCheckpoint(str(checkpoints / "epoch{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(str(output_dir / log_name), append=True),
        keras.callbacks.TensorBoard(str(output_dir / "logs"), write_graph=False),
    ]
    if time_budget is not None:
        callbacks.append(TimeBudget(time.monotonic() + time_budget))
    return callbacks, checkpoints


def save_config(config, path: str | Path) -> Path:
    """Writes a resolved configuration (any of the experiment dataclasses) as YAML,
    atomically."""
    import yaml

    from lipmotion_tf.output_files import write_atomically

    path = Path(path)
    with write_atomically(path) as temporary:
        temporary.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path
