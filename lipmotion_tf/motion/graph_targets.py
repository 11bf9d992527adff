""":meth:`FaceRig.targets <lipmotion_tf.motion.face_rig.FaceRig.targets>` in TensorFlow, on
the rig tensors (:mod:`~lipmotion_tf.motion.rig_tensors`): for a model server that runs the
whole motion pipeline in one graph (TensorFlow Serving's ``serving_default``).

It computes in float64 where numpy does (the pose inverse, the pixel positions, the teeth
and their colour), so its targets equal the rig's to float32 rounding; TensorFlow's graph
optimiser turns a division by a constant into a multiplication, so a last bit may differ.
"""

from __future__ import annotations

from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.face_rig import draw_factors


def targets_tf(motion, tensors: dict) -> dict:
    """Renderer inputs for ``(T, 59, 2)`` mouth-frame displacements ``motion``.

    Args:
        motion: float32 ``(T, 59, 2)``.
        tensors: the rig tensors (``rest``, ``mouth_scale``, ``mouth_rotation``,
            ``mouth_translation``, ``origin``, ``controls``, ``colours``).

    Returns:
        ``{"displacement": (T, N, 2), "inner_lip": (T, 20, 2), "teeth": (T, 22, 2),
        "colours": (T, 2, 3)}``, float32.
    """
    import tensorflow as tf

    f64 = tf.float64
    points = rep.NUM_MOTION_POINTS
    rest = tf.convert_to_tensor(tensors["rest"], tf.float32)
    frames = tf.shape(motion)[0]
    # numpy: the rest shape repeated, x and y moved in float32 (each point by its draw factor),
    # then the pose inverse in float64.
    moved = rest[None, :, :2] + motion * tf.constant(draw_factors(), tf.float32)
    depth_axis = tf.broadcast_to(rest[None, :, 2:], tf.stack([frames, points, 1]))
    shape = tf.concat([moved, depth_axis], axis=-1)
    shifted = tf.cast(shape, f64) - tf.cast(tensors["mouth_translation"], f64)[None, None, :]
    unrotated = tf.einsum("ji,tnj->tni", tf.cast(tensors["mouth_rotation"], f64), shifted)
    scaled = tf.cast(unrotated / tf.cast(tensors["mouth_scale"], f64), tf.float32)
    pixels = tf.cast(scaled[..., :2], f64) - tf.cast(tensors["origin"], f64)[None, None, :]
    controls = tf.convert_to_tensor(tensors["controls"], tf.float32)
    moving = tf.cast(controls[:points], f64)
    still = tf.shape(controls)[0] - points
    displacement = tf.pad(tf.cast(pixels - moving[None], tf.float32), [[0, 0], [0, still], [0, 0]])
    inner = tf.gather(pixels, list(rep.INNER_RING_POSITIONS), axis=1)
    upper = inner[:, :len(rep.UPPER_INNER_CONTOUR)]
    gap = tf.norm(pixels[:, rep.UPPER_INNER] - pixels[:, rep.LOWER_INNER], axis=-1)
    width = tf.norm(pixels[:, rep.LEFT_CORNER] - pixels[:, rep.RIGHT_CORNER], axis=-1)
    depth = tf.minimum(0.45 * gap, 0.1 * width)[:, None, None]
    lowered = upper + tf.constant([0.0, 1.0], f64) * depth
    teeth = tf.concat([upper, tf.reverse(lowered, axis=[1])], axis=1)
    show = tf.clip_by_value((gap / tf.maximum(width, 1e-6) - 0.03) / 0.06, 0.0, 1.0)[:, None]
    colours = tf.convert_to_tensor(tensors["colours"], tf.float32)
    cavity, tooth = colours[0], colours[1]
    faded = tf.cast(cavity, f64)[None] + show * tf.cast(tooth - cavity, f64)[None]
    per_frame = tf.stack([tf.broadcast_to(cavity[None], tf.stack([frames, 3])),
                          tf.cast(faded, tf.float32)], axis=1)
    return {"displacement": displacement, "inner_lip": tf.cast(inner, tf.float32),
            "teeth": tf.cast(teeth, tf.float32), "colours": per_frame}
