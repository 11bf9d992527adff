"""Experiment configuration: nested dataclasses, YAML files and ``section.key=value`` overrides.

A configuration is built as ``defaults -> YAML file -> command-line overrides``. Unknown keys
and impossible values fail at once with a :class:`~lipmotion_tf.errors.ConfigError` naming the
key, before any data is read or any model is built. The resolved configuration is saved next to
every checkpoint so a run can always be reproduced.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

from lipmotion_tf.errors import ConfigError


#: The speech sample rate of every model this project trains (the paper's 44.1 kHz), and so
#: of the serving contract and the clients; a checkpoint's config.yaml may set another.
SPEECH_SAMPLE_RATE = 44100

#: Largest accepted ``seed``: NumPy's legacy seeding (``keras.utils.set_random_seed``) takes
#: 32-bit seeds, and the data pipeline adds small offsets to it.
MAX_SEED = 2**31 - 1


def check_experiment(seed: int, kind: str | None = None, expected: str | None = None,
                     what: str = "") -> None:
    """The checks every experiment file's top shares: ``kind`` is ``expected`` (files of the
    models other than the paper's), and the seed is in ``[0, MAX_SEED]``.

    Raises:
        ConfigError: naming the value.
    """
    if kind != expected:
        raise ConfigError(f"kind must be '{expected}' for {what}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, {MAX_SEED}], got {seed}")

#: Most frames a generated video may ease in over (``data.ease_in``, ``--ease-in``): 10 s at
#: 25 fps; its weights are one float a frame, and a hundred million of them once took 3.5 GB.
MAX_EASE_IN = 250


def check_positive(key: str, value, allow_zero: bool = False) -> None:
    """Refuses a value that is not a finite number ``> 0`` (``>= 0`` with ``allow_zero``)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)):
        bound = ">= 0" if allow_zero else "positive"
        raise ConfigError(f"{key} must be {bound} and finite, got {value!r}")


def check_unit_interval(key: str, value) -> None:
    """Refuses a value outside ``[0, 1)`` (NaN included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{key} must be in [0, 1), got {value!r}")


def read_yaml(path: str | Path) -> Any:
    """The content of a YAML file, or a ConfigError naming the file.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 text or is not valid YAML.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(f"{path}: not valid YAML ({first_line})") from None


