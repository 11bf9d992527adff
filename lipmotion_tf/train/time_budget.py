"""Stops a training stage at an epoch end when the next epoch would overrun a deadline."""

from __future__ import annotations

import re
import time

import keras


class BudgetReached(Exception):
    """Raised out of ``fit`` at the budget; ``epoch`` is the last epoch finished (0-based).

    An exception rather than ``stop_training`` so that ``BackupAndRestore`` keeps its backup
    (it deletes it when training ends normally) and the stage is not marked finished.
    """

    def __init__(self, epoch: int):
        super().__init__(f"time budget reached after epoch {epoch + 1}")
        self.epoch = epoch


class TimeBudget(keras.callbacks.Callback):
    """Raises :class:`BudgetReached` at the end of an epoch when another would not fit.

    Place it after ``BackupAndRestore`` (saving at epoch ends) so that the epoch just
    finished is backed up before the stop.

    Args:
        deadline: a ``time.monotonic()`` value.
    """

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = float(deadline)
        self._epoch_started = None
        self._longest = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if self._epoch_started is not None:
            self._longest = max(self._longest, now - self._epoch_started)
        last = epoch + 1 >= (self.params or {}).get("epochs", float("inf"))
        if now + self._longest > self.deadline and not last:  # a finished stage is kept
            raise BudgetReached(epoch)


def parse_duration(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"45s"``, ``"1h30m"`` or plain seconds -> seconds.

    Raises:
        ValueError: anything else, zero, negative or not finite.
    """
    value = str(text).strip().lower()
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError(f"not a duration: {text!r} (use e.g. 2h, 90m, 45s or 1h30m)")
        seconds = sum(float(n) * units[u] for n, u in parts)
    if not 0 < seconds < float("inf"):
        raise ValueError(f"the duration must be positive, got {text!r}")
    return seconds
