"""Shared test fixtures.

Real-data tests read ``../shared/data`` beside the repository (or ``$LIPMOTION_DATA``) and
skip with a message when it is absent, so the suite runs anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cpu_kernels import prefer_onednn

# The kernels `lipmotion` chooses, set before any test module loads TensorFlow: the in-process
# tests then run what the commands run, and oneDNN's 3D convolution gradients are several
# times faster than Eigen's on AVX2-only CPUs (a tiny GAN step: 24 s -> 6 s eager).
prefer_onednn()

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("LIPMOTION_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings folder; skips the test when it is absent."""
    path = _shared_data_dir()
    if not (path / "grid").is_dir():
        pytest.skip(f"real data not found at {path} (set LIPMOTION_DATA to run real-data tests)")
    return path


@pytest.fixture(scope="session")
def optional_shared_data() -> Path | None:
    """The real recordings folder, or None when absent (for tests that also run without it)."""
    path = _shared_data_dir()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def grid_s1(shared_data) -> Path:
    return shared_data / "grid" / "s1"


def settled_tiny_checkpoint(folder: Path, seed: int = 0, steps: int = 30) -> Path:
    """A tiny generator checkpoint whose batch-norm statistics match its activations.

    Fresh batch norms (mean 0, variance 1) leave a random generator's activations growing
    layer after layer (hundreds at the audio features), so its frames saturate and float
    rounding is magnified. A few forward passes in training mode on random windows set the
    moving statistics as training would, giving unsaturated frames (std ~0.5) whose
    comparisons mean something. ``seed`` also fixes the initial weights, so every run of the
    suite tests the same generator (a random draw once made a margin test fail).
    """
    import keras

    from lipmotion_tf.generate.checkpoint import save_generator_npz
    from lipmotion_tf.models.factory import build_generator
    from lipmotion_tf.testing import tiny_experiment_config

    config = tiny_experiment_config()
    keras.utils.set_random_seed(seed)
    generator = build_generator(config)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        generator({"audio": rng.normal(-40, 20, (4, 64, 128)).astype(np.float32),
                   "identity": rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)},
                  training=True)
    save_generator_npz(generator, config, folder)
    return Path(folder)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny generator checkpoint folder (config.yaml + weights), made once per run."""
    return settled_tiny_checkpoint(tmp_path_factory.mktemp("tiny_generator"))


@pytest.fixture(scope="session")
def generator_and_config(tiny_checkpoint):
    from lipmotion_tf.generate.checkpoint import load_generator

    return load_generator(tiny_checkpoint)


@pytest.fixture(scope="session")
def exported_model_base(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint exported once as a TF Serving model base (version 1); read only."""
    from lipmotion_tf.cli.main import main

    base = tmp_path_factory.mktemp("exported") / "lipmotion"
    assert main(["export", "saved-model", "--checkpoint", str(tiny_checkpoint),
                 "--output", str(base)]) == 0
    return base


@pytest.fixture(scope="session")
def tiny_motion_checkpoint(tmp_path_factory) -> Path:
    """A tiny, untrained motion model folder (config.yaml + weights), as training writes it."""
    from lipmotion_tf.motion.config import WEIGHTS_NAME, MotionExperimentConfig
    from lipmotion_tf.motion.motion_generator import MotionGenerator
    from lipmotion_tf.train.runner import save_config

    folder = tmp_path_factory.mktemp("motion_model")
    config = MotionExperimentConfig()
    config.model.channels = 16
    config.model.dilations = [1, 2]
    generator = MotionGenerator.from_experiment(config)
    generator({"log_mel": np.zeros((1, 32, 128), np.float32),
               "rest": np.zeros((1, 59, 2), np.float32)})
    head = generator.get_layer("head")
    kernel, bias = head.get_weights()
    rng = np.random.default_rng(0)
    head.set_weights([rng.normal(0, 0.05, kernel.shape).astype(np.float32), bias])
    generator.save_weights(str(folder / WEIGHTS_NAME))
    save_config(config, folder / "config.yaml")
    return folder
