"""Appearance augmentation: one random colour and geometry change per training window.

With one speaker at scale, a generator can learn that speaker's colours instead of copying
the identity image it is given. Each window gets one random transform, applied alike to its
identity image and to every target frame, so the only way to match the target is to take the
appearance from the identity input. The audio is never touched, and a share of the windows
stays unchanged so that real colours remain in the training distribution.

Colour: a 3x3 matrix per window (channel permutation, hue rotation about the grey axis, or
grey), then contrast about the identity's mean, brightness, and gamma. Geometry: horizontal
flip and a small zoom and shift (bilinear, edges reflected). Everything is drawn from a
stateless seed, so the same seed gives the same batches.
"""

from __future__ import annotations

import dataclasses
import math

# Luma weights (ITU-R BT.601) for the grey transform.
LUMA = (0.299, 0.587, 0.114)
#: The six channel orders a permutation draws from.
CHANNEL_PERMUTATIONS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


@dataclasses.dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random appearance transform.

    Attributes:
        probability: share of windows transformed (the rest pass unchanged).
        permute: probability of a random channel permutation.
        hue: probability of a random hue rotation (any angle).
        grey: probability of turning the window grey.
        contrast: contrast factor range ``(1 - c, 1 + c)``.
        brightness: offset range ``(-b, b)`` in [0, 1] units.
        gamma: gamma range ``(1 / (1 + g), 1 + g)``.
        flip: probability of a horizontal flip.
        zoom: zoom range ``(1 - z, 1 + z)``.
        shift: shift range in pixels (each axis).
    """

    probability: float = 0.8
    permute: float = 0.3
    hue: float = 0.5
    grey: float = 0.1
    contrast: float = 0.3
    brightness: float = 0.15
    gamma: float = 0.4
    flip: float = 0.5
    zoom: float = 0.08
    shift: float = 3.0


def hue_rotation(cos, sin):
    """Rodrigues rotations of RGB about the grey axis ``(1, 1, 1) / sqrt(3)``.

    Plain arithmetic on ``cos`` and ``sin`` of the angles (``(B, 1, 1)`` numpy arrays or TF
    tensors), so the TF and numpy augmentations share it. Returns ``(B, 3, 3)``.
    """
    import numpy as np

    k = np.full((3, 1), 1.0 / math.sqrt(3.0), np.float32)
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], np.float32) / np.float32(math.sqrt(3.0))
    return cos * np.eye(3, dtype=np.float32) + sin * cross + (1.0 - cos) * (k @ k.T)


def output_to_input(zoom, shift_x, shift_y, flip_sign, size: int):
    """``(a0, a2, b1, b2)`` of the map from an output pixel to the input pixel it samples:
    ``x_in = a0 * x + a2``, ``y_in = b1 * y + b2`` (zoom and flip about the centre, then a
    shift). Plain arithmetic, shared by the TF and numpy augmentations."""
    centre = (size - 1) / 2.0
    scale = 1.0 / zoom
    a0 = flip_sign * scale
    return a0, centre - a0 * centre + shift_x, scale, centre - scale * centre + shift_y


def _uniform(seed, index, shape, low, high):
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, seed=tf.stack([seed, index]), minval=low,
                                       maxval=high)


def _colour_matrices(seed, batch, settings: AugmentSettings):
    """``(B, 3, 3)`` matrices: permutation, then hue rotation, then grey, each by chance."""
    import tensorflow as tf

    eye = tf.eye(3, batch_shape=[batch])
    permutations = tf.constant(CHANNEL_PERMUTATIONS, tf.int32)
    choice = tf.random.stateless_uniform([batch], seed=tf.stack([seed, 1]), minval=0,
                                         maxval=6, dtype=tf.int32)
    permute = tf.one_hot(tf.gather(permutations, choice), 3)  # (B, 3, 3) rows pick channels
    use = _uniform(seed, 2, [batch, 1, 1], 0.0, 1.0) < settings.permute
    matrix = tf.where(use, permute, eye)

    angle = _uniform(seed, 3, [batch, 1, 1], -math.pi, math.pi)
    rotation = hue_rotation(tf.cos(angle), tf.sin(angle))
    use = _uniform(seed, 4, [batch, 1, 1], 0.0, 1.0) < settings.hue
    matrix = tf.where(use, rotation, eye) @ matrix

    grey = tf.broadcast_to(tf.constant([LUMA] * 3), [batch, 3, 3])
    use = _uniform(seed, 5, [batch, 1, 1], 0.0, 1.0) < settings.grey
    return tf.where(use, grey, eye) @ matrix


def _geometry(seed, batch, size, settings: AugmentSettings):
    """``(B, 8)`` projective transforms (output -> input pixel) for zoom, shift and flip."""
    import tensorflow as tf

    zoom = _uniform(seed, 10, [batch], 1.0 - settings.zoom, 1.0 + settings.zoom)
    shift = _uniform(seed, 11, [batch, 2], -settings.shift, settings.shift)
    flip = _uniform(seed, 12, [batch], 0.0, 1.0) < settings.flip
    a0, a2, b1, b2 = output_to_input(zoom, shift[:, 0], shift[:, 1], tf.where(flip, -1.0, 1.0),
                                     size)
    zeros = tf.zeros([batch])
    return tf.stack([a0, zeros, a2, zeros, b1, b2, zeros, zeros], axis=1)


def augment_windows(identity, video, seed, settings: AugmentSettings = AugmentSettings()):
    """Applies one random appearance transform per window to its identity and frames.

    Args:
        identity: ``(B, S, S, 3)`` float32 in [-1, 1].
        video: ``(B, T, S, S, 3)`` float32 in [-1, 1].
        seed: int64 scalar tensor; the same seed gives the same transforms.
        settings: the transform ranges.

    Returns:
        ``(identity, video)`` transformed, same shapes, in [-1, 1].
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(identity)[0]
    frames = tf.shape(video)[1]
    size = identity.shape[1]
    clip = tf.concat([identity[:, None], video], axis=1)  # (B, 1 + T, S, S, 3)
    x = (clip + 1.0) * 0.5

    matrix = _colour_matrices(seed, batch, settings)
    x = tf.einsum("btijc,bdc->btijd", x, matrix)
    mean = tf.reduce_mean(x[:, :1], axis=[1, 2, 3, 4], keepdims=True)
    contrast = _uniform(seed, 6, [batch, 1, 1, 1, 1], 1.0 - settings.contrast,
                        1.0 + settings.contrast)
    brightness = _uniform(seed, 7, [batch, 1, 1, 1, 1], -settings.brightness, settings.brightness)
    x = (x - mean) * contrast + mean + brightness
    log_gamma = _uniform(seed, 8, [batch, 1, 1, 1, 1], -math.log1p(settings.gamma),
                         math.log1p(settings.gamma))
    x = tf.clip_by_value(x, 0.0, 1.0) ** tf.exp(log_gamma)

    transforms = tf.repeat(_geometry(seed, batch, size, settings), frames + 1, axis=0)
    flat = tf.reshape(x, [-1, size, size, 3])
    flat = tf.raw_ops.ImageProjectiveTransformV3(
        images=flat, transforms=transforms, output_shape=[size, size], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT",
    )
    changed = tf.reshape(flat, tf.shape(clip)) * 2.0 - 1.0
    use = _uniform(seed, 9, [batch, 1, 1, 1, 1], 0.0, 1.0) < settings.probability
    out = tf.where(use, changed, clip)
    return out[:, 0], out[:, 1:]
