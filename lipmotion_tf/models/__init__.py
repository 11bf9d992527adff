"""The networks: generator, discriminator, FlowNetS, correlation encoders, perceptual autoencoder.

Every network is written with Keras 3 layers and ``keras.ops`` only, so it runs on the
TensorFlow and JAX backends. Tensors are channels-last; images and videos are float32 in
[-1, 1]. The classes are imported lazily (``from lipmotion_tf.models import LipGenerator``
imports Keras only at that moment) so that importing the package stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "LipGenerator": "lipmotion_tf.models.generator",
    "LipDiscriminator": "lipmotion_tf.models.discriminator",
    "FlowNet": "lipmotion_tf.models.flownet",
    "AudioDerivativeEncoder": "lipmotion_tf.models.audio_derivative_encoder",
    "FlowEncoder": "lipmotion_tf.models.flow_encoder",
    "VideoAutoencoder": "lipmotion_tf.models.autoencoder",
    "build_networks": "lipmotion_tf.models.factory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
