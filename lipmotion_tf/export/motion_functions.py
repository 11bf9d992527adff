"""The motion model's exported computations: TensorFlow functions with fixed signatures.

Four signatures of the motion-first pipeline's SavedModel (and, ``motion``, ``render`` and
``log_mel`` with a batch of 1, its TFLite models). Their inputs and outputs are the serving
contract documented in ``docs/deployment.md``:

==================  =====================================  ====================================
signature           inputs                                 outputs
==================  =====================================  ====================================
serving_default     ``waveform`` float32 ``(N,)`` mono     ``frames`` uint8 ``(T, S, S, 3)``:
                    speech at the model rate (44.1 kHz);   the rendered mouth region of each
                    ``image`` uint8 ``(H, W, 3)`` the      of T = round(N / 1764) >= 1 frames
                    photo; the rig tensors of              at 25 fps, to be pasted into the
                    :mod:`~lipmotion_tf.motion.            photo at ``origin``
                    rig_tensors`
motion              ``log_mel`` float32 ``(B, 4T, 128)``   ``motion`` float32
                    dB; ``rest`` float32 ``(B, 59, 2)``    ``(B, T, 59, 2)`` (mouth widths)
render              the renderer inputs of                 ``frames`` float32
                    :mod:`~lipmotion_tf.motion.            ``(B, S, S, 3)`` in [0, 1]
                    graph_functions` (crop, basis,
                    targets, ``mouth_box``)
log_mel             ``waveform`` float32 ``(N,)``          ``log_mel`` float32
                                                           ``(1 + N // 441, 128)`` dB
==================  =====================================  ====================================

``serving_default`` does in the graph what ``lipmotion generate --model motion`` does after
the face mesh: the log-mel of the speech cut or zero-extended to T frames, the motion model
on the whole utterance, the rig's targets (:func:`~lipmotion_tf.motion.graph_targets.
targets_tf`), the renderer ``batch_size`` frames at a time in a ``while`` loop (memory grows
with the output only) and the rounding to uint8. It refuses (InvalidArgumentError,
INVALID_ARGUMENT from a model server) empty or non-finite speech and rig tensors that do not
fit the photo or the renderer. Its log-mel is the in-graph front end, which matches the
pipeline's librosa one to about 1e-4 dB, so its frames match ``generate``'s to a grey level
at a few pixels; ``motion`` and ``render`` are the pipeline's own graphs and give its frames
exactly.
"""

from __future__ import annotations

from lipmotion_tf.motion.rig_tensors import RIG_TENSORS

#: Inputs of ``serving_default``, in order.
SERVING_INPUTS = ("waveform", "image", *RIG_TENSORS)


