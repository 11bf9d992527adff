"""Shared by the export, serving and TFLite tests: a tiny generator that behaves like a trained one."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def settled_tiny_checkpoint(folder: Path, seed: int = 0, steps: int = 30) -> Path:
    """A tiny generator checkpoint whose batch-norm statistics match its activations.

    Fresh batch norms (mean 0, variance 1) leave a random generator's activations growing
    layer after layer (hundreds at the audio features), so its frames saturate and float
    rounding is magnified. A few forward passes in training mode on random windows set the
    moving statistics as training would, giving unsaturated frames (std ~0.5) whose
    comparisons mean something.
    """
    from lipmotion_tf.generate.checkpoint import save_generator_npz
    from lipmotion_tf.models.factory import build_generator
    from lipmotion_tf.testing import tiny_experiment_config

    config = tiny_experiment_config()
    generator = build_generator(config)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        generator({"audio": rng.normal(-40, 20, (4, 64, 128)).astype(np.float32),
                   "identity": rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)},
                  training=True)
    return save_generator_npz(generator, config, folder)
