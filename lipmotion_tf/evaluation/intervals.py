"""Bootstrap intervals over clips: how far a summary could move on other clips of its kind.

A kept-out set of 7 or 40 clips gives figures that another 7 or 40 clips of the same people
and recordings would move by a few hundredths, as much as many a change of model does. The
clips are drawn again with replacement (the measures of one clip stay together) and the
summary recomputed; the central 95% of the redrawn summaries is the interval. Fixed seed:
the same clips give the same interval.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Redrawn sets of clips per interval.
DRAWS = 2000
#: The share of the redrawn summaries an interval holds.
LEVEL = 0.95


def bootstrap_interval(statistic, *columns, draws: int = DRAWS, level: float = LEVEL,
                       seed: int = 0) -> list[float]:
    """``[low, high]`` of ``statistic`` over clips drawn again with replacement.

    Args:
        statistic: takes one ``(draws, n)`` array per column (each row a redrawn set of the
            ``n`` clips) and returns the ``(draws,)`` summaries, e.g.
            ``lambda a: np.nanmean(a, axis=1)``.
        *columns: per-clip values, ``n`` each, in the same clip order.
        draws: redrawn sets.
        level: the central share of the summaries the interval holds.
        seed: of the redrawing.

    Returns:
        ``[low, high]``; ``[nan, nan]`` without clips or where every summary is NaN.
    """
    columns = [np.asarray(c, dtype=np.float64) for c in columns]
    count = len(columns[0]) if columns else 0
    if count == 0 or any(len(c) != count for c in columns):
        return [float("nan"), float("nan")]
    rows = np.random.default_rng(seed).integers(0, count, size=(draws, count))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # A redrawn set of NaN clips only (a clip without a face) has no summary: left out.
        warnings.simplefilter("ignore", RuntimeWarning)
        values = np.asarray(statistic(*(c[rows] for c in columns)), dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [float("nan"), float("nan")]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return [float(low), float(high)]


def mean_of(a):
    """Each redrawn set's mean."""
    return np.nanmean(a, axis=1)


def median_of(a):
    """Each redrawn set's median."""
    return np.nanmedian(a, axis=1)


def ratio_of_means(a, b):
    """Each redrawn set's mean of ``a`` over its mean of ``b`` (LMD against the static
    baseline's)."""
    return np.nanmean(a, axis=1) / np.nanmean(b, axis=1)


def format_interval(interval, digits: int = 2) -> str:
    """``"0.81 to 0.87"``; ``"-"`` where it is unknown."""
    low, high = interval
    if not (np.isfinite(low) and np.isfinite(high)):
        return "-"
    return f"{low:.{digits}f} to {high:.{digits}f}"


def format_intervals(intervals: dict, labels: dict) -> str:
    """``"sync 0.779 to 0.866, ..."``: each ``labels`` key's interval of ``intervals``
    (``{key: (name, digits)}``, in that order; keys ``intervals`` lacks are left out)."""
    return ", ".join(f"{name} {format_interval(intervals[key], digits)}"
                     for key, (name, digits) in labels.items() if key in intervals)
