"""Stops training at the first non-finite loss, naming the last good checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.errors import TrainingError


class NaNGuard(keras.callbacks.Callback):
    """Raises :class:`~lipmotion_tf.errors.TrainingError` when a logged loss is NaN or inf.

    The check runs after every batch (and on the epoch's validation logs). Place this
    callback before ``BackupAndRestore`` and ``ModelCheckpoint`` so that the non-finite
    weights are never written over the last good state: the error names the newest
    checkpoint matching ``checkpoint_glob`` (or the backup file when no epoch has finished).

    Args:
        checkpoint_dir: folder of the stage's epoch checkpoints.
        checkpoint_glob: pattern of those checkpoints inside ``checkpoint_dir``.
        backup_file: the ``BackupAndRestore`` weights file of the stage.
    """

    def __init__(self, checkpoint_dir, checkpoint_glob: str, backup_file=None):
        super().__init__()
        self.checkpoint_dir = Path(checkpoint_dir)
        self.checkpoint_glob = checkpoint_glob
        self.backup_file = Path(backup_file) if backup_file else None
        self._epoch = 0

    def last_good_checkpoint(self) -> str:
        """The newest checkpoint written so far, or ``"none"``."""
        candidates = sorted(
            self.checkpoint_dir.glob(self.checkpoint_glob), key=lambda p: p.stat().st_mtime
        )
        if candidates:
            return str(candidates[-1])
        if self.backup_file is not None and self.backup_file.is_file():
            return str(self.backup_file)
        return "none (no checkpoint written yet)"

    @staticmethod
    def _bad_keys(logs) -> list[str]:
        bad = []
        for key, value in (logs or {}).items():
            try:
                number = float(np.asarray(value))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(number):
                bad.append(key)
        return bad

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _fail(self, where: str, keys: list[str]) -> None:
        self.model.stop_training = True
        raise TrainingError(
            f"loss became NaN at {where} ({', '.join(sorted(keys))}); "
            f"last good checkpoint: {self.last_good_checkpoint()}"
        )

    def on_train_batch_end(self, batch, logs=None):
        keys = self._bad_keys(logs)
        if keys:
            self._fail(f"epoch {self._epoch + 1} step {batch + 1}", keys)

    def on_epoch_end(self, epoch, logs=None):
        keys = self._bad_keys(logs)
        if keys:
            self._fail(f"the end of epoch {epoch + 1}", keys)
