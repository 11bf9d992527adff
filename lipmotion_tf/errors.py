"""User-facing errors.

Every entry point turns a :class:`LipMotionError` into one line on stderr and a non-zero
exit code (see :mod:`lipmotion_tf.cli.main`); anything else is a bug and keeps its traceback.
"""


class LipMotionError(Exception):
    """A problem with the user's input or environment, reported as one clear line."""

    exit_code = 2


class InputError(LipMotionError):
    """A missing, unreadable, empty or malformed input file."""


class NoFaceError(InputError):
    """No face (or no mouth) could be found where one is required."""


class ConfigError(LipMotionError):
    """An experiment configuration with unknown keys or impossible values."""


class DataError(LipMotionError):
    """Prepared data that is missing, empty or inconsistent."""


class TrainingError(LipMotionError):
    """Training cannot go on (for example a non-finite loss)."""

    exit_code = 3
