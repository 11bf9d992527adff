"""Weight initialisation shared by every convolution."""

from __future__ import annotations

import keras


def he_normal() -> keras.initializers.Initializer:
    """He et al. (2015) normal initialisation, ``std = sqrt(2 / fan_in)``.

    The authors' code calls PyTorch's ``kaiming_normal`` on its convolution weights, an
    untruncated normal; Keras's ``"he_normal"`` string is a truncated normal, so the exact
    variance scaling is spelled out here.
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal"
    )
