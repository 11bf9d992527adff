"""Still windows: quiet audio paired with the identity image held still.

A generator trained only on speech clips learns what a closed mouth looks like in a pause
of the training speaker; given a person photographed with parted lips, it then closes them
in silence. A share of the training windows (``data.still_fraction``) is replaced by quiet
room noise as the audio and the window's identity image repeated as every target frame, so
the generator learns that no speech means the given mouth, unchanged. The quiet audio is
noise between -70 and -50 dBFS RMS (a room with nobody speaking, as in real recordings;
never digital silence), turned into log-mel features once by the same front end as the
data (mean log-mel -62 to -42 dB).
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy
from lipmotion_tf.config import AudioConfig

#: Quiet noise levels (RMS, full scale 1) of the segments the still windows' audio is cut
#: from: -70 to -50 dBFS.
QUIET_LEVELS = (3e-4, 5e-4, 1e-3, 2e-3, 3e-3)
SEGMENT_SECONDS = 2.0


def quiet_log_mel(audio: AudioConfig, seed: int = 0) -> np.ndarray:
    """Log-mel features of quiet noise, one segment per level of :data:`QUIET_LEVELS`.

    Returns:
        ``(frames, n_mels)`` float32, about ``SEGMENT_SECONDS`` per level.
    """
    rng = np.random.default_rng(seed)
    samples = int(SEGMENT_SECONDS * audio.sample_rate)
    parts = [log_mel_numpy(level * rng.standard_normal(samples).astype(np.float32), audio)
             for level in QUIET_LEVELS]
    return np.concatenate(parts).astype(np.float32)


def make_still_windows(audio, video, identity, seed, fraction: float, quiet):
    """Turns a random share of a batch into still windows.

    Args:
        audio: ``(B, M, n_mels)`` log-mel of each window.
        video: ``(B, T, S, S, 3)`` target frames.
        identity: ``(B, S, S, 3)`` identity images (after any augmentation, so that the
            still targets share their appearance).
        seed: int64 scalar tensor; the same seed chooses the same windows and noise.
        fraction: probability that a window becomes still.
        quiet: ``(F, n_mels)`` quiet features (:func:`quiet_log_mel`), ``F > M``.

    Returns:
        ``(audio, video)``: chosen windows get a random stretch of ``quiet`` and the
        identity repeated; the others are unchanged.
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(audio)[0]
    length = tf.shape(audio)[1]
    quiet = tf.constant(quiet, audio.dtype)
    chosen = tf.random.stateless_uniform([batch], seed=tf.stack([seed, 20])) < fraction
    offsets = tf.random.stateless_uniform([batch], seed=tf.stack([seed, 21]), minval=0,
                                          maxval=tf.shape(quiet)[0] - length + 1, dtype=tf.int32)
    quiet_audio = tf.gather(quiet, offsets[:, None] + tf.range(length)[None, :])
    still_video = tf.broadcast_to(identity[:, None], tf.shape(video))
    audio = tf.where(chosen[:, None, None], quiet_audio, audio)
    video = tf.where(chosen[:, None, None, None, None], still_video, video)
    return audio, video
