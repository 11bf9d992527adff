"""The generator graph used for deployment: the same weights, 2-D convolutions only."""

from __future__ import annotations


def deployment_generator(generator, conv2d: bool = True):
    """A copy of ``generator`` whose 3-D convolutions all run as 2-D convolutions.

    * The 1x3x3 residual convolutions use the generator's own ``frame_conv_2d`` form
      (:class:`~lipmotion_tf.models.layers.frame_conv_3d.FrameConv3D`).
    * The other Conv3D and Conv3DTranspose layers (compress, upsampling, output, and 3x3x3
      residual kernels) become their frame-stacked 2-D form
      (:mod:`~lipmotion_tf.export.temporal_stack_conv`).

    TFLite runs CONV_2D and TRANSPOSE_CONV through XNNPACK, but CONV_3D through slow
    kernels with huge im2col buffers, so TFLite exports use this graph. The kernels are the
    same variables in both forms; outputs agree to float rounding (tests check 1e-5).

    Args:
        generator: a built :class:`~lipmotion_tf.models.generator.LipGenerator`.
        conv2d: False returns ``generator`` itself.

    Returns:
        A rebuilt copy with the same weights, or ``generator`` when ``conv2d`` is False.
    """
    import keras
    import numpy as np

    from lipmotion_tf.export.temporal_stack_conv import (
        TemporalStackConv3D,
        TemporalStackConv3DTranspose,
    )
    from lipmotion_tf.models.factory import DISCRIMINATOR_WINDOW, IMAGE_SIZE, N_MELS
    from lipmotion_tf.models.generator import LipGenerator

    if not conv2d:
        return generator
    config = dict(generator.get_config(), frame_conv_2d=not generator.res_kernel_3d)
    copy = LipGenerator.from_config(config)
    copy({
        "audio": np.zeros((1, 4 * DISCRIMINATOR_WINDOW, N_MELS), "float32"),
        "identity": np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), "float32"),
    })
    copy.set_weights(generator.get_weights())
    # The stacked forms only change how the layer computes (no new state), so the built
    # layers switch class in place and keep their variables.
    for layer in copy._flatten_layers(include_self=False, recursive=True):
        if type(layer) is keras.layers.Conv3D:
            layer.__class__ = TemporalStackConv3D
        elif type(layer) is keras.layers.Conv3DTranspose:
            layer.__class__ = TemporalStackConv3DTranspose
    return copy
