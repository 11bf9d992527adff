"""Keeps only the newest epoch checkpoints of a stage."""

from __future__ import annotations

from pathlib import Path

import keras


class PruneCheckpoints(keras.callbacks.Callback):
    """Deletes all but the ``keep`` newest files matching ``pattern`` after every epoch.

    A full-size GAN checkpoint (all networks and four Adam states) is about 1.4 GB, so one
    file per epoch does not scale; each epoch still writes a new file before the oldest is
    removed, so an interrupted write never destroys the last complete checkpoint. Place it
    after ``ModelCheckpoint``.

    Args:
        directory: checkpoint folder.
        pattern: glob of the stage's checkpoints (names sort in epoch order).
        keep: files to keep (at least 1).
    """

    def __init__(self, directory, pattern: str, keep: int = 2):
        super().__init__()
        self.directory = Path(directory)
        self.pattern = pattern
        self.keep = max(1, int(keep))

    def on_epoch_end(self, epoch, logs=None):
        files = sorted(self.directory.glob(self.pattern))
        for path in files[: -self.keep]:
            path.unlink(missing_ok=True)