class MotionServingFunctions:
    """Builds the exported ``tf.function`` s around a motion model.

    Args:
        generator: a built :class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`.
        config: its :class:`~lipmotion_tf.motion.config.MotionExperimentConfig`.
        batch_size: frames per renderer call inside ``serving_default``.
        grid_size: the warp grid of the rigs it takes (:class:`~lipmotion_tf.motion.
            face_rig.FaceRig`'s, 64).
        batch: a fixed batch for ``motion`` and ``render`` (TFLite: 1), or None.
        interior: the renderer's learned mouth interior, or None (drawn).
    """

    def __init__(self, generator, config, batch_size: int = 8, grid_size: int = 64,
                 batch: int | None = None, interior=None):
        from lipmotion_tf.audio.log_mel import LogMelSpectrogram
        from lipmotion_tf.motion.graph_functions import motion_function, render_function
        from lipmotion_tf.motion.renderer import MotionRenderer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.generator = generator
        self.config = config
        self.batch_size = int(batch_size)
        self.grid_size = int(grid_size)
        self.log_mel_layer = LogMelSpectrogram.from_audio_config(config.audio, name="log_mel")
        self.motion_function = motion_function(generator, batch)
        self.renderer = MotionRenderer(grid_size=grid_size, interior=interior)
        self.render_function = render_function(self.renderer, batch)

    def input_signatures(self) -> dict:
        """``{signature name: {input name: tf.TensorSpec}}`` in export order."""
        import tensorflow as tf

        from lipmotion_tf.motion.graph_functions import motion_specs, render_specs

        rig = {name: tf.TensorSpec(list(shape), getattr(tf, dtype), name=name)
               for name, (dtype, shape) in RIG_TENSORS.items()}
        rig["basis"] = tf.TensorSpec([self.grid_size * self.grid_size, None], tf.float32,
                                     name="basis")
        return {
            "serving_default": {
                "waveform": tf.TensorSpec([None], tf.float32, name="waveform"),
                "image": tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                **rig,
            },
            "motion": motion_specs(self.generator.n_mels, self.generator.points),
            "render": render_specs(self.grid_size),
            "log_mel": {"waveform": tf.TensorSpec([None], tf.float32, name="waveform")},
        }

    # -- computations ---------------------------------------------------------------------

    def generate(self, waveform, image, origin, crop_size, mouth_box, rest, mouth_scale,
                 mouth_rotation, mouth_translation, controls, basis, colours):
        """Speech + photo + rig -> ``{"frames": uint8 (T, S, S, 3)}`` (see the module)."""
        import tensorflow as tf

        from lipmotion_tf.generate.blending import num_output_frames_tf
        from lipmotion_tf.motion.graph_targets import targets_tf

        audio = self.config.audio
        tensors = dict(origin=origin, crop_size=crop_size, mouth_box=mouth_box, rest=rest,
                       mouth_scale=mouth_scale, mouth_rotation=mouth_rotation,
                       mouth_translation=mouth_translation, controls=controls, basis=basis,
                       colours=colours)
        # The checks of audio.validation.check_waveform and rig_tensors.check_rig_tensors,
        # for servers that run this graph as it is (TF Serving); `lipmotion serve` makes
        # them before the graph.
        num_samples = tf.shape(waveform)[0]
        tf.debugging.assert_positive(num_samples, message="the speech is empty")
        waveform = tf.debugging.assert_all_finite(
            waveform, "the speech has non-finite samples (NaN or infinity)")
        self._check_rig(image, tensors)
        waveform = tf.clip_by_value(waveform, -1.0, 1.0)  # before the spectrogram: no overflow

        # As log_mel_of_frames: the speech cut or zero-extended to whole frames.
        frames = num_output_frames_tf(num_samples, audio.samples_per_frame)
        samples = frames * audio.samples_per_frame
        waveform = tf.pad(waveform[:samples], [[0, samples - tf.minimum(num_samples, samples)]])
        mel = self.log_mel_layer(waveform)[: frames * audio.mel_frames_per_frame]
        motion = self.motion_function(mel[None], rest[None, :, :2])["motion"][0]
        targets = targets_tf(motion, tensors)

        x0, y0 = origin[0], origin[1]
        crop = tf.cast(image[y0:y0 + crop_size, x0:x0 + crop_size], tf.float32) / 255.0
        batches = (frames + self.batch_size - 1) // self.batch_size
        outputs = tf.TensorArray(tf.uint8, size=batches, infer_shape=False,
                                 element_shape=tf.TensorShape([None, None, None, 3]))

        def body(index, outputs):
            first = index * self.batch_size
            part = {name: value[first:first + self.batch_size] for name, value in targets.items()}
            crops = tf.repeat(crop[None], tf.shape(part["displacement"])[0], axis=0)
            rendered = self.render_function(crop=crops, basis=basis, mouth_box=mouth_box,
                                            **part)["frames"]
            return index + 1, outputs.write(index, crop_to_uint8_tf(rendered))

        _, outputs = tf.while_loop(lambda index, _: index < batches, body,
                                   (tf.constant(0), outputs), parallel_iterations=1)
        return {"frames": outputs.concat()}

    def log_mel(self, waveform):
        """Mono speech -> ``{"log_mel": (1 + N // hop, n_mels)}`` (the in-graph front end)."""
        return {"log_mel": self.log_mel_layer(waveform)}

    def _check_rig(self, image, tensors) -> None:
        import tensorflow as tf

        from lipmotion_tf.motion import representation as rep
        from lipmotion_tf.motion.face_rig import MIN_CROP

        shape = tf.shape(image)
        side = tensors["crop_size"]
        x0, y0 = tensors["origin"][0], tensors["origin"][1]
        top, left = tensors["mouth_box"][0], tensors["mouth_box"][1]
        height, width = tensors["mouth_box"][2], tensors["mouth_box"][3]
        checks = [
            (side >= MIN_CROP, f"crop_size is below the {MIN_CROP} pixels the renderer takes"),
            (tf.logical_and(tf.minimum(x0, y0) >= 0,
                            tf.logical_and(x0 + side <= shape[1], y0 + side <= shape[0])),
             "the crop (origin, crop_size) is not inside the photo"),
            (tf.logical_and(tf.minimum(top, left) >= 0, tf.logical_and(
                tf.minimum(height, width) >= 1,
                tf.logical_and(top + height <= side, left + width <= side))),
             "mouth_box is not inside the crop"),
            (tf.shape(tensors["controls"])[0] >= rep.NUM_MOTION_POINTS,
             f"fewer than {rep.NUM_MOTION_POINTS} control points"),
            (tf.equal(tf.shape(tensors["basis"])[1], tf.shape(tensors["controls"])[0]),
             "basis and controls have different numbers of control points"),
            (tensors["mouth_scale"] > 0, "mouth_scale must be positive"),
        ]
        for condition, message in checks:
            tf.debugging.Assert(condition, [f"the rig: {message}"])
        for name in ("rest", "mouth_rotation", "mouth_translation", "controls", "basis",
                     "colours"):
            tf.debugging.assert_all_finite(tensors[name], f"the rig: {name} has non-finite "
                                           "values (NaN or infinity)")

    # -- tf.functions -----------------------------------------------------------------------

    def tf_functions(self, names=None) -> dict:
        """``{signature name: tf.function}`` with their input signatures, in export order.

        Args:
            names: the signatures to build (default: all four).
        """
        import tensorflow as tf

        signatures = self.input_signatures()
        functions = {
            "serving_default": lambda: tf.function(
                self.generate, input_signature=list(signatures["serving_default"].values())),
            "motion": lambda: self.motion_function,
            "render": lambda: self.render_function,
            "log_mel": lambda: tf.function(
                self.log_mel, input_signature=list(signatures["log_mel"].values())),
        }
        names = list(functions) if names is None else list(names)
        unknown = [n for n in names if n not in functions]
        if unknown:
            raise ValueError(f"unknown signature(s) {unknown}; known: {list(functions)}")
        return {name: functions[name]() for name in names}


def crop_to_uint8_tf(rendered):
    """float in [0, 1] -> uint8, as :func:`lipmotion_tf.motion.face_rig.crop_to_uint8`."""
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(rendered * 255.0 + 0.5, 0.0, 255.0), tf.uint8)
