"""Any-length generation from fixed-length windows.

The generator turns 0.64 s of speech (16 frames) into 16 lip frames. Longer speech is cut into
windows that overlap by half (hop 8) and the overlapping predictions are cross-faded with
weights ``sin^2`` across the window, which sum to exactly 1 where two windows overlap by half
(elsewhere the sum is divided out), so there is neither a seam nor a jump in brightness at
window borders. The last window ends at the last frame, overlapping the one before it by
more than half where the length is not a whole number of hops: a window that ran past the
speech would read digital silence there, which the model never saw in training, and its last
frames lost 2-3 dB (GRID s1 test). Where a window must still reach past the speech (speech
shorter than one window, or the rounding of the last frame), the speech is extended by
reflection, not zeros, for the same reason: on 12-frame cuts of GRID s1 test speech, zeros
cost its last four frames 0.7 dB.

With ``data.ease_in = k`` the video opens on the identity image itself and eases into the
generated frames over ``k`` frames (:func:`ease_in_weights`): an app that shows the given
photo and then plays the video sees no jump, and the first frame, made from the speech's
first 40 ms with no speech before it, was the model's least exact in silence.

Every path plans and blends windows here: the numpy pipeline and the TFLite runtime with the
numpy functions and :class:`WindowBlender`, the exported serving graph with their
TensorFlow forms (``*_tf``, TensorFlow imported when called). Tests check that both forms
agree for every length.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np


def num_output_frames(num_samples: int, samples_per_frame: int) -> int:
    """Video frames for ``num_samples`` of audio at 25 fps: the duration rounded, at least one."""
    return max(1, int(round(num_samples / samples_per_frame)))


def covering_window_starts(num_frames: int, window: int, hop: int) -> list[int]:
    """First frames of the windows that cover ``num_frames`` frames: every ``hop`` frames, the
    last one moved back to end at the last frame (one window at 0 when ``num_frames <= window``,
    the only case where a window runs past the end)."""
    if num_frames <= window:
        return [0]
    count = math.ceil((num_frames - window) / hop) + 1
    return [min(i * hop, num_frames - window) for i in range(count)]


def speech_extension_index(positions: np.ndarray, num_samples: int) -> np.ndarray:
    """The sample each position of the speech reads once the speech is extended past its
    ends by reflection, repeated as often as needed: ``np.pad(speech, (0, extra), "reflect")``
    past the end, ``speech[-i]`` before the start (period ``2 * (num_samples - 1)``; a
    one-sample speech repeats)."""
    positions = np.asarray(positions)
    period = max(2 * (num_samples - 1), 1)
    folded = positions % period
    return np.where(folded < num_samples, folded, period - folded)


def extend_speech(waveform: np.ndarray, length: int) -> np.ndarray:
    """``waveform`` cut to ``length`` samples, or extended to it by reflection."""
    if len(waveform) >= length:
        return waveform[:length]
    return waveform[speech_extension_index(np.arange(length), len(waveform))]


def blend_weights(window: int, hop: int) -> np.ndarray:
    """Per-frame weights of one window, ``(window,)`` float32.

    With ``hop = window / 2`` the weights of two overlapping windows sum to one
    (``sin^2 + cos^2``); any other hop is handled by normalising the accumulated weights.
    """
    positions = (np.arange(window) + 0.5) / window
    weights = np.sin(np.pi * positions) ** 2
    return weights.astype(np.float32)


def ease_in_weights(frames: int) -> np.ndarray:
    """Weights of the identity image over a video's first ``frames`` frames, ``(frames,)``
    float32: 1 at the first frame, then ``cos^2`` falling towards 0 (``[1, 0.5]`` for 2,
    ``[1, 0.75, 0.25]`` for 3); frame ``t`` is ``w * identity + (1 - w) * generated``."""
    positions = np.arange(frames) / max(frames, 1)
    return (np.cos(0.5 * np.pi * positions) ** 2).astype(np.float32)


class WindowBlender:
    """Accumulates overlapping window predictions and releases frames once they are final.

    Memory stays bounded by one window whatever the length: frames are handed out as soon as
    no later window can touch them.

    Args:
        num_frames: frames of the whole output.
        window: frames per window.
        hop: frames between window starts.
        identity: the identity image the video opens on (same scale as the frames); needed
            when ``ease_in > 0``.
        ease_in: frames over which the output eases in from ``identity``
            (:func:`ease_in_weights`).
    """

    def __init__(self, num_frames: int, window: int, hop: int, identity: np.ndarray | None = None,
                 ease_in: int = 0):
        if ease_in and identity is None:
            raise ValueError("ease_in needs the identity image")
        self.num_frames = num_frames
        self.window = window
        self.hop = hop
        self._identity = None if identity is None else np.asarray(identity, np.float32)
        self._ease_in = ease_in_weights(ease_in)
        self._weights = blend_weights(window, hop)
        self._starts = covering_window_starts(num_frames, window, hop)
        self._next_window = 0
        self._released = 0
        self._accumulator: np.ndarray | None = None  # frames [released, released + window + hop)
        self._weight_sum = np.zeros(0, np.float32)

    @property
    def starts(self) -> list[int]:
        return list(self._starts)

    def add(self, frames: np.ndarray) -> Iterator[np.ndarray]:
        """Adds the next window's frames ``(window, H, W, C)`` and yields the frames now final."""
        if self._next_window >= len(self._starts):
            raise ValueError("all windows have already been added")
        start = self._starts[self._next_window]
        self._next_window += 1
        frames = np.asarray(frames, np.float32)
        if self._accumulator is None:
            span = self.window + self.hop
            self._accumulator = np.zeros((span,) + frames.shape[1:], np.float32)
            self._weight_sum = np.zeros(span, np.float32)
        offset = start - self._released
        self._accumulator[offset:offset + self.window] += frames * self._weights[:, None, None, None]
        self._weight_sum[offset:offset + self.window] += self._weights
        is_last = self._next_window == len(self._starts)
        final_until = self.num_frames if is_last else min(self.num_frames, self._starts[self._next_window])
        yield from self._release(final_until)

    def _release(self, until: int) -> Iterator[np.ndarray]:
        while self._released < until:
            weight = self._weight_sum[0]
            # Window edges carry tiny weights; where only one window covers a frame, the
            # normalisation gives that window's frame exactly.
            frame = self._accumulator[0] / max(weight, 1e-8)
            if self._released < len(self._ease_in):
                w = self._ease_in[self._released]
                frame = w * self._identity + (1.0 - w) * frame
            yield frame
            self._accumulator = np.roll(self._accumulator, -1, axis=0)
            self._accumulator[-1] = 0.0
            self._weight_sum = np.roll(self._weight_sum, -1)
            self._weight_sum[-1] = 0.0
            self._released += 1


