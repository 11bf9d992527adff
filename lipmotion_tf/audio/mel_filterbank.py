"""The mel filterbank shared by the in-graph and the numpy log-mel."""

from __future__ import annotations

import numpy as np


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """librosa's default (Slaney-scale, Slaney-normalised) mel matrix, transposed.

    TensorFlow's ``tf.signal.linear_to_mel_weight_matrix`` is HTK-style and unnormalised
    (up to 115 dB away from librosa), so the matrix is taken from librosa once and kept as a
    constant.

    Returns:
        ``(n_fft // 2 + 1, n_mels)`` float32: power spectrum (row vector) times this matrix
        gives the mel energies.
    """
    import librosa

    weights = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32
    )
    return np.ascontiguousarray(weights.T)


def mel_centres(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """The centre frequency (Hz) of each band of :func:`mel_filterbank` (Slaney scale)."""
    import librosa

    return librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]
