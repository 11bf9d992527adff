"""The range of every number option of every command, checked in one place before a command
does any work (:func:`check_number_options`, called by :func:`lipmotion_tf.cli.main.main`).

A value out of range is one line and exit code 2, never a traceback, a hang or memory spent
on it: ``--ease-in 100000000`` once allocated 3.5 GB, ``--size`` had no upper bound, NaN
passed every ``<`` check. The library checks what its own callers may pass as well; this
table is what the command line admits, and ``tests/test_hostile_inputs.py`` checks that every
number option of every command is in it.
"""

from __future__ import annotations

import dataclasses
import math

from lipmotion_tf.config import MAX_EASE_IN, MAX_SEED
from lipmotion_tf.errors import InputError
from lipmotion_tf.video.image_io import MAX_OUTPUT_SIZE, MAX_PHOTO_SIZE, MIN_IMAGE_SIZE

#: Largest model version TF Serving can load (versions are int64).
MAX_VERSION = 2**63 - 1
#: Whole MiB below gRPC's largest message (2 GiB less a byte; serve checks it exactly).
GRPC_LARGEST_MB = 2047


@dataclasses.dataclass(frozen=True)
class Bound:
    """``low <= value <= high`` (``low < value`` when ``above``); ``inf`` admitted when
    ``inf_ok`` (a limit switched off); NaN never."""

    option: str
    low: float
    high: float
    above: bool = False
    inf_ok: bool = False
    note: str = ""

    def describe(self, integer: bool) -> str:
        kind = "a whole number" if integer else "a number"
        if self.above:
            text = f"{kind} above {self.low:g} and at most {self.high:g}"
        else:
            text = f"{kind} from {self.low:g} to {self.high:g}"
        if self.inf_ok:
            text += " (inf: no limit)"
        return text + (f"; {self.note}" if self.note else "")

    def check(self, value) -> None:
        integer = isinstance(value, int)
        number = float(value) if integer else value
        if self.inf_ok and number == math.inf:
            return
        low_ok = number > self.low if self.above else number >= self.low
        if not (low_ok and number <= self.high):  # NaN fails both
            raise InputError(f"{self.option} must be {self.describe(integer)}, got {value}")


#: By argparse ``dest``; an option of the same name means the same in every command.
BOUNDS = {
    # generate, dub
    "batch_size": Bound("--batch-size", 1, 1024),
    "max_duration": Bound("--max-duration", 0, 7 * 24 * 3600, above=True, inf_ok=True),
    "ease_in": Bound("--ease-in", 0, MAX_EASE_IN),
    "size": Bound("--size", MIN_IMAGE_SIZE, MAX_OUTPUT_SIZE),
    "max_size": Bound("--max-size", 0, MAX_PHOTO_SIZE, note="0 keeps the photo's size"),
    "identity_frame": Bound("--identity-frame", 0, 10**8),
    "expressiveness": Bound("--expressiveness", 0.2, 5.0),
    # adapt
    "minutes": Bound("--minutes", 0, 7 * 24 * 60, above=True),
    "holdout": Bound("--holdout", 0, 0.95, above=True),
    "learning_rate": Bound("--learning-rate", 0, 1, above=True),
    "max_steps": Bound("--max-steps", 1, 10**9),
    # prepare, prepare-motion, evaluate, pack
    "workers": Bound("--workers", 1, 256),
    "limit": Bound("--limit", 1, 10**9),
    "shard_size": Bound("--shard-size", 1, 100_000),
    "examples": Bound("--examples", 0, 100),
    "max_mib": Bound("--max-mib", 0, 1 << 20, above=True),
    "quality": Bound("--quality", 1, 100),
    # prepare-interior
    "frames_per_clip": Bound("--frames-per-clip", 1, 1000),
    "box_size": Bound("--box-size", 32, 512),
    "seed": Bound("--seed", 0, MAX_SEED),
    # prepare-joint
    "window": Bound("--window", 2, 250),
    "crop_size": Bound("--crop-size", 64, 512),
    "image_size": Bound("--image-size", 16, 256),
    # export
    "version": Bound("--version", 1, MAX_VERSION, note="TF Serving's int64"),
    "calibration_windows": Bound("--calibration-windows", 1, 100_000),
    "average": Bound("--average", 1, 1000),
    "mix_weight": Bound("--mix-weight", 0, 1),
    # serve
    "port": Bound("--port", 0, 65535),
    "max_concurrent": Bound("--max-concurrent", 1, 1024),
    "max_queue": Bound("--max-queue", 0, 100_000),
    "max_request_mb": Bound("--max-request-mb", 0, GRPC_LARGEST_MB, above=True,
                            note="gRPC's largest message"),
    "max_response_mb": Bound("--max-response-mb", 0, GRPC_LARGEST_MB - 1, above=True,
                             note="gRPC's largest message, less its own fields"),
    "max_windows": Bound("--max-windows", 1, 100_000),
    "grace_period": Bound("--grace-period", 0, 3600),
}


def check_number_options(args) -> None:
    """Checks every number option the parsed ``args`` hold against :data:`BOUNDS` (options
    left at None, meaning "not given", are skipped).

    Raises:
        InputError: the first value out of its range, naming the option and the range.
    """
    for dest, bound in BOUNDS.items():
        value = getattr(args, dest, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bound.check(value)
