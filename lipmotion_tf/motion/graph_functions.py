"""The motion pipeline's two TensorFlow functions, with the input signatures of the exports.

``lipmotion generate --model motion`` runs the motion model and the renderer through these
functions, and the SavedModel's ``motion`` and ``render`` signatures (and, with a batch of
1, the TFLite models) are these functions too: the same graph gives the same frames, to the
bit (an eager call or a renderer traced for one crop size differs in the last float bits,
as TensorFlow's graph optimiser folds constants differently).

* ``motion``: ``log_mel`` float32 ``(B, 4T, M)`` dB and ``rest`` float32 ``(B, P, 2)`` ->
  ``motion`` float32 ``(B, T, P, 2)``: displacements in the mouth frame (mouth widths);
* ``render``: the :class:`~lipmotion_tf.motion.renderer.MotionRenderer` inputs of a crop of
  any size (``crop`` ``(B, S, S, 3)`` in [0, 1], ``basis`` ``(G * G, N)``, ``displacement``
  ``(B, N, 2)``, ``inner_lip`` ``(B, 20, 2)``, ``teeth`` ``(B, 22, 2)``, ``colours``
  ``(B, 2, 3)``, ``mouth_box`` int32 ``(4,)``) -> ``frames`` float32 ``(B, S, S, 3)``.
"""

from __future__ import annotations

from lipmotion_tf.motion import representation as rep

#: Points of the target inner-lip and upper-teeth polygons (:meth:`FaceRig.targets`).
INNER_LIP_POINTS = 20
TEETH_POINTS = 22


def motion_specs(n_mels: int, points: int = rep.NUM_MOTION_POINTS, batch: int | None = None):
    """``{input name: tf.TensorSpec}`` of ``motion`` (any number of log-mel frames)."""
    import tensorflow as tf

    return {
        "log_mel": tf.TensorSpec([batch, None, n_mels], tf.float32, name="log_mel"),
        "rest": tf.TensorSpec([batch, points, 2], tf.float32, name="rest"),
    }


def render_specs(grid_size: int, batch: int | None = None):
    """``{input name: tf.TensorSpec}`` of ``render`` (any crop size and control points)."""
    import tensorflow as tf

    return {
        "crop": tf.TensorSpec([batch, None, None, 3], tf.float32, name="crop"),
        "basis": tf.TensorSpec([grid_size * grid_size, None], tf.float32, name="basis"),
        "displacement": tf.TensorSpec([batch, None, 2], tf.float32, name="displacement"),
        "inner_lip": tf.TensorSpec([batch, INNER_LIP_POINTS, 2], tf.float32, name="inner_lip"),
        "teeth": tf.TensorSpec([batch, TEETH_POINTS, 2], tf.float32, name="teeth"),
        "colours": tf.TensorSpec([batch, 2, 3], tf.float32, name="colours"),
        "mouth_box": tf.TensorSpec([4], tf.int32, name="mouth_box"),
    }


def motion_function(generator, batch: int | None = None, amplitude: bool = False):
    """``motion(log_mel, rest) -> {"motion": ...}`` as a ``tf.function`` (see the module);
    with ``amplitude``, ``motion(log_mel, rest, amplitude)`` with the speaker's amplitude
    ``(B, 1)`` (a generator with ``amplitude_input``; the exports read a typical speaker's)."""
    import tensorflow as tf

    specs = list(motion_specs(generator.n_mels, generator.points, batch).values())
    if amplitude:
        def motion(log_mel, rest, amplitude):
            return {"motion": generator({"log_mel": log_mel, "rest": rest,
                                         "amplitude": amplitude}, training=False)}

        specs.append(tf.TensorSpec([batch, 1], tf.float32, name="amplitude"))
    else:
        def motion(log_mel, rest):
            return {"motion": generator({"log_mel": log_mel, "rest": rest}, training=False)}

    return tf.function(motion, input_signature=specs)


def render_function(renderer, batch: int | None = None):
    """``render(crop, ..., mouth_box) -> {"frames": ...}`` as a ``tf.function`` for an
    any-size :class:`~lipmotion_tf.motion.renderer.MotionRenderer` (built without
    ``crop_size`` and ``mouth_box``)."""
    import tensorflow as tf

    if renderer.crop_size is not None or renderer.mouth_box is not None:
        raise ValueError("render_function needs a renderer of any crop size and mouth box")

    def render(crop, basis, displacement, inner_lip, teeth, colours, mouth_box):
        return {"frames": renderer({
            "crop": crop, "basis": basis, "displacement": displacement,
            "inner_lip": inner_lip, "teeth": teeth, "colours": colours, "mouth_box": mouth_box,
        })}

    specs = render_specs(renderer.grid_size, batch)
    return tf.function(render, input_signature=list(specs.values()))
