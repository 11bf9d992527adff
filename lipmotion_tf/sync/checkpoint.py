"""Sync expert folders: ``config.yaml`` beside ``sync_expert.weights.h5`` (a run, or the one
shipped in the package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.sync.config import WEIGHTS_NAME, SyncExperimentConfig


def sync_checkpoint() -> Path:
    """The sync expert shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / "sync"


def build_expert(config: SyncExperimentConfig):
    """The expert of ``config`` with its weights created."""
    from lipmotion_tf.sync.expert import SyncExpert

    expert = SyncExpert.from_experiment(config)
    frames = config.model.window
    expert({"log_mel": np.zeros((1, frames * config.audio.mel_frames_per_frame,
                                 config.audio.n_mels), np.float32),
            "motion": np.zeros((1, frames, config.model.points, 2), np.float32)})
    return expert


def load_sync_expert(run_dir: str | Path):
    """The trained :class:`~lipmotion_tf.sync.expert.SyncExpert` of a run (or shipped model)
    folder and its config."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import InputError

    run_dir = Path(run_dir)
    weights = run_dir / WEIGHTS_NAME
    if not weights.is_file():
        raise InputError(f"no sync expert in {run_dir} ({WEIGHTS_NAME} missing)")
    config = load_config(run_dir / "config.yaml", config_class=SyncExperimentConfig)
    expert = build_expert(config)
    expert.load_weights(str(weights))
    return expert, config
