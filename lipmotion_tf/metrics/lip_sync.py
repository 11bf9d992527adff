"""A lip-sync measure from mouth openings: how well, and with what delay, generated lips follow real ones.

Not in the paper (LMD compares shapes frame by frame and cannot tell a late mouth from a
wrong one). Here the mouth opening of every frame (inner-lip gap over mouth width, see
:func:`lipmotion_tf.video.face_mesh.mouth_opening`) forms a time series for the generated and
for the real clip, and their Pearson correlation is measured at a range of time shifts: a
well-synchronised model correlates best at lag 0, a late one at a positive lag.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lipmotion_tf.errors import InputError

MIN_OVERLAP = 3  # fewest valid frame pairs for a correlation at one lag


class SyncResult(NamedTuple):
    """Outcome of :func:`sync_correlation`.

    Attributes:
        best_corr: the highest Pearson correlation over the lags tried (NaN if none is defined).
        best_lag: the lag in frames where it occurs (see :func:`sync_correlation` for the sign).
        corr_at_zero: the correlation without any shift.
    """

    best_corr: float
    best_lag: int
    corr_at_zero: float


def mouth_opening_series(landmarks: np.ndarray) -> np.ndarray:
    """Mouth opening of every frame, with the face mesh module's definition.

    Args:
        landmarks: ``(T, 40, 2)`` lip landmarks (ordered as ``LIP_INDICES``) or
            ``(T, 468, 2)`` face landmarks; frames that hold NaN (not found) give NaN.

    Returns:
        ``(T,)`` float64 openings: inner-lip gap over mouth width, 0 when closed.

    Raises:
        InputError: another shape.
    """
    from lipmotion_tf.video.face_mesh import LIP_INDICES, NUM_LANDMARKS, mouth_opening

    array = np.asarray(landmarks, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] != 2 or not (
        array.shape[1] == len(LIP_INDICES) or array.shape[1] >= NUM_LANDMARKS
    ):
        raise InputError(
            f"landmarks: expected (T, {len(LIP_INDICES)}, 2) lip or (T, {NUM_LANDMARKS}, 2) face landmarks, "
            f"got shape {array.shape}"
        )
    if array.shape[0] == 0:
        return np.zeros((0,), dtype=np.float64)
    openings = np.asarray(mouth_opening(array), dtype=np.float64).reshape(array.shape[0])
    missing = ~np.all(np.isfinite(array), axis=(1, 2))
    openings[missing] = np.nan
    return openings


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    valid = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(valid) < MIN_OVERLAP:
        return float("nan")
    x, y = x[valid], y[valid]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")  # a constant series has no correlation
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.clip(np.dot(x, y) / denominator, -1.0, 1.0))


def lagged_correlations(
    opening_generated: np.ndarray, opening_real: np.ndarray, max_lag: int = 5
) -> dict[int, float]:
    """Pearson correlation of the two series at every lag in ``-max_lag..max_lag``.

    See :func:`sync_correlation` for the inputs and the sign of the lag.

    Returns:
        ``{lag: correlation}``; NaN where fewer than 3 frame pairs overlap or a series is
        constant over the overlap.
    """
    generated = np.asarray(opening_generated, dtype=np.float64)
    real = np.asarray(opening_real, dtype=np.float64)
    if generated.ndim != 1 or real.ndim != 1:
        raise InputError(f"mouth openings must be 1-D series, got shapes {generated.shape} and {real.shape}")
    if generated.shape != real.shape:
        raise InputError(f"mouth opening series differ in length: {generated.size} vs {real.size}")
    if isinstance(max_lag, bool) or int(max_lag) != max_lag or max_lag < 0:
        raise InputError(f"max_lag must be a non-negative integer, got {max_lag!r}")
    length = generated.size
    correlations = {}
    for lag in range(-int(max_lag), int(max_lag) + 1):
        # generated[t] is compared with real[t - lag]
        if lag >= 0:
            pair = generated[lag:], real[: length - lag]
        else:
            pair = generated[: length + lag], real[-lag:]
        correlations[lag] = _pearson(*pair) if abs(lag) < length else float("nan")
    return correlations


def sync_correlation(opening_generated: np.ndarray, opening_real: np.ndarray, max_lag: int = 5) -> SyncResult:
    """Best correlation between generated and real mouth openings over time shifts.

    Sign of the lag: at lag ``L`` the generated frame ``t`` is paired with the real frame
    ``t - L``. A positive best lag means the generated mouth moves ``L`` frames *after* the
    real one (the generated video is late; at 25 fps, 40 ms a frame); a negative lag means it
    moves early. Frames where either series is NaN are left out of each correlation.

    Args:
        opening_generated: ``(T,)`` mouth openings of the generated frames
            (:func:`mouth_opening_series`).
        opening_real: ``(T,)`` mouth openings of the real frames, on the same time base.
        max_lag: largest shift tried, in frames, both ways.

    Returns:
        A :class:`SyncResult` ``(best_corr, best_lag, corr_at_zero)``. Among equal
        correlations the smallest ``|lag|`` wins (then the negative one). When no lag gives a
        defined correlation (constant or too short series), ``(nan, 0, nan)``.

    Raises:
        InputError: series that are not 1-D or differ in length, or a negative ``max_lag``.
    """
    correlations = lagged_correlations(opening_generated, opening_real, max_lag)
    best_lag = 0
    best_corr = float("nan")
    for lag in sorted(correlations, key=lambda value: (abs(value), value)):
        corr = correlations[lag]
        if np.isfinite(corr) and (np.isnan(best_corr) or corr > best_corr):
            best_lag, best_corr = lag, corr
    return SyncResult(best_corr=best_corr, best_lag=best_lag, corr_at_zero=correlations[0])
