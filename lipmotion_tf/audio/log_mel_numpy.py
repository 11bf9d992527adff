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


def stft_reach(config: AudioConfig) -> int:
    """Mel frames an STFT window reaches past a segment's border."""
    return -(-config.n_fft // (2 * config.hop_length)) + 1


def mel_frames(waveform: np.ndarray, first: int, last: int, config: AudioConfig,
               total: int | None = None, offset: int = 0) -> np.ndarray:
    """Mel frames ``[first, last)`` of a signal, each computed from the samples the
    whole-signal spectrogram gives it: the segment is taken with the few mel frames of
    neighbouring audio an STFT window reaches, which are then dropped (the signal's own
    ends are reflect-padded as there).

    Args:
        waveform: the signal's samples from sample ``offset`` on (a live buffer may have
            dropped its start), holding those neighbours.
        total: the signal's length in mel frames once it is known (its end then bounds the
            segment); None: the signal goes on past the segment.
    """
    hop, context = config.hop_length, stft_reach(config)
    start = max(0, first - context)
    stop = last + context if total is None else min(total, last + context)
    segment = waveform[start * hop - offset:stop * hop - offset]
    return log_mel_numpy(segment, config)[first - start:last - start]


def log_mel_of_frames(waveform: np.ndarray, frames: int, config: AudioConfig,
                      chunk_seconds: float = 60.0) -> np.ndarray:
    """:func:`log_mel_numpy` of ``waveform`` cut or zero-extended to ``frames`` video frames,
    ``(frames * mel_frames_per_frame, n_mels)``, computed a chunk at a time
    (:func:`mel_frames`), so a long recording never needs one huge STFT.
    """
    hop, m = config.hop_length, config.mel_frames_per_frame
    samples = frames * config.samples_per_frame
    waveform = np.asarray(waveform[:samples], np.float32)
    if waveform.size < samples:
        waveform = np.pad(waveform, (0, samples - waveform.size))
    total = frames * m
    per_chunk = max(1, int(chunk_seconds * config.sample_rate) // hop)
    out = np.empty((total, config.n_mels), np.float32)
    for first in range(0, total, per_chunk):
        last = min(total, first + per_chunk)
        out[first:last] = mel_frames(waveform, first, last, config, total)
    return out
