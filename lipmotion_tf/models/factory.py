"""Builds every network of an experiment from its configuration."""

from __future__ import annotations

import numpy as np

from lipmotion_tf.config import ExperimentConfig
from lipmotion_tf.errors import ConfigError
from lipmotion_tf.models.audio_derivative_encoder import AudioDerivativeEncoder
from lipmotion_tf.models.autoencoder import VideoAutoencoder
from lipmotion_tf.models.discriminator import LipDiscriminator
from lipmotion_tf.models.flow_encoder import FlowEncoder
from lipmotion_tf.models.flownet import FlowNet
from lipmotion_tf.models.generator import LipGenerator
from lipmotion_tf.train.shapes import generator_inputs, zero_batch

# Sizes the network layouts are written for (the paper's 64x64 lips, 128 mel bands).
IMAGE_SIZE = 64
N_MELS = 128
DISCRIMINATOR_WINDOW = 16


#: LipGenerator argument -> the ``model`` config key that sets it (the generator's
#: architecture: weights fit only a generator with the same values).
GENERATOR_CONFIG_KEYS = {
    "channels": "generator_channels",
    "res_blocks": "generator_res_blocks",
    "res_kernel_3d": "generator_res_kernel_3d",
    "output_mode": "generator_output",
    "upsampling": "generator_upsampling",
    "attention_region": "generator_attention_region",
    "warp_range": "generator_warp_range",
    "dead_zone": "generator_dead_zone",
}


def generator_arguments(model_config) -> dict:
    """The :class:`LipGenerator` arguments a :class:`~lipmotion_tf.config.ModelConfig` sets."""
    return {arg: getattr(model_config, key) for arg, key in GENERATOR_CONFIG_KEYS.items()}


def _zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, dtype="float32")


def _check_geometry(config: ExperimentConfig) -> None:
    """Image size and audio settings every network is laid out for."""
    if config.data.image_size != IMAGE_SIZE:
        raise ConfigError(
            f"data.image_size must be {IMAGE_SIZE} for these networks, got {config.data.image_size}"
        )
    if config.audio.n_mels != N_MELS:
        raise ConfigError(
            f"audio.n_mels must be {N_MELS} for these networks, got {config.audio.n_mels}"
        )
    if config.audio.mel_frames_per_frame != 4:
        raise ConfigError(
            "the audio settings must give 4 mel frames per video frame "
            f"(sample_rate / fps / hop_length), got {config.audio.mel_frames_per_frame}"
        )


def build_networks(config: ExperimentConfig, generator=None) -> dict:
    """Creates and builds the networks described by ``config``.

    Each network is called once on a batch of zeros so that its weights exist (and can be
    restored or counted) before training starts.

    Args:
        config: the experiment; ``config.model`` gives the sizes,
            ``config.loss.derivative_correlation`` selects the correlation encoders' inputs.
        generator: a generator to use instead of the paper's (the joint stage's
            :func:`~lipmotion_tf.motion.joint_generator.build_joint_generator`).

    Returns:
        ``{"generator", "discriminator", "flownet", "audio_encoder", "flow_encoder",
        "autoencoder"}`` -> built ``keras.Model``. ``audio_encoder`` is the
        :class:`AudioDerivativeEncoder` of the correlation loss.

    Raises:
        ConfigError: image size, mel bands or window the networks cannot take.
    """
    _check_geometry(config)
    if config.data.window != DISCRIMINATOR_WINDOW:
        raise ConfigError(
            f"data.window must be {DISCRIMINATOR_WINDOW}: the discriminator reduces exactly "
            f"{DISCRIMINATOR_WINDOW} frames to one, got {config.data.window}"
        )
    if config.model.correlation_channels % 8:
        raise ConfigError(
            "model.correlation_channels must be a multiple of 8 (the audio encoder halves it "
            f"three times), got {config.model.correlation_channels}"
        )
    model = config.model
    derivative = config.loss.derivative_correlation
    frames = config.data.window
    size = IMAGE_SIZE
    flow_size = size // 4

    networks = {
        "generator": generator or LipGenerator(**generator_arguments(model), name="generator"),
        "discriminator": LipDiscriminator(
            channels=model.discriminator_channels,
            streams=model.discriminator_streams,
            name="discriminator",
        ),
        "flownet": FlowNet(channels=model.flownet_channels, name="flownet"),
        "audio_encoder": AudioDerivativeEncoder(
            channels=model.correlation_channels, derivative=derivative, name="audio_encoder"
        ),
        "flow_encoder": FlowEncoder(derivative=derivative, name="flow_encoder"),
        "autoencoder": VideoAutoencoder(
            channels=model.autoencoder_channels,
            res_blocks=model.autoencoder_res_blocks,
            name="autoencoder",
        ),
    }
    batch = zero_batch(config)
    video = batch["video"]
    outputs = networks["generator"](generator_inputs(networks["generator"], batch))
    disc_inputs = {"video": video, "audio": _zeros(1, 4 * frames, N_MELS)}
    if model.discriminator_streams == "three":
        disc_inputs["flow"] = _zeros(1, frames - 1, flow_size, flow_size, 2)
    networks["discriminator"](disc_inputs)
    networks["flownet"](_zeros(1, size, size, 6))
    feature_frames = frames - 1 if derivative else frames
    networks["audio_encoder"](outputs["audio_features"])
    networks["flow_encoder"](
        _zeros(1, feature_frames, flow_size, flow_size, 2) if derivative else video
    )
    networks["autoencoder"](video)
    return networks


def build_generator(config: ExperimentConfig, **kwargs) -> LipGenerator:
    """Creates and builds only the generator of ``config`` (for generation and export).

    Args:
        config: the experiment the generator was trained with.
        **kwargs: extra :class:`LipGenerator` arguments (for example ``frame_conv_2d``).
    """
    _check_geometry(config)
    generator = LipGenerator(**generator_arguments(config.model), name="generator", **kwargs)
    frames = config.data.window
    generator({
        "audio": np.zeros((1, 4 * frames, N_MELS), "float32"),
        "identity": np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), "float32"),
    })
    return generator
