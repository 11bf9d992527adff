"""In-graph log-mel spectrogram: the audio front end of the input pipeline and of the exports.

The layer is written with ``tf.signal`` (TensorFlow backend only): it runs inside
``tf.data``, inside the exported SavedModel and inside TFLite, where it converts to builtin
ops only (MIRROR_PAD, RFFT2D, REAL/IMAG, BATCH_MATMUL, LOG...). Its definition matches
:func:`~lipmotion_tf.audio.log_mel_numpy.log_mel_numpy` (librosa) to about 1e-4 dB.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from lipmotion_tf.audio.mel_filterbank import mel_filterbank
from lipmotion_tf.config import SPEECH_SAMPLE_RATE


@keras.saving.register_keras_serializable(package="lipmotion")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveform to log-mel spectrogram in dB, as librosa computes it.

    Periodic Hann window of ``n_fft`` samples, power 2, ``center=True`` with reflect padding
    of ``n_fft // 2`` samples on each side, librosa's Slaney mel filterbank, then
    ``10 * log10(max(amin, S))`` (``power_to_db`` with ref 1.0 and no ``top_db`` clipping).
    Reflect padding is chosen over librosa 0.11's default zero padding: it was librosa's
    default when the authors extracted their features, and it converts to TFLite's builtin
    MIRROR_PAD.

    Input ``(batch, samples)`` or ``(samples,)`` float32 waveform in [-1, 1], with more than
    ``n_fft // 2`` samples. Output ``(batch, 1 + samples // hop_length, n_mels)`` (or without
    the batch axis). See :mod:`lipmotion_tf.audio.mel_window` for how a window of video frames
    is cut from a whole clip's output. The layer always computes in float32, whatever the
    global mixed-precision policy, since float16 spectra lose the quiet bands.

    Args:
        sample_rate: waveform sample rate in Hz.
        n_fft: STFT size and window length.
        hop_length: samples between frames.
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz.
        amin: power floor before the log.
    """

    def __init__(
        self,
        sample_rate: int = SPEECH_SAMPLE_RATE,
        n_fft: int = 1024,
        hop_length: int = 441,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float = 16000.0,
        amin: float = 1e-10,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = float(fmax)
        self.amin = float(amin)
        self._mel_matrix = mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax
        )

    @classmethod
    def from_audio_config(cls, audio_config, **kwargs) -> "LogMelSpectrogram":
        """Builds the layer from an :class:`~lipmotion_tf.config.AudioConfig`."""
        return cls(
            sample_rate=audio_config.sample_rate,
            n_fft=audio_config.n_fft,
            hop_length=audio_config.hop_length,
            n_mels=audio_config.n_mels,
            fmin=audio_config.fmin,
            fmax=audio_config.fmax,
            amin=audio_config.amin,
            **kwargs,
        )

    @property
    def mel_matrix(self) -> np.ndarray:
        """``(n_fft // 2 + 1, n_mels)`` float32 filterbank (a constant, not a weight)."""
        return self._mel_matrix

    def call(self, waveform):
        import tensorflow as tf

        waveform = tf.convert_to_tensor(waveform, tf.float32)
        unbatched = waveform.shape.rank == 1
        if unbatched:
            waveform = waveform[tf.newaxis]
        pad = self.n_fft // 2
        padded = tf.pad(waveform, [[0, 0], [pad, pad]], mode="REFLECT")
        spectrum = tf.signal.stft(
            padded,
            frame_length=self.n_fft,
            frame_step=self.hop_length,
            fft_length=self.n_fft,
            window_fn=tf.signal.hann_window,  # periodic, as scipy's get_window("hann")
            pad_end=False,
        )
        power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
        mel = tf.matmul(power, tf.constant(self._mel_matrix))
        log_mel = tf.math.log(tf.maximum(mel, self.amin)) * (10.0 / math.log(10.0))
        return log_mel[0] if unbatched else log_mel

    def compute_output_shape(self, input_shape):
        *batch, samples = input_shape
        frames = None if samples is None else 1 + samples // self.hop_length
        return (*batch, frames, self.n_mels)

    def get_config(self):
        config = super().get_config()
        config.update(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            amin=self.amin,
        )
        return config