# --- the same as TensorFlow ops, for the any-length serving signature -------------------


def num_output_frames_tf(num_samples, samples_per_frame: int):
    """Frames for ``num_samples`` of audio: the duration in frames rounded, at least one.

    Rounds half to even in float64, as Python's ``round`` in ``num_output_frames``.
    """
    import tensorflow as tf

    frames = tf.math.round(tf.cast(num_samples, tf.float64) / float(samples_per_frame))
    return tf.maximum(tf.cast(frames, tf.int32), 1)


def covering_window_starts_tf(num_frames, window: int, hop: int):
    """First frames of the windows covering ``num_frames`` frames, ``(count,)`` int32.

    One window at 0 when ``num_frames <= window``; else ``ceil((num_frames - window) / hop) + 1``
    windows every ``hop`` frames, the last one ending at the last frame.
    """
    import tensorflow as tf

    num_frames = tf.cast(num_frames, tf.int32)
    extra = tf.maximum(num_frames - window, 0)
    count = (extra + hop - 1) // hop + 1
    return tf.minimum(tf.range(count, dtype=tf.int32) * hop, extra)


def extend_speech_tf(waveform, length):
    """``waveform`` cut to ``length`` samples or extended to it by reflection, as
    :func:`extend_speech`."""
    import tensorflow as tf

    num_samples = tf.shape(waveform)[0]
    period = tf.maximum(2 * (num_samples - 1), 1)
    folded = tf.range(length, dtype=tf.int32) % period
    return tf.gather(waveform, tf.where(folded < num_samples, folded, period - folded))


def blend_windows_tf(windows, starts, num_frames, hop: int, identity=None, ease_in: int = 0):
    """Cross-fades overlapping window predictions into ``(num_frames, ...)`` frames.

    Args:
        windows: ``(count, window, H, W, C)`` float32 predictions, one per start.
        starts: ``(count,)`` int32 first frames (from :func:`covering_window_starts_tf`).
        num_frames: frames of the result.
        hop: frames between window starts (only used to pick the weights).
        identity: ``(H, W, C)`` image the result eases in from; needed when ``ease_in > 0``.
        ease_in: frames of the ease-in (:func:`ease_in_weights`).

    Returns:
        ``(num_frames, H, W, C)`` float32: at each frame the weighted mean of the windows
        covering it, with the ``sin^2`` weights of ``blend_weights``, eased in from
        ``identity`` as :class:`WindowBlender` does.
    """
    import tensorflow as tf

    window = int(windows.shape[1])
    weights = tf.constant(blend_weights(window, hop))
    count = tf.shape(starts)[0]
    frame_index = tf.reshape(starts[:, None] + tf.range(window, dtype=tf.int32)[None, :], [-1])
    weighted = windows * weights[None, :, None, None, None]
    weighted = tf.reshape(weighted, tf.concat([[-1], tf.shape(windows)[2:]], axis=0))
    span = starts[-1] + window
    total = tf.math.unsorted_segment_sum(weighted, frame_index, span)
    weight_sum = tf.math.unsorted_segment_sum(tf.tile(weights, [count]), frame_index, span)
    # Window edges carry tiny weights; where one window alone covers a frame, dividing by its
    # weight gives that window's frame back (as WindowBlender does).
    weight_sum = tf.maximum(weight_sum[:num_frames], 1e-8)
    frames = total[:num_frames] / weight_sum[:, None, None, None]
    if not ease_in:
        return frames
    # The weights padded with zeros to the length, or cut to it for a shorter video.
    w = tf.constant(ease_in_weights(ease_in))[:num_frames]
    w = tf.pad(w, [[0, tf.maximum(num_frames - ease_in, 0)]])[:, None, None, None]
    return w * tf.cast(identity, frames.dtype)[None] + (1.0 - w) * frames
