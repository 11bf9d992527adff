"""The checks every speech input passes before generation, whatever the entry point.

NaN or infinite samples make no sense to the model (black frames) and break the AAC
encoder, so they are refused here rather than discovered while writing the video. So are
finite samples far outside float speech's [-1, 1] (3.4e38 overflows the spectrogram into the
same black frames); samples a little past full scale are clipped, as the file reader clips
decoded speech, so that every entry point (the CLI, the Python API, the server) hands the
model the same values.
"""

from __future__ import annotations

import math

import numpy as np

from lipmotion_tf.errors import InputError

DEFAULT_MAX_DURATION = 900.0  # seconds; 15 minutes
#: Largest sample magnitude accepted: full scale is 1, a hot recording or a resampler may
#: pass it a little; far beyond, the values are not float speech (int16 samples not divided
#: by 32768, or garbage).
MAX_SAMPLE = 4.0


def check_max_duration(max_duration: float) -> float:
    """``max_duration`` as a float; infinity means no limit.

    Raises:
        InputError: it is not a number above zero (NaN included: it would switch the limit
            off, since every comparison with NaN is false).
    """
    try:
        value = float(max_duration)
    except (TypeError, ValueError):
        raise InputError(
            f"max duration must be a number of seconds, got {max_duration!r}") from None
    if math.isnan(value) or value <= 0:
        raise InputError(f"max duration must be a positive number of seconds, got {max_duration}")
    return value


class TooLongError(InputError):
    """Speech over the duration limit (a decoder that meets it stops, not tries another)."""


def too_long(source: str, duration: float, limit: float, at_least: bool = False) -> InputError:
    """The one wording of "this speech is over the duration limit" (``at_least``: decoding
    stopped after ``duration`` seconds, the whole is longer)."""
    return TooLongError(
        f"{source} lasts {'over ' if at_least else ''}{duration:.1f} s, more than the limit of "
        f"{limit:g} s (raise it with --max-duration, or max_duration in Python)")


def check_waveform(waveform, sample_rate: int, max_duration: float | None = None,
                   source: str = "the speech") -> np.ndarray:
    """Returns ``waveform`` as mono float32 after checking it can be used.

    Args:
        waveform: ``(samples,)`` speech.
        sample_rate: its rate in Hz.
        max_duration: longest accepted duration in seconds (None: no limit).
        source: how to name the speech in messages (a file name, for instance).

    Returns:
        the samples as float32, clipped to [-1, 1] (a copy only when some were outside).

    Raises:
        InputError: not mono, empty, non-finite samples or samples beyond
            :data:`MAX_SAMPLE`, a bad rate or limit, or too long.
    """
    waveform = np.asarray(waveform)
    if waveform.ndim != 1:
        raise InputError(f"{source} must be mono (samples,), got shape {waveform.shape}")
    if waveform.dtype.kind not in "fiu":
        raise InputError(f"{source} must hold numeric samples, got {waveform.dtype}")
    waveform = waveform.astype(np.float32, copy=False)
    if waveform.size == 0:
        raise InputError(f"{source} is empty")
    if not sample_rate or sample_rate <= 0:
        raise InputError(f"sample rate of {source} must be positive, got {sample_rate}")
    if not np.isfinite(waveform).all():
        bad = int(np.count_nonzero(~np.isfinite(waveform)))
        raise InputError(f"{source} has {bad} non-finite samples (NaN or infinity)")
    peak = max(float(waveform.max()), -float(waveform.min()))  # no temporary |x| array
    if peak > MAX_SAMPLE:
        raise InputError(f"{source} has samples up to {peak:.3g}, far outside float speech's "
                         "[-1, 1] (int16 samples are divided by 32768 first)")
    if peak > 1.0:
        waveform = np.clip(waveform, -1.0, 1.0)
    if max_duration is not None:
        limit = check_max_duration(max_duration)
        duration = waveform.size / sample_rate
        if duration > limit:
            raise too_long(source, duration, limit)
    return waveform
