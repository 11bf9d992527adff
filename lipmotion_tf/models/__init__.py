"""The networks: generator, discriminator, FlowNetS, correlation encoders, perceptual autoencoder.

Every network is written with Keras 3 layers and ``keras.ops`` only, so it runs on the
TensorFlow and JAX backends. Tensors are channels-last; images and videos are float32 in
[-1, 1]. The classes are imported lazily (``from lipmotion_tf.models import LipGenerator``
imports Keras only at that moment) so that importing the package stays cheap.
"""

from __future__ import annotations

from lipmotion_tf.lazy_exports import lazy_exports

_EXPORTS = {
    "LipGenerator": "generator",
    "LipDiscriminator": "discriminator",
    "FlowNet": "flownet",
    "AudioDerivativeEncoder": "audio_derivative_encoder",
    "FlowEncoder": "flow_encoder",
    "VideoAutoencoder": "autoencoder",
    "build_networks": "factory",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
