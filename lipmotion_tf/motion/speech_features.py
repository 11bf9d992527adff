"""The speech input of the motion networks: per-utterance normalised log-mel and loudness.

Shared by the motion generator and the sync expert, so that both see a new voice or a new
microphone the same way.
"""

from __future__ import annotations

from keras import ops


def speech_features(log_mel, mel_std_floor: float = 6.0, silence_db: float = 50.0):
    """``(B, N, M)`` log-mel (dB) -> ``(B, N, M + 2)`` features.

    The log-mel is normalised over the utterance (band means removed, one deviation for all
    bands, floored at ``mel_std_floor`` dB so that a quiet, flat recording is not blown up into
    loud noise); two loudness channels follow: absolute (-40 dB -> 0, +20 dB -> 1) and
    relative to the utterance's loudest frame (``silence_db`` below it -> 0), so that silence
    can be told from quiet speech.
    """
    log_mel = ops.cast(log_mel, "float32")
    mean = ops.mean(log_mel, axis=1, keepdims=True)
    centred = log_mel - mean
    deviation = ops.sqrt(ops.mean(ops.square(centred), axis=(1, 2), keepdims=True))
    normalised = centred / ops.maximum(deviation, mel_std_floor)
    loudest = ops.max(log_mel, axis=2, keepdims=True)
    absolute = ops.clip((loudest + 40.0) / 60.0, 0.0, 1.0)
    relative = ops.clip(
        1.0 + (loudest - ops.max(loudest, axis=1, keepdims=True)) / silence_db, 0.0, 1.0)
    return ops.concatenate([normalised, absolute, relative], axis=-1)
