"""Configuration of the motion model's experiments (``training/motion.yaml``).

Built like the paper model's configuration (defaults -> YAML -> ``--set`` overrides, checked
before any data is read) with :func:`lipmotion_tf.config.load_config`; a YAML file with
``kind: motion`` at its top is a motion experiment.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lipmotion_tf.config import AudioConfig, check_experiment
from lipmotion_tf.errors import ConfigError
from lipmotion_tf.motion.interior_config import InteriorModelConfig

MOTION_KIND = "motion"
#: The motion generator's weights in a run (or shipped model) folder, beside config.yaml.
WEIGHTS_NAME = "motion_generator.weights.h5"


@dataclasses.dataclass
class MotionModelConfig:
    """The speech -> motion network (:class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`).

    Attributes:
        channels: width of the temporal convolutions.
        dilations: dilation of each residual block at 25 fps (kernel 3); the look-ahead in
            frames is ``sum(dilations) + 2`` (the strided audio front adds two).
        points: motion points predicted (59: the lip set and the jaw,
            :data:`~lipmotion_tf.motion.representation.MOTION_INDICES`); a check against the data.
        target_scale: targets are multiplied by this in training (displacements are a few
            hundredths of the mouth width).
        mel_std_floor: floor (dB) of the per-utterance log-mel deviation, so that a quiet,
            flat recording is not blown up into loud noise.
        silence_db: frames whose loudest mel band is this far below the utterance's loudest
            frame count as silence for the loudness input.
        rest_units: width of the rest shape's embedding (narrow: the shape must not identify
            a training clip).
        rest_noise: std (mouth widths) of the training noise on the rest shape.
        dropout: spatial dropout after each residual block in training.
        quiet_db: video frames whose loudest mel band is below this (dB) have no voice: the
            mouth keeps its rest shape exactly (fading in over the next 20 dB).
        amplitude_input: the generator also reads how widely the person opens their mouth
            (:func:`~lipmotion_tf.motion.dataset.speaking_amplitude`: 0 is a typical
            speaker); in training each clip's own, in use the default 0, a measured video's
            (``dub``, ``adapt``) or the user's ``--expressiveness``.
        amplitude_reference: the opening deviation (mouth widths) that is amplitude 0: the
            median of the validation clips'.
        amplitude_noise: std of the training noise on the amplitude (natural log units).
    """

    channels: int = 128
    dilations: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 4, 8, 1, 2])
    points: int = 59
    target_scale: float = 10.0
    mel_std_floor: float = 6.0
    silence_db: float = 50.0
    rest_units: int = 8
    rest_noise: float = 0.03
    dropout: float = 0.2
    quiet_db: float = -60.0
    amplitude_input: bool = False
    amplitude_reference: float = 0.0314
    amplitude_noise: float = 0.1

    def validate(self) -> None:
        if not self.amplitude_reference > 0 or not self.amplitude_noise >= 0:
            raise ConfigError("model.amplitude_reference > 0 and amplitude_noise >= 0 required")
        if self.channels < 4:
            raise ConfigError("model.channels must be >= 4")
        if not self.dilations or any(d < 1 for d in self.dilations):
            raise ConfigError("model.dilations must be a non-empty list of integers >= 1")
        if self.points < 1:
            raise ConfigError("model.points must be >= 1")
        if not self.target_scale > 0 or not self.mel_std_floor > 0 or not self.silence_db > 0:
            raise ConfigError("model.target_scale, mel_std_floor and silence_db must be > 0")
        if not -200.0 < self.quiet_db < 100.0:
            raise ConfigError("model.quiet_db must be a level in dB between -200 and 100")
        if self.rest_units < 1 or not self.rest_noise >= 0 or not 0 <= self.dropout < 1:
            raise ConfigError("model.rest_units >= 1, rest_noise >= 0, 0 <= dropout < 1 required")


@dataclasses.dataclass
class MotionLossConfig:
    """Loss weights (each term is a function in :mod:`lipmotion_tf.motion.losses`).

    Attributes:
        landmark: weighted squared error of the displacements.
        closed_weight: frames are weighted ``1 + closed_weight * exp(-opening / 0.05)``, so
            closed frames (silence) weigh up to ``1 + closed_weight`` times more.
        velocity: squared error of the frame-to-frame motion.
        amplitude: squared error of each point's spread over the window (keeps the real
            amplitude where the timing is uncertain).
        opening: ``1 - r`` of the real and generated inner-lip openings over the window
            (:func:`~lipmotion_tf.motion.losses.opening_correlation_loss`).
        correlation: the audio-visual derivative correlation loss (the paper's Sec. 3.2,
            landmark velocities as the visual derivative).
        adversarial: the (audio, motion) mismatch discriminator's loss for the generator.
        mismatch_shift: audio shifts (frames) of the discriminator's mismatched real pairs.
        sync: the sync expert's matching loss on the generated motion (the expert is fixed;
            :mod:`lipmotion_tf.sync`): each speech window must pick the generated mouth at its
            own moment among the generated mouth shifted by up to ``sync_shift`` frames.
        sync_expert: run folder of the expert (empty: the one shipped in the package).
        sync_shift: the shifts each way that compete in the sync loss.
        sync_start: the sync term is weighed in from the first epoch after which the
            validation windows' sync loss is below this (Wav2Lip's switch; 0: from the start).
    """

    landmark: float = 1.0
    closed_weight: float = 2.0
    velocity: float = 1.0
    amplitude: float = 0.0
    opening: float = 0.0
    correlation: float = 0.0
    adversarial: float = 0.0
    mismatch_shift: int = 6
    sync: float = 0.0
    sync_expert: str = ""
    sync_shift: int = 6
    sync_start: float = 0.0

    def validate(self) -> None:
        for name in ("landmark", "closed_weight", "velocity", "amplitude", "opening",
                     "correlation", "adversarial", "sync", "sync_start"):
            if not 0 <= getattr(self, name) < 1e6:
                raise ConfigError(f"loss.{name} must be >= 0")
        if self.mismatch_shift < 2:
            raise ConfigError("loss.mismatch_shift must be >= 2 frames")
        if not 1 <= self.sync_shift <= 15:
            raise ConfigError("loss.sync_shift must be 1 to 15 frames")


@dataclasses.dataclass
class MotionDataConfig:
    """Training windows drawn from motion data (``lipmotion prepare-motion``).

    Attributes:
        window: frames per training window.
        batch_size: windows per batch.
        group_weights: share of windows drawn from each top-level folder of the data
            (``s1: 0.25``); folders not named share what is left in proportion to their
            frames.
        still_fraction: share of windows replaced by near-silence with a still mouth.
        spec_augment: mask random mel bands and moments of each training window (two of
            each), so that the model cannot learn a clip by heart from its sound.
        val_fraction: share of clips kept for validation (by clip id hash).
        test_fraction: share of clips kept for test (by clip id hash; GRID s1's test split
            is the pixel model's).
        rest_fraction: share of a clip's most closed frames whose median is its rest shape.
        context: frames of speech given on each side of a window beyond the frames it
            scores, so that training windows see speech, not padding, within the model's
            reach as whole utterances do (the clip's first and last frames repeat where it
            ends; 0: none).
        frequency_warp: scale each training window's frequencies by a random factor within
            ``1 +- frequency_warp`` (vocal tract length perturbation: people's formants differ
            with their vocal tract's length; 0: none).
        tempo: draw each training window from ``1 +- tempo`` times its length of speech and
            motion, resampled together (speed perturbation: people speak at different
            rates; 0: none; not with ``context``).
        babble: share of training windows with another clip's speech mixed in, 5-25 dB
            below it (interviews and news have voices in the background; 0: none).
        noise: share of training windows with another clip's room tone (its quietest
            frames) mixed in, 0-20 dB below the speech (recordings in other rooms, with
            other microphones; 0: none).
    """

    window: int = 28
    batch_size: int = 32
    group_weights: dict = dataclasses.field(default_factory=lambda: {"s1": 0.2, "lrs2": 0.25, "ted": 0.2, "arabic_news": 0.2})
    still_fraction: float = 0.05
    spec_augment: bool = True
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    rest_fraction: float = 0.1
    context: int = 0
    frequency_warp: float = 0.0
    tempo: float = 0.0
    babble: float = 0.0
    noise: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.tempo <= 0.3:
            raise ConfigError(f"data.tempo must be within 0..0.3, got {self.tempo}")
        if self.tempo > 0 and self.context > 0:
            raise ConfigError("data.tempo and data.context cannot be used together")
        for name in ("babble", "noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"data.{name} must be within 0..1, got {getattr(self, name)}")
        if not 0 <= self.frequency_warp <= 0.3:
            raise ConfigError(
                f"data.frequency_warp must be within 0..0.3, got {self.frequency_warp}")
        if self.window < 8 or self.batch_size < 1:
            raise ConfigError("data.window must be >= 8 and data.batch_size >= 1")
        if not 0 <= self.context <= 4 * self.window:
            raise ConfigError(f"data.context must be within 0..{4 * self.window} frames "
                              f"(4 windows), got {self.context}")
        if any(not float(w) >= 0 for w in self.group_weights.values()) or sum(
                float(w) for w in self.group_weights.values()) > 1:
            raise ConfigError("data.group_weights must be >= 0 and sum to at most 1")
        for name in ("still_fraction", "val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be in [0, 1)")
        if not 0 < self.rest_fraction <= 1:
            raise ConfigError("data.rest_fraction must be in (0, 1]")


@dataclasses.dataclass
class MotionTrainConfig:
    """Optimisation.

    Attributes:
        epochs: epochs of ``steps_per_epoch`` batches.
        steps_per_epoch: batches per epoch.
        learning_rate: Adam learning rate of the generator.
        discriminator_learning_rate: Adam learning rate of the discriminator and the
            correlation encoders.
        clip_norm: gradient norm clipping.
        final_learning_rate: where the generator's learning rate ends, along a cosine over
            all ``epochs`` (None: it stays at ``learning_rate``).
        average_last: the saved generator is the mean of the weights of the last this many
            epochs (1: the last epoch's), which steadies the motion from epoch to epoch.
        weight_decay: decoupled weight decay of the generator's kernels (AdamW; biases and
            normalisation scales are left alone); 0: plain Adam.
    """

    epochs: int = 30
    steps_per_epoch: int = 200
    learning_rate: float = 1e-3
    discriminator_learning_rate: float = 2e-4
    clip_norm: float = 1.0
    final_learning_rate: float | None = None
    average_last: int = 1
    weight_decay: float = 0.0

    def validate(self) -> None:
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError("train.epochs and train.steps_per_epoch must be >= 1")
        if not 0 <= self.weight_decay < 1:
            raise ConfigError(f"train.weight_decay must be within 0..1, got {self.weight_decay}")
        if self.average_last < 1:
            raise ConfigError("train.average_last must be >= 1")
        for name in ("learning_rate", "discriminator_learning_rate", "clip_norm"):
            value = getattr(self, name)
            if not 0 < value < 1e3:
                raise ConfigError(f"train.{name} must be positive, got {value}")
        final = self.final_learning_rate
        if final is not None and not 0 <= final <= self.learning_rate:
            raise ConfigError("train.final_learning_rate must be within 0..train.learning_rate, "
                              f"got {final}")


@dataclasses.dataclass
class MotionExperimentConfig:
    """A motion model experiment.

    Attributes:
        kind: ``motion`` (tells ``lipmotion train`` which model the file is for).
        name: run name.
        seed: random seed (>= 0).
        audio: the audio front end (the project's log-mel).
        model: :class:`MotionModelConfig`.
        loss: :class:`MotionLossConfig`.
        data: :class:`MotionDataConfig`.
        train: :class:`MotionTrainConfig`.
        interior: the learned mouth interior's settings
            (:class:`~lipmotion_tf.motion.interior_config.InteriorModelConfig`), used when
            the folder holds its weights (``mouth_interior.weights.h5``, trained apart with
            ``training/interior.yaml``).
    """

    kind: str = MOTION_KIND
    name: str = "motion"
    seed: int = 1234
    audio: AudioConfig = dataclasses.field(default_factory=AudioConfig)
    model: MotionModelConfig = dataclasses.field(default_factory=MotionModelConfig)
    loss: MotionLossConfig = dataclasses.field(default_factory=MotionLossConfig)
    data: MotionDataConfig = dataclasses.field(default_factory=MotionDataConfig)
    train: MotionTrainConfig = dataclasses.field(default_factory=MotionTrainConfig)
    interior: InteriorModelConfig = dataclasses.field(default_factory=InteriorModelConfig)

    def validate(self) -> None:
        check_experiment(self.seed, self.kind, MOTION_KIND, "a motion experiment")
        for section in (self.audio, self.model, self.loss, self.data, self.train,
                        self.interior):
            section.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def experiment_kind(path) -> str | None:
    """The ``kind:`` a YAML experiment file declares (``motion``, ``sync``), None for the paper
    model's files and for a file that cannot be read (its loader then names the problem)."""
    from pathlib import Path

    from lipmotion_tf.config import read_yaml

    if path is None or not Path(path).is_file():
        return None
    try:
        content = read_yaml(path)
    except ConfigError:
        return None
    return content.get("kind") if isinstance(content, dict) else None
