"""The audio-video offset and the LSE-style measures from per-window embeddings.

The standard protocol of SyncNet-based measures: for every audio shift ``s`` in
``-K .. K`` frames, the mean distance between each mouth window ``i`` and the speech window
``i + s``; the **offset** is the shift with the least mean distance, **LSE-D** that least
distance, **LSE-C** the median of the mean distances minus the least (how clearly the best
shift stands out). A positive offset means the audio comes late: the speech of the mouth at
frame ``i`` is heard at frame ``i + offset``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Shifts searched each way (frames), as the standard protocol.
MAX_OFFSET = 15


@dataclasses.dataclass
class SyncScore:
    """The shift search of one video (or segment).

    Attributes:
        offset: the best audio shift in frames (positive: the audio comes late).
        lse_d: the mean distance at the best shift.
        lse_c: the median over shifts of the mean distance, minus the least.
        distances: ``(2K + 1,)`` mean distance per shift ``-K .. K``.
        windows: mouth windows judged.
    """

    offset: int
    lse_d: float
    lse_c: float
    distances: np.ndarray
    windows: int

    @property
    def shifts(self) -> np.ndarray:
        k = (len(self.distances) - 1) // 2
        return np.arange(-k, k + 1)


def shift_distances(speech: np.ndarray, mouth: np.ndarray, valid: np.ndarray | None = None,
                    max_offset: int = MAX_OFFSET) -> tuple[np.ndarray, int]:
    """Mean distance per shift ``-K .. K`` between mouth windows and shifted speech windows.

    Args:
        speech, mouth: ``(N, D)`` unit embeddings of the same video's windows.
        valid: ``(N,)`` mouth windows to judge (default all): windows over frames without a
            face are left out.
        max_offset: ``K``.

    Returns:
        ``(2K + 1,)`` distances (nan where a shift leaves no pair), and the windows judged.
    """
    n = len(mouth)
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    out = np.full(2 * max_offset + 1, np.nan)
    for j, shift in enumerate(range(-max_offset, max_offset + 1)):
        index = np.arange(max(0, -shift), min(n, n - shift))
        index = index[valid[index]]
        if index.size:
            out[j] = np.linalg.norm(mouth[index] - speech[index + shift], axis=-1).mean()
    return out, int(valid.sum())


def score_embeddings(speech: np.ndarray, mouth: np.ndarray, valid: np.ndarray | None = None,
                     max_offset: int = MAX_OFFSET) -> SyncScore:
    """The :class:`SyncScore` of a video's embeddings (see :func:`shift_distances`)."""
    distances, windows = shift_distances(speech, mouth, valid, max_offset)
    if not np.isfinite(distances).any():
        raise ValueError("no mouth window to judge")
    best = int(np.nanargmin(distances))
    least = float(distances[best])
    return SyncScore(offset=best - max_offset, lse_d=least,
                     lse_c=float(np.nanmedian(distances) - least), distances=distances,
                     windows=windows)


def window_validity(found: np.ndarray, window: int) -> np.ndarray:
    """``(T - window + 1,)``: windows whose every frame has a tracked face."""
    found = np.asarray(found, bool)
    if len(found) < window:
        return np.zeros(0, bool)
    missing = np.concatenate([[0], np.cumsum(~found)])
    return (missing[window:] - missing[:-window]) == 0


def delay_log_mel(log_mel: np.ndarray, frames: int, mel_frames_per_frame: int) -> np.ndarray:
    """``log_mel`` with the sound ``frames`` video frames late (early when negative), the gap
    filled with the recording's quietest level and the length kept, as an editor's audio
    offset would."""
    rows = abs(int(frames)) * mel_frames_per_frame
    if rows == 0:
        return log_mel
    rows = min(rows, len(log_mel))
    fill = np.broadcast_to(log_mel.min(axis=0), (rows, log_mel.shape[1]))
    if frames > 0:
        return np.concatenate([fill, log_mel[:len(log_mel) - rows]]).astype(log_mel.dtype)
    return np.concatenate([log_mel[rows:], fill]).astype(log_mel.dtype)
