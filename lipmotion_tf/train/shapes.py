"""The shapes a configuration gives the networks' inputs.

A module of its own, importing nothing of the package's training code, so that both the
runner and the readers of a run's generator (:mod:`~lipmotion_tf.train.run_generator`, used by
``--init-from``) can build the networks without importing one another.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.config import ExperimentConfig


def zero_batch(config: ExperimentConfig) -> dict:
    """A batch of zeros of the configuration's shapes, to build the networks."""
    b, t, s = 1, config.data.window, config.data.image_size
    mels = t * config.audio.mel_frames_per_frame
    return {
        "audio": np.zeros((b, mels, config.audio.n_mels), np.float32),
        "video": np.zeros((b, t, s, s, 3), np.float32),
        "identity": np.zeros((b, s, s, 3), np.float32),
    }
