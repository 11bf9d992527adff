"""Helpers for tests: small configurations that build and run in seconds on a CPU."""

from __future__ import annotations

from lipmotion_tf.config import ExperimentConfig


def tiny_experiment_config() -> ExperimentConfig:
    """An :class:`ExperimentConfig` with tiny networks (width 8, one residual block).

    Geometry (64x64 lips, 128 mels, 16-frame windows) is unchanged, so every shape a test
    sees is a real one; only widths, depths and the batch size shrink.
    """
    config = ExperimentConfig(name="tiny")
    model = config.model
    model.generator_channels = 8
    model.generator_res_blocks = 1
    model.discriminator_channels = 8
    model.flownet_channels = 8
    model.correlation_channels = 16
    model.autoencoder_channels = 8
    model.autoencoder_res_blocks = 1
    config.data.batch_size = 2
    config.validate()
    return config
