"""Configuration of the sync expert's training (``training/sync.yaml``, ``kind: sync``).

Built like the other experiments (defaults -> YAML -> ``--set`` overrides, checked before any
data is read) with :func:`lipmotion_tf.config.load_config`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lipmotion_tf.config import AudioConfig, check_experiment
from lipmotion_tf.errors import ConfigError

SYNC_KIND = "sync"
#: The expert's weights in a run (or shipped model) folder, beside config.yaml.
WEIGHTS_NAME = "sync_expert.weights.h5"


@dataclasses.dataclass
class SyncModelConfig:
    """The expert (:class:`~lipmotion_tf.sync.expert.SyncExpert`).

    Attributes:
        points: motion points per frame (a check against the data).
        window: video frames one embedding sees (odd; 5 frames = 0.2 s).
        channels: width of the convolutions.
        embedding: size of the embeddings.
        motion_scale: displacements (mouth widths) are multiplied by this first.
        dropout: spatial dropout after each convolution in training (the expert otherwise
            learns the training clips by heart: training accuracy climbs, validation's not).
    """

    points: int = 59
    window: int = 5
    channels: int = 192
    embedding: int = 128
    motion_scale: float = 10.0
    dropout: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.dropout < 1:
            raise ConfigError("model.dropout must be in [0, 1)")
        if self.points < 1 or self.channels < 4 or self.embedding < 2:
            raise ConfigError("model.points >= 1, channels >= 4, embedding >= 2 required")
        if self.window < 3 or self.window % 2 == 0 or self.window > 51:
            raise ConfigError("model.window must be an odd number of frames in [3, 51]")
        if not 0 < self.motion_scale < 1e4:
            raise ConfigError("model.motion_scale must be positive")


@dataclasses.dataclass
class SyncDataConfig:
    """Training sequences drawn from motion data (``lipmotion prepare-motion``).

    Attributes:
        sequence: frames per training sequence (its windows are the anchors and candidates).
        batch_size: sequences per batch (the other clips' negatives come from the batch).
        max_shift: shifts ``-S .. S`` of the same clip compete with the aligned window.
        group_weights: share of sequences per top-level folder of the data; folders not
            named share what is left in proportion to their frames.
        motion_noise: std (mouth widths) of the jitter added to training landmarks, as a
            face tracker's noise on a new video.
        motion_gain: training motion is scaled by a random factor in ``1 +- motion_gain``
            (people open their mouths more or less for the same sounds).
        spec_augment: mask random mel bands and moments of each training sequence.
        val_fraction, test_fraction, rest_fraction: as the motion model's (same clips).
    """

    sequence: int = 29
    batch_size: int = 48
    max_shift: int = 8
    group_weights: dict = dataclasses.field(default_factory=dict)
    motion_noise: float = 0.004
    motion_gain: float = 0.3
    spec_augment: bool = True
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    rest_fraction: float = 0.1

    def validate(self) -> None:
        if self.batch_size < 2:
            raise ConfigError("data.batch_size must be >= 2 (the other clips are negatives)")
        if self.max_shift < 1:
            raise ConfigError("data.max_shift must be >= 1")
        if self.sequence > 2000:
            raise ConfigError("data.sequence must be at most 2000 frames")
        if any(not float(w) >= 0 for w in self.group_weights.values()) or sum(
                float(w) for w in self.group_weights.values()) > 1:
            raise ConfigError("data.group_weights must be >= 0 and sum to at most 1")
        if not 0 <= self.motion_noise < 1 or not 0 <= self.motion_gain < 1:
            raise ConfigError("data.motion_noise and data.motion_gain must be in [0, 1)")
        for name in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be in [0, 1)")
        if not 0 < self.rest_fraction <= 1:
            raise ConfigError("data.rest_fraction must be in (0, 1]")


@dataclasses.dataclass
class SyncTrainConfig:
    """Optimisation.

    Attributes:
        epochs: epochs of ``steps_per_epoch`` batches.
        steps_per_epoch: batches per epoch.
        learning_rate: Adam learning rate.
        clip_norm: gradient norm clipping.
    """

    epochs: int = 20
    steps_per_epoch: int = 200
    learning_rate: float = 1e-3
    clip_norm: float = 1.0

    def validate(self) -> None:
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError("train.epochs and train.steps_per_epoch must be >= 1")
        for name in ("learning_rate", "clip_norm"):
            value = getattr(self, name)
            if not 0 < value < 1e3:
                raise ConfigError(f"train.{name} must be positive, got {value}")


@dataclasses.dataclass
class SyncExperimentConfig:
    """A sync expert experiment.

    Attributes:
        kind: ``sync`` (tells ``lipmotion train`` which model the file is for).
        name: run name.
        seed: random seed (>= 0).
        audio: the audio front end (the project's log-mel).
        model: :class:`SyncModelConfig`.
        data: :class:`SyncDataConfig`.
        train: :class:`SyncTrainConfig`.
    """

    kind: str = SYNC_KIND
    name: str = "sync"
    seed: int = 1234
    audio: AudioConfig = dataclasses.field(default_factory=AudioConfig)
    model: SyncModelConfig = dataclasses.field(default_factory=SyncModelConfig)
    data: SyncDataConfig = dataclasses.field(default_factory=SyncDataConfig)
    train: SyncTrainConfig = dataclasses.field(default_factory=SyncTrainConfig)

    def validate(self) -> None:
        check_experiment(self.seed, self.kind, SYNC_KIND, "a sync expert experiment")
        for section in (self.audio, self.model, self.data, self.train):
            section.validate()
        if self.data.sequence < self.model.window + 2 * self.data.max_shift + 1:
            raise ConfigError("data.sequence must be at least model.window + 2 * "
                              "data.max_shift + 1 frames")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
