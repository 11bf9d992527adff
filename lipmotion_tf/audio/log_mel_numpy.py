"""The log-mel spectrogram in numpy/librosa: the reference the in-graph layer is tested against.

It also serves code that runs without TensorFlow (Keras on JAX). Same definition as
:class:`~lipmotion_tf.audio.log_mel.LogMelSpectrogram`: periodic Hann window, power 2,
``center=True`` with **reflect** padding (librosa 0.11 defaults to zero padding; reflect is
chosen because it is what the authors' librosa version did and it converts to TFLite's
builtin MIRROR_PAD), librosa's Slaney mel filterbank, ``10 * log10(max(amin, S))`` with
ref 1.0 and no ``top_db`` clipping.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.config import AudioConfig


def log_mel_numpy(waveform: np.ndarray, config: AudioConfig) -> np.ndarray:
    """Log-mel spectrogram of a mono waveform with librosa.

    Args:
        waveform: ``(samples,)`` float waveform at ``config.sample_rate``; longer than
            ``config.n_fft // 2`` samples (reflect padding needs it).
        config: the audio front end settings.

    Returns:
        ``(1 + samples // hop_length, n_mels)`` float32 log-mel in dB.
    """
    import librosa

    power = librosa.feature.melspectrogram(
        y=np.asarray(waveform, np.float32),
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
    )
    log_mel = librosa.power_to_db(power, ref=1.0, amin=config.amin, top_db=None)
    return np.ascontiguousarray(log_mel.T, dtype=np.float32)
