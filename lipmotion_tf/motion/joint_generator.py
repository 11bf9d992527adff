"""``JointGenerator``: speech -> motion -> pixels, one differentiable path for the joint stage.

The motion model's displacements become the renderer's targets in the graph
(:func:`~lipmotion_tf.motion.graph_targets.targets_tf`), the renderer moves each example's
identity crop (the warp is differentiable in the target positions; the drawn interior's
edges are too with ``soft_edges``, else its polygon test is a step), and the mouth box of every
rendered frame is resampled to the paper's lip size. It returns what
:class:`~lipmotion_tf.train.gan.LipMotionGAN` reads from a generator, so the paper's four
losses (L1, perceptual, audio-visual derivative correlation, three-stream adversarial) train
the motion model through its pixels, the stage "Lip Movements Generation at a Glance" trains
its generator with.

The rig of each example (:mod:`~lipmotion_tf.motion.rig_tensors`, with the crop and its
thin-plate basis) comes with the batch (:mod:`~lipmotion_tf.motion.joint_data`); TensorFlow
only (the renderer's mouth box is a per-example slice).
"""

from __future__ import annotations

import keras

from lipmotion_tf.motion.renderer import MotionRenderer

#: The rig tensors a joint batch carries besides ``audio`` and ``identity``.
RIG_KEYS = ("crop", "basis", "controls", "rest", "mouth_scale", "mouth_rotation",
            "mouth_translation", "origin", "colours", "mouth_box")


def mouth_region(frames, box, size: int):
    """The mouth box ``(top, left, height, width)`` of ``(N, S, S, 3)`` frames resampled
    bilinearly to ``(N, size, size, 3)``: the same sampling for rendered and real frames."""
    import tensorflow as tf

    frames = tf.convert_to_tensor(frames, tf.float32)
    side = tf.cast(tf.shape(frames)[1] - 1, tf.float32)
    top, left, height, width = (tf.cast(box[i], tf.float32) for i in range(4))
    corners = tf.stack([top, left, top + height - 1.0, left + width - 1.0]) / side
    count = tf.shape(frames)[0]
    return tf.image.crop_and_resize(frames, tf.tile(corners[None], [count, 1]),
                                    tf.range(count), (size, size))


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class JointGenerator(keras.Model):
    """``{"audio", "identity", rig tensors}`` -> ``{"video", "audio_features", "motion"}``.

    Inputs: ``audio`` ``(B, 4T, M)`` log-mel in dB; ``identity`` ``(B, S, S, 3)`` the
    identity's mouth box in [-1, 1] (read by the losses, not here); per example the rig
    tensors of :data:`RIG_KEYS` (``crop`` ``(B, C, C, 3)`` in [0, 1], ``basis``
    ``(B, G * G, N)``, the rest as in :mod:`~lipmotion_tf.motion.rig_tensors`).

    Outputs: ``video`` ``(B, T, S, S, 3)`` in [-1, 1] (the rendered mouth boxes),
    ``audio_features`` ``(B, T, 1, channels)`` (the motion model's encoding, for the
    correlation loss's audio encoder) and ``motion`` ``(B, T, P, 2)``.

    Args:
        motion: a built :class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`.
        image_size: ``S``, the lip crop the losses see.
        crop_size: ``C``, the identity crop the renderer moves.
        grid_size: ``G`` of the basis.
        soft_edges: the renderer's (0: the drawn interior passes no gradient).
    """

    INPUTS = ("audio", "identity") + RIG_KEYS

    def __init__(self, motion, image_size: int = 64, crop_size: int = 128, grid_size: int = 64,
                 soft_edges: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.motion = motion
        self.image_size = int(image_size)
        self.crop_size = int(crop_size)
        self.grid_size = int(grid_size)
        self.soft_edges = float(soft_edges)
        self.renderer = MotionRenderer(crop_size=self.crop_size, grid_size=self.grid_size,
                                       soft_edges=self.soft_edges, name="renderer")

    def call(self, inputs, training=False):
        import tensorflow as tf

        from lipmotion_tf.motion.graph_targets import targets_tf

        audio = inputs["audio"]
        rest = tf.cast(inputs["rest"], tf.float32)
        encoded = self.motion.encode({"log_mel": audio, "rest": rest[..., :2]}, training=training)
        motion = self.motion.decode(encoded, audio)
        frames = tf.shape(motion)[1]
        rig = {key: inputs[key] for key in RIG_KEYS}

        def render(example):
            moved, tensors = example
            targets = targets_tf(moved, tensors)
            crop = tf.repeat(tf.cast(tensors["crop"], tf.float32)[None], frames, axis=0)
            rendered = self.renderer({"crop": crop, "basis": tensors["basis"],
                                      "mouth_box": tensors["mouth_box"], **targets})
            return mouth_region(rendered, tensors["mouth_box"], self.image_size)

        video = tf.map_fn(render, (motion, rig), fn_output_signature=tf.TensorSpec(
            (None, self.image_size, self.image_size, 3), tf.float32))
        return {"video": video * 2.0 - 1.0, "audio_features": encoded[:, :, None, :],
                "motion": motion}

    def get_config(self):
        config = super().get_config()
        config.update(motion=keras.saving.serialize_keras_object(self.motion),
                      image_size=self.image_size, crop_size=self.crop_size,
                      grid_size=self.grid_size, soft_edges=self.soft_edges)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["motion"] = keras.saving.deserialize_keras_object(config["motion"])
        return cls(**config)


def build_joint_generator(config) -> JointGenerator:
    """The joint stage's generator for a paper experiment with ``model.generator: motion``:
    ``model.motion_checkpoint``'s motion model under the renderer.

    Raises:
        InputError: no motion model in that folder.
    """
    from lipmotion_tf.models.factory import IMAGE_SIZE
    from lipmotion_tf.motion.face_rig import GRID_SIZE
    from lipmotion_tf.motion.pipeline import motion_checkpoint
    from lipmotion_tf.motion.training import load_motion_generator

    folder = config.model.motion_checkpoint
    motion, _ = load_motion_generator(motion_checkpoint() if folder == "shipped" else folder)
    return JointGenerator(motion, image_size=IMAGE_SIZE, crop_size=config.model.motion_crop,
                          grid_size=GRID_SIZE, soft_edges=config.model.motion_soft_edges,
                          name="generator")


def save_motion_model(generator: JointGenerator, config, folder) -> None:
    """Writes the joint stage's motion model as a motion model folder (``config.yaml`` of
    the motion model it started from, and the trained weights), which ``generate``,
    ``dub``, ``evaluate`` and ``export`` take as ``--checkpoint``."""
    import shutil
    from pathlib import Path

    from lipmotion_tf.motion.config import WEIGHTS_NAME
    from lipmotion_tf.motion.pipeline import motion_checkpoint
    from lipmotion_tf.output_files import write_atomically

    source = config.model.motion_checkpoint
    source = motion_checkpoint() if source == "shipped" else Path(source)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with write_atomically(folder / WEIGHTS_NAME) as temporary:
        generator.motion.save_weights(str(temporary))
    shutil.copyfile(source / "config.yaml", folder / "config.yaml")
