"""Configuration of the learned mouth interior's training (``training/interior.yaml``).

Built like the other experiments (defaults -> YAML -> ``--set`` overrides, checked before any
data is read, :func:`lipmotion_tf.config.load_config`); a YAML file with ``kind: interior``
at its top trains :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lipmotion_tf.config import check_experiment
from lipmotion_tf.errors import ConfigError

INTERIOR_KIND = "interior"
#: The interior network's weights in a run (or shipped motion model) folder.
INTERIOR_WEIGHTS_NAME = "mouth_interior.weights.h5"
#: What ``--interior`` takes: the folder's learned interior where it has one, that one, or
#: the drawn interior.
INTERIORS = ("auto", "learned", "drawn")


@dataclasses.dataclass
class InteriorModelConfig:
    """:class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`'s settings (its
    arguments, same names)."""

    size: int = 128
    width: int = 24
    grow: int = 3

    def validate(self) -> None:
        if self.size < 32 or self.size % 8 or self.width < 4 or self.grow < 0:
            raise ConfigError("model.size >= 32 (a multiple of 8), model.width >= 4 and "
                              "model.grow >= 0 required")


@dataclasses.dataclass
class InteriorLossConfig:
    """Weights of the terms (:mod:`~lipmotion_tf.motion.interior_losses`), all measured in
    the network's blend mask.

    Attributes:
        l1: mean absolute error.
        gradient: mean absolute error of the horizontal and vertical differences (edges:
            where teeth meet cavity and lips).
        adversarial: the conditional patch discriminator's hinge loss
            (:class:`~lipmotion_tf.motion.interior_discriminator.InteriorDiscriminator`);
            0: no discriminator.
    """

    l1: float = 1.0
    gradient: float = 1.0
    adversarial: float = 0.0

    def validate(self) -> None:
        if not (self.l1 >= 0 and self.gradient >= 0 and self.l1 + self.gradient > 0):
            raise ConfigError("loss.l1 and loss.gradient must be >= 0, one of them > 0")
        if not self.adversarial >= 0:
            raise ConfigError("loss.adversarial must be >= 0")


@dataclasses.dataclass
class InteriorDataConfig:
    """Examples and augmentation.

    Attributes:
        batch_size: examples per step.
        val_fraction: share of the clips (not examples) kept for validation.
        flip: mirror examples left-right at random.
        colour_jitter: largest gain change per channel (the same on input and target), so
            that the network takes colours from the face and not from its training faces.
    """

    batch_size: int = 16
    val_fraction: float = 0.05
    flip: bool = True
    colour_jitter: float = 0.15

    def validate(self) -> None:
        if self.batch_size < 1 or not 0 <= self.val_fraction < 1 or not 0 <= self.colour_jitter < 1:
            raise ConfigError("data.batch_size >= 1, 0 <= data.val_fraction < 1 and "
                              "0 <= data.colour_jitter < 1 required")


@dataclasses.dataclass
class InteriorTrainConfig:
    """Optimisation: ``epochs`` of ``steps_per_epoch`` batches, Adam at ``learning_rate``
    (cosine decay to a tenth over all steps), gradients clipped to ``clip_norm``; the
    discriminator (``loss.adversarial``) at ``discriminator_learning_rate`` with
    ``discriminator_width`` channels in its first layer."""

    epochs: int = 10
    steps_per_epoch: int = 250
    learning_rate: float = 1e-3
    clip_norm: float = 1.0
    discriminator_learning_rate: float = 2e-4
    discriminator_width: int = 32

    def validate(self) -> None:
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError("train.epochs and train.steps_per_epoch must be >= 1")
        if self.discriminator_width < 1:
            raise ConfigError("train.discriminator_width must be >= 1")
        for name in ("learning_rate", "clip_norm", "discriminator_learning_rate"):
            if not 0 < getattr(self, name) < 1e3:
                raise ConfigError(f"train.{name} must be positive")


@dataclasses.dataclass
class InteriorExperimentConfig:
    """A mouth interior experiment (``kind: interior``)."""

    kind: str = INTERIOR_KIND
    name: str = "interior"
    seed: int = 1234
    model: InteriorModelConfig = dataclasses.field(default_factory=InteriorModelConfig)
    loss: InteriorLossConfig = dataclasses.field(default_factory=InteriorLossConfig)
    data: InteriorDataConfig = dataclasses.field(default_factory=InteriorDataConfig)
    train: InteriorTrainConfig = dataclasses.field(default_factory=InteriorTrainConfig)

    def validate(self) -> None:
        check_experiment(self.seed, self.kind, INTERIOR_KIND, "a mouth interior experiment")
        for section in (self.model, self.loss, self.data, self.train):
            section.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
