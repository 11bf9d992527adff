"""The shapes a configuration gives the networks' inputs.

A module of its own, importing nothing of the package's training code, so that both the
runner and the readers of a run's generator (:mod:`~lipmotion_tf.train.run_generator`, used by
``--init-from``) can build the networks without importing one another.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.config import ExperimentConfig


def zero_batch(config: ExperimentConfig) -> dict:
    """A batch of zeros of the configuration's shapes, to build the networks (with the
    joint stage's generator, an identity rig that renders the crop unmoved)."""
    b, t, s = 1, config.data.window, config.data.image_size
    mels = t * config.audio.mel_frames_per_frame
    batch = {
        "audio": np.zeros((b, mels, config.audio.n_mels), np.float32),
        "video": np.zeros((b, t, s, s, 3), np.float32),
        "identity": np.zeros((b, s, s, 3), np.float32),
    }
    if config.model.generator == "motion":
        from lipmotion_tf.motion.face_rig import GRID_SIZE, NUM_CONTROLS
        from lipmotion_tf.motion.representation import NUM_MOTION_POINTS

        crop = config.model.motion_crop
        batch.update({
            "crop": np.zeros((b, crop, crop, 3), np.float32),
            "basis": np.zeros((b, GRID_SIZE * GRID_SIZE, NUM_CONTROLS), np.float32),
            "controls": np.zeros((b, NUM_CONTROLS, 2), np.float32),
            "rest": np.zeros((b, NUM_MOTION_POINTS, 3), np.float32),
            "mouth_scale": np.ones((b,), np.float64),
            "mouth_rotation": np.tile(np.eye(3), (b, 1, 1)),
            "mouth_translation": np.zeros((b, 3), np.float64),
            "origin": np.zeros((b, 2), np.int32),
            "colours": np.zeros((b, 2, 3), np.float32),
            "mouth_box": np.tile(np.array([0, 0, 8, 8], np.int32), (b, 1)),
        })
    return batch


def generator_inputs(generator, batch: dict) -> dict:
    """What ``generator`` reads from a batch: ``audio`` and ``identity``, or the names its
    ``INPUTS`` lists (the joint stage's generator also reads the identity's rig)."""
    return {name: batch[name] for name in getattr(generator, "INPUTS", ("audio", "identity"))}
