"""The appearance augmentation and still windows in numpy, for data read without TensorFlow.

Keras on JAX reads its windows through :class:`~lipmotion_tf.data.numpy_data.
NumpyWindowDataset`; this module gives those windows the same random appearance as
:func:`lipmotion_tf.data.augment.augment_windows` (same transforms and ranges,
:class:`~lipmotion_tf.data.augment.AugmentSettings`; the random draws differ) and the same
still windows as :func:`lipmotion_tf.data.still_windows.make_still_windows`.
"""

from __future__ import annotations

import math

import numpy as np

from lipmotion_tf.data.augment import (
    CHANNEL_PERMUTATIONS,
    LUMA,
    AugmentSettings,
    hue_rotation,
    output_to_input,
)


def _colour_matrices(rng: np.random.Generator, batch: int, settings: AugmentSettings):
    """``(B, 3, 3)``: permutation, then hue rotation, then grey, each by chance."""
    eye = np.broadcast_to(np.eye(3, dtype=np.float32), (batch, 3, 3))
    choice = np.asarray(CHANNEL_PERMUTATIONS)[rng.integers(0, 6, batch)]
    permute = np.eye(3, dtype=np.float32)[choice]
    matrix = np.where((rng.random(batch) < settings.permute)[:, None, None], permute, eye)
    angle = rng.uniform(-math.pi, math.pi, batch).astype(np.float32)[:, None, None]
    rotation = hue_rotation(np.cos(angle), np.sin(angle))
    matrix = np.where((rng.random(batch) < settings.hue)[:, None, None], rotation, eye) @ matrix
    grey = np.broadcast_to(np.array([LUMA] * 3, np.float32), (batch, 3, 3))
    return np.where((rng.random(batch) < settings.grey)[:, None, None], grey, eye) @ matrix


def augment_windows_numpy(identity: np.ndarray, video: np.ndarray, rng: np.random.Generator,
                          settings: AugmentSettings = AugmentSettings()):
    """One random appearance transform per window, applied alike to identity and frames.

    Args:
        identity: ``(B, S, S, 3)`` float32 in [-1, 1].
        video: ``(B, T, S, S, 3)`` float32 in [-1, 1].
        rng: the random generator (the same state gives the same transforms).
        settings: the transform ranges.

    Returns:
        ``(identity, video)`` transformed, same shapes, float32 in [-1, 1].
    """
    import cv2

    batch, size = identity.shape[0], identity.shape[1]
    x = (np.concatenate([identity[:, None], video], axis=1) + 1.0) * 0.5
    matrix = _colour_matrices(rng, batch, settings)
    # out[..., d] = sum_c M[d, c] x[..., c], as one batched matrix product.
    x = np.matmul(x.astype(np.float32).reshape(batch, -1, 3),
                  matrix.astype(np.float32).transpose(0, 2, 1)).reshape(x.shape)
    shape = (batch, 1, 1, 1, 1)

    def uniform(low, high, size):
        return rng.uniform(low, high, size).astype(np.float32)

    mean = x[:, :1].mean(axis=(1, 2, 3, 4), keepdims=True)
    contrast = uniform(1 - settings.contrast, 1 + settings.contrast, shape)
    brightness = uniform(-settings.brightness, settings.brightness, shape)
    x = (x - mean) * contrast + mean + brightness
    log_gamma = uniform(-math.log1p(settings.gamma), math.log1p(settings.gamma), shape)
    x = np.clip(x, 0.0, 1.0) ** np.exp(log_gamma)

    zoom = rng.uniform(1 - settings.zoom, 1 + settings.zoom, batch)
    shift = rng.uniform(-settings.shift, settings.shift, (batch, 2))
    flip = rng.random(batch) < settings.flip
    use = rng.random(batch) < settings.probability
    out = np.concatenate([identity[:, None], video], axis=1).astype(np.float32)
    for b in np.flatnonzero(use):
        a0, a2, b1, b2 = output_to_input(zoom[b], shift[b, 0], shift[b, 1],
                                         -1.0 if flip[b] else 1.0, size)
        warp = np.array([[a0, 0.0, a2], [0.0, b1, b2]], np.float32)
        for t in range(x.shape[1]):
            image = cv2.warpAffine(x[b, t], warp, (size, size),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT)
            out[b, t] = image * 2.0 - 1.0
    return out[:, 0], out[:, 1:]


def make_still_windows_numpy(audio: np.ndarray, video: np.ndarray, identity: np.ndarray,
                             rng: np.random.Generator, fraction: float, quiet: np.ndarray):
    """Replaces a random share of the windows by quiet audio and the identity held still.

    Args and result as :func:`lipmotion_tf.data.still_windows.make_still_windows`, with a
    numpy random generator.
    """
    length = audio.shape[1]
    chosen = rng.random(len(audio)) < fraction
    audio, video = audio.copy(), video.copy()
    for b in np.flatnonzero(chosen):
        offset = rng.integers(0, len(quiet) - length + 1)
        audio[b] = quiet[offset: offset + length]
        video[b] = identity[b][None]
    return audio, video
