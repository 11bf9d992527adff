"""Window planning and cross-fading as TensorFlow ops, for the any-length serving signature.

The exported ``serving_default`` signature turns speech of any length into frames inside the
graph, so it must cut and blend windows exactly as :class:`~lipmotion_tf.generate.pipeline.
LipMotionPipeline` does. These functions are the graph form of
:func:`~lipmotion_tf.generate.blending.num_output_frames`,
:func:`~lipmotion_tf.generate.blending.covering_window_starts` and
:class:`~lipmotion_tf.generate.blending.WindowBlender`; the per-frame weights are the constant
computed by :func:`~lipmotion_tf.generate.blending.blend_weights` itself. Tests check that both
forms agree for every length.
"""

from __future__ import annotations

from lipmotion_tf.generate.blending import blend_weights


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
    windows every ``hop`` frames (the last may run past the end).
    """
    import tensorflow as tf

    num_frames = tf.cast(num_frames, tf.int32)
    extra = tf.maximum(num_frames - window, 0)
    count = (extra + hop - 1) // hop + 1
    return tf.range(count, dtype=tf.int32) * hop


def blend_windows_tf(windows, starts, num_frames, hop: int):
    """Cross-fades overlapping window predictions into ``(num_frames, ...)`` frames.

    Args:
        windows: ``(count, window, H, W, C)`` float32 predictions, one per start.
        starts: ``(count,)`` int32 first frames (from :func:`covering_window_starts_tf`).
        num_frames: frames of the result.
        hop: frames between window starts (only used to pick the weights).

    Returns:
        ``(num_frames, H, W, C)`` float32: at each frame the weighted mean of the windows
        covering it, with the ``sin^2`` weights of ``blend_weights``.
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
    return total[:num_frames] / weight_sum[:, None, None, None]