@dataclasses.dataclass
class AudioConfig:
    """Audio front end shared by data preparation, training, generation and export.

    Attributes:
        sample_rate: model sample rate in Hz; every input is resampled to it.
        fps: video frame rate; audio and video are aligned at this rate.
        n_fft: STFT size (Hann window of the same length).
        hop_length: STFT hop in samples. ``sample_rate / fps / hop_length`` must be a whole
            number: the mel frames per video frame (4 at 44.1 kHz, hop 441, 25 fps).
        n_mels: mel bands (librosa's Slaney filterbank).
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz (16 kHz as the authors' code).
        amin: floor of the power before the log, as ``librosa.power_to_db``.
    """

    sample_rate: int = SPEECH_SAMPLE_RATE
    fps: int = 25
    n_fft: int = 1024
    hop_length: int = 441
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 16000.0
    amin: float = 1e-10

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per video frame (1764 at 44.1 kHz and 25 fps)."""
        return self.sample_rate // self.fps

    @property
    def mel_frames_per_frame(self) -> int:
        """Log-mel frames per video frame (4 by default)."""
        return self.samples_per_frame // self.hop_length

    def validate(self) -> None:
        for name in ("sample_rate", "fps", "n_fft", "hop_length", "n_mels"):
            check_positive(f"audio.{name}", getattr(self, name))
        check_positive("audio.amin", self.amin)
        if not (math.isfinite(self.fmin) and math.isfinite(self.fmax)):
            raise ConfigError(f"audio.fmin/fmax must be finite, got {self.fmin}, {self.fmax}")
        if self.sample_rate % self.fps:
            raise ConfigError(
                f"audio.sample_rate ({self.sample_rate}) must be a multiple of audio.fps ({self.fps})"
            )
        if self.samples_per_frame % self.hop_length:
            raise ConfigError(
                f"audio.hop_length ({self.hop_length}) must divide the {self.samples_per_frame} "
                "samples of one video frame"
            )
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError("audio.fmin/fmax must satisfy 0 <= fmin < fmax <= sample_rate / 2")


@dataclasses.dataclass
class DataConfig:
    """Prepared data and the training windows drawn from it.

    Attributes:
        image_size: side of the square lip crop in pixels.
        crop_scale: side of the crop relative to the larger side of the mouth's bounding box.
        window: video frames per training window (the generator's output length).
        hop: frames between the starts of consecutive windows.
        batch_size: windows per batch.
        shuffle_buffer: windows held for shuffling.
        val_fraction: share of clips in the validation split (chosen by clip id hash).
        test_fraction: share of clips in the test split.
        cache: keep decoded clips in memory after the first epoch.
        augment: give each training window a random appearance (colour, flip, zoom,
            shift), the same for its identity image and frames
            (:mod:`lipmotion_tf.data.augment`).
        source_weights: with extra training folders (``lipmotion train --data A --data B``),
            the share of windows drawn from each, in order; empty: in proportion to their
            window counts.
        still_fraction: share of training windows replaced by quiet audio and the
            identity image held still, so that silence keeps the given mouth
            (:mod:`lipmotion_tf.data.still_windows`).
        ease_in: generation only: a generated video opens on the identity image itself
            (its first frame) and eases into the generated frames over this many frames
            (:func:`~lipmotion_tf.generate.blending.ease_in_weights`); 0: it opens on the
            first generated frame.
    """

    image_size: int = 64
    crop_scale: float = 1.3
    window: int = 16
    hop: int = 8
    batch_size: int = 24
    shuffle_buffer: int = 2048
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    cache: bool = True
    augment: bool = False
    source_weights: list[float] = dataclasses.field(default_factory=list)
    still_fraction: float = 0.0
    ease_in: int = 0

    def validate(self) -> None:
        if self.image_size % 4 or self.image_size < 16:
            raise ConfigError("data.image_size must be a multiple of 4 and at least 16")
        check_positive("data.crop_scale", self.crop_scale)
        check_positive("data.shuffle_buffer", self.shuffle_buffer, allow_zero=True)
        check_unit_interval("data.val_fraction", self.val_fraction)
        check_unit_interval("data.test_fraction", self.test_fraction)
        if self.window < 2 or self.hop < 1:
            raise ConfigError("data.window must be >= 2 and data.hop >= 1")
        if self.batch_size < 1:
            raise ConfigError("data.batch_size must be >= 1")
        if not 0 <= self.val_fraction + self.test_fraction < 1:
            raise ConfigError("data.val_fraction + data.test_fraction must be in [0, 1)")
        if any(not 0 <= w < math.inf for w in self.source_weights) or (
                self.source_weights and sum(self.source_weights) <= 0):
            raise ConfigError("data.source_weights must be finite, >= 0, with a positive sum")
        if not 0 <= self.still_fraction < 1:
            raise ConfigError("data.still_fraction must be in [0, 1)")
        if not 0 <= self.ease_in <= MAX_EASE_IN:
            raise ConfigError(f"data.ease_in must be from 0 to {MAX_EASE_IN} frames")


#: ``model.generator``: the paper's one-stage generator, or the joint stage's motion model.
GENERATORS = ("paper", "motion")


@dataclasses.dataclass
class ModelConfig:
    """Network sizes. Defaults are the authors' full-size networks; shrink them for tests.

    Attributes:
        generator_channels: generator width ``ngf`` (64: ~16.7 M parameters). The audio
            encoder uses ngf/2..4*ngf channels, the identity encoder ngf..4*ngf.
        generator_res_blocks: residual blocks in the generator's decoder (9).
        generator_res_kernel_3d: use 3x3x3 residual kernels (the authors' variant) instead of
            1x3x3 (the authors' default generator).
        discriminator_channels: discriminator width (64).
        discriminator_streams: ``three`` (audio, video, optical flow: the paper), ``two``
            (audio, video) or ``frame_diff`` (third stream on frame differences).
        flownet_channels: FlowNetS width (64 as FlowNetS; smaller for CPU runs).
        correlation_channels: width of the audio-derivative encoder's first layer (128).
        autoencoder_channels: perceptual autoencoder width (64).
        autoencoder_res_blocks: residual blocks of the perceptual autoencoder (6).
        generator_output: ``direct`` (the paper: the decoder draws every pixel) or
            ``attention`` (a colour map blended with the identity image through a generated
            mask; see :class:`~lipmotion_tf.models.generator.LipGenerator`).
        generator_upsampling: ``transpose`` (the paper's transposed convolutions) or
            ``resize`` (nearest copy + convolution: no checkerboard).
        generator_attention_region: ``full`` (the mask may open anywhere) or ``mouth``
            (the mask is held at zero above the upper lip, where speech changes nothing;
            attention output only; changes no weight).
        generator_warp_range: 0 (no warp) or the largest vertical shift, in pixels, by which
            the generator may move each pixel of the identity image before blending it
            (attention output only; a small extra head of weights).
        generator_dead_zone: 0 or a soft threshold in (0, 0.5) on the mask and the
            normalised shift: what the generator would change by less comes back as the given
            image exactly (attention output only; changes no weight).
        generator: ``paper`` (Chen et al.'s one-stage generator, the settings above) or
            ``motion``: the joint stage, the motion model rendered by the motion-first
            renderer (:class:`~lipmotion_tf.motion.joint_generator.JointGenerator`), trained
            on ``lipmotion prepare-joint`` windows.
        motion_checkpoint: the joint stage's starting motion model: a motion model folder,
            or ``shipped``.
        motion_crop: side of the identity crop the joint stage's renderer moves (the
            windows' ``--crop-size``).
        motion_soft_edges: 0, or the width in pixels of the drawn interior's edges in the
            joint stage, which then pass gradients to the inner-lip landmarks (how far the
            mouth opens shows in the pixels).
    """

    generator_channels: int = 64
    generator_res_blocks: int = 9
    generator_res_kernel_3d: bool = False
    discriminator_channels: int = 64
    discriminator_streams: str = "three"
    flownet_channels: int = 64
    correlation_channels: int = 128
    autoencoder_channels: int = 64
    autoencoder_res_blocks: int = 6
    generator_output: str = "direct"
    generator_upsampling: str = "transpose"
    generator_attention_region: str = "full"
    generator_warp_range: int = 0
    generator_dead_zone: float = 0.0
    generator: str = "paper"
    motion_checkpoint: str = "shipped"
    motion_crop: int = 128
    motion_soft_edges: float = 0.0

    def validate(self) -> None:
        if self.generator not in GENERATORS:
            raise ConfigError(f"model.generator must be one of {', '.join(GENERATORS)}, "
                              f"got {self.generator!r}")
        if not 64 <= self.motion_crop <= 512:
            raise ConfigError(f"model.motion_crop must be from 64 to 512, got {self.motion_crop}")
        if not 0 <= self.motion_soft_edges <= 8:
            raise ConfigError("model.motion_soft_edges must be from 0 to 8 pixels, got "
                              f"{self.motion_soft_edges}")
        for name in ("generator_channels", "discriminator_channels", "flownet_channels",
                     "correlation_channels", "autoencoder_channels"):
            value = getattr(self, name)
            if value < 4 or value % 4:
                raise ConfigError(f"model.{name} must be a positive multiple of 4, got {value}")
        if self.generator_res_blocks < 0 or self.autoencoder_res_blocks < 0:
            raise ConfigError("model.*_res_blocks must be >= 0")
        if self.discriminator_streams not in ("three", "two", "frame_diff"):
            raise ConfigError(
                "model.discriminator_streams must be one of three, two, frame_diff, "
                f"got {self.discriminator_streams!r}"
            )
        if self.generator_output not in ("direct", "attention"):
            raise ConfigError(
                f"model.generator_output must be direct or attention, got {self.generator_output!r}"
            )
        if self.generator_upsampling not in ("transpose", "resize"):
            raise ConfigError(
                "model.generator_upsampling must be transpose or resize, "
                f"got {self.generator_upsampling!r}"
            )
        if self.generator_attention_region not in ("full", "mouth"):
            raise ConfigError(
                "model.generator_attention_region must be full or mouth, "
                f"got {self.generator_attention_region!r}"
            )
        if self.generator_warp_range < 0 or (
            self.generator_warp_range and self.generator_output != "attention"
        ):
            raise ConfigError(
                "model.generator_warp_range must be 0, or positive with "
                f"model.generator_output: attention, got {self.generator_warp_range}"
            )
        if not 0.0 <= self.generator_dead_zone < 0.5 or (
            self.generator_dead_zone and self.generator_output != "attention"
        ):
            raise ConfigError(
                "model.generator_dead_zone must be 0, or in (0, 0.5) with "
                f"model.generator_output: attention, got {self.generator_dead_zone}"
            )


@dataclasses.dataclass
class LossConfig:
    """Loss weights of the generator objective (paper Eq. 2) and switches for the ablations.

    The paper weights correlation 0.5, reconstruction 1.0 and perceptual 1.0 against the
    adversarial term; the authors' code uses 0.2 for L1. Defaults follow the paper.

    Attributes:
        adversarial: weight of the generator's adversarial term.
        reconstruction: weight of the L1 reconstruction term.
        perceptual: weight of the perceptual (autoencoder feature) term; 0 disables it.
        correlation: weight of each correlation term (real-video flows and generated-video
            flows); 0 disables the correlation loss.
        correlation_on_fake: also correlate audio with the generated video's flows.
        derivative_correlation: correlate audio derivatives with optical flow (the paper);
            false gives the "non-derivative correlation" ablation (features and frames).
        mismatch: weight of the discriminator's mismatched-audio term (paper: 0.5 on both
            fake terms).
        attention: weight of the attention-mask penalty (``model.generator_output:
            attention`` only): the mean mask, so that unchanged pixels are copied.
        attention_smoothness: weight of the mask's total variation.
        warp: weight of the warp penalty (``model.generator_warp_range`` > 0 only): the mean
            absolute shift as a fraction of the range, so that the given image is moved only
            where the speech asks for it.
        motion_weighting: extra weight of the L1 term on pixels where the real frame
            differs from the identity image (0: the paper's plain L1; see
            :func:`~lipmotion_tf.train.losses.motion_weighted_reconstruction_loss`).

    With ``adversarial: 0`` the discriminator is neither run nor updated (the warm-up stage).
    """

    adversarial: float = 1.0
    reconstruction: float = 1.0
    perceptual: float = 1.0
    correlation: float = 0.5
    correlation_on_fake: bool = True
    derivative_correlation: bool = True
    mismatch: float = 0.5
    attention: float = 0.05
    attention_smoothness: float = 0.1
    warp: float = 0.0
    motion_weighting: float = 0.0

    def validate(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not 0 <= value < math.inf:  # also refuses NaN
                raise ConfigError(f"loss.{field.name} must be a finite number >= 0, got {value}")


@dataclasses.dataclass
class OptimizerConfig:
    """Adam settings per network group, as in the authors' code.

    Attributes:
        learning_rate: generator and discriminator learning rate.
        discriminator_learning_rate: the discriminator's own learning rate (``None``: the
            generator's); a slower discriminator takes longer to overpower a small generator.
        beta_1: generator and discriminator Adam beta 1.
        beta_2: generator and discriminator Adam beta 2.
        correlation_learning_rate: correlation encoders' learning rate.
        correlation_weight_decay: correlation encoders' weight decay.
        flownet_learning_rate: FlowNet learning rate during GAN training.
        flownet_pretrain_learning_rate: FlowNet learning rate in its own stage.
        flownet_weight_decay: FlowNet weight decay.
        autoencoder_learning_rate: perceptual autoencoder learning rate.
        generator_ema: momentum of an exponential moving average of the generator's
            weights (Keras' optimizer EMA), written over the weights at the end of every
            epoch, so that each checkpoint and the exported generator hold the average:
            GAN generators jitter from step to step and the average is steadier
            (0 = off; 0.99 averages over about 100 steps). Needs ``train.steps_per_epoch``.
    """

    learning_rate: float = 2e-4
    discriminator_learning_rate: typing.Optional[float] = None
    beta_1: float = 0.5
    beta_2: float = 0.999
    correlation_learning_rate: float = 1e-4
    correlation_weight_decay: float = 5e-4
    flownet_learning_rate: float = 1e-4
    flownet_pretrain_learning_rate: float = 2e-4
    flownet_weight_decay: float = 4e-4
    autoencoder_learning_rate: float = 2e-4
    generator_ema: float = 0.0

    def validate(self) -> None:
        for name in ("learning_rate", "correlation_learning_rate", "flownet_learning_rate",
                     "flownet_pretrain_learning_rate", "autoencoder_learning_rate"):
            check_positive(f"optimizer.{name}", getattr(self, name))
        if self.discriminator_learning_rate is not None:
            check_positive("optimizer.discriminator_learning_rate",
                           self.discriminator_learning_rate)
        for name in ("correlation_weight_decay", "flownet_weight_decay"):
            check_positive(f"optimizer.{name}", getattr(self, name), allow_zero=True)
        check_unit_interval("optimizer.beta_1", self.beta_1)
        check_unit_interval("optimizer.beta_2", self.beta_2)
        if not 0.0 <= self.generator_ema < 1.0:
            raise ConfigError(
                f"optimizer.generator_ema must be in [0, 1), got {self.generator_ema}"
            )


_ZERO_MEANS = {"steps_per_epoch": "one pass over the data",
               "validation_steps": "the whole split", "preview_every": "no previews"}


@dataclasses.dataclass
class TrainConfig:
    """The three training stages and how they run.

    Attributes:
        flow_epochs: epochs of the FlowNet stage (Farneback targets); 0 skips it.
        autoencoder_epochs: epochs of the perceptual autoencoder stage; 0 skips it.
        warmup_epochs: epochs of the warm-up stage before the GAN: every generator loss
            but the adversarial one, no discriminator (cheaper per step); 0 skips it.
        gan_epochs: epochs of the GAN stage.
        steps_per_epoch: batches per epoch; 0 means one pass over the training windows.
        validation_steps: validation batches per epoch; 0 means the whole split.
        mixed_precision: train in mixed_float16 (GPU) with loss scaling.
        precision: the Keras dtype policy otherwise: ``float32``, or ``mixed_bfloat16``
            (GPUs, and CPUs with bfloat16 instructions).
        jit_compile: compile train steps with XLA.
        distribute: ``none``, ``mirrored`` (all local devices) or ``multi_worker``.
        preview_every: epochs between TensorBoard video previews; 0 disables them.
        checkpoints_kept: newest epoch checkpoints kept per stage (older ones are deleted);
            ``lipmotion export checkpoint --average N`` averages up to this many.
    """

    flow_epochs: int = 5
    autoencoder_epochs: int = 5
    warmup_epochs: int = 0
    gan_epochs: int = 20
    steps_per_epoch: int = 0
    validation_steps: int = 0
    mixed_precision: bool = False
    precision: str = "float32"
    jit_compile: bool = False
    distribute: str = "none"
    preview_every: int = 1
    checkpoints_kept: int = 2

    def validate(self) -> None:
        if self.checkpoints_kept < 1:
            raise ConfigError(f"train.checkpoints_kept must be >= 1, got {self.checkpoints_kept}")
        if min(self.flow_epochs, self.autoencoder_epochs, self.warmup_epochs,
               self.gan_epochs) < 0:
            raise ConfigError("train.*_epochs must be >= 0")
        for name in ("steps_per_epoch", "validation_steps", "preview_every"):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"train.{name} must be >= 0 (0: {_ZERO_MEANS[name]}), "
                                  f"got {value}")
        if self.precision not in ("float32", "mixed_bfloat16"):
            raise ConfigError(
                f"train.precision must be float32 or mixed_bfloat16, got {self.precision!r}"
            )
        if self.mixed_precision and self.precision != "float32":
            raise ConfigError("train.mixed_precision (float16) and train.precision "
                              f"{self.precision} exclude each other")
        if self.distribute not in ("none", "mirrored", "multi_worker"):
            raise ConfigError(
                f"train.distribute must be none, mirrored or multi_worker, got {self.distribute!r}"
            )


@dataclasses.dataclass
class ExperimentConfig:
    """One experiment: every setting a run depends on.

    Attributes:
        name: experiment name, used for output folders.
        seed: seed for data order, identity frames and initialisation.
        audio: audio front end.
        data: prepared data and windows.
        model: network sizes and discriminator streams.
        loss: loss weights and ablation switches.
        optimizer: learning rates.
        train: stages, precision and distribution.
    """

    name: str = "default"
    seed: int = 1234
    audio: AudioConfig = dataclasses.field(default_factory=AudioConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def validate(self) -> None:
        check_experiment(self.seed)
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if dataclasses.is_dataclass(value) and hasattr(value, "validate"):
                value.validate()
        if self.optimizer.generator_ema and self.train.steps_per_epoch <= 0:
            raise ConfigError("optimizer.generator_ema writes the average at epoch ends: "
                              "it needs train.steps_per_epoch > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Converts ``value`` (from YAML or a command line string) to the field's type."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, str):
            lowered = value.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if annotation in (int, float, str):
        try:
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if annotation in (int, float) and isinstance(value, bool):
                raise ValueError  # yes/no is not a number
            if annotation is str and not isinstance(value, (str, int, float)):
                raise ValueError  # a mapping or a list is not a name
            return annotation(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r}") from None
    if origin in (list, tuple):
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return origin(_coerce(v, item_type, key) for v in value)
    if annotation is dict or origin is dict:
        parsed = value
        if isinstance(value, str):  # a command line's "{a: 1, b: 2}"
            import yaml

            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                parsed = None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{key}: expected a mapping such as {{a: 1, b: 2}}, got {value!r}")
        return parsed
    if origin in (typing.Union, types.UnionType):  # Optional[X] or X | None
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, args[0], key)
    return value


def _merge(instance: Any, updates: dict[str, Any], prefix: str = "") -> Any:
    if not isinstance(updates, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {updates!r}")
    hints = typing.get_type_hints(type(instance))
    fields = {f.name for f in dataclasses.fields(instance)}
    for key, value in updates.items():
        full_key = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{full_key}' (known keys here: {known})")
        current = getattr(instance, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, prefix=f"{full_key}.")
        else:
            setattr(instance, key, _coerce(value, hints[key], full_key))
    return instance


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turns ``["gan.epochs=3", "data.batch_size=8"]`` into a nested dict of strings."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        dotted, value = item.split("=", 1)
        node = nested
        *parents, leaf = dotted.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    config_class: type = ExperimentConfig,
) -> Any:
    """Builds and validates a configuration.

    Args:
        path: optional YAML experiment file (for example ``training/demo.yaml``).
        overrides: ``section.key=value`` strings applied after the file.
        config_class: the root dataclass.

    Raises:
        ConfigError: unreadable or non-UTF-8 file, unknown key or impossible value.
    """
    config = config_class()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        _merge(config, read_yaml(path) or {})
    if overrides:
        _merge(config, parse_overrides(overrides))
    config.validate()
    return config


def config_from_dict(content: dict[str, Any], config_class: type = ExperimentConfig) -> Any:
    """Rebuilds a configuration saved with :meth:`ExperimentConfig.to_dict`."""
    config = _merge(config_class(), content)
    config.validate()
    return config
