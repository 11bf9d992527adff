"""The generator graph used for deployment: the same weights, 2-D convolutions only."""

from __future__ import annotations


def deployment_generator(generator, conv2d: bool = True):
    """A copy of ``generator`` for inference only, with 2-D convolutions only.

    * Every batch normalisation is folded into the convolution before it (kernel scaled per
      output channel, a bias added): the same inference arithmetic with two fewer
      elementwise operations per convolution, which an int8 model would otherwise quantize
      (and round) separately.
    * The 1x3x3 residual convolutions use the generator's own ``frame_conv_2d`` form
      (:class:`~lipmotion_tf.models.layers.frame_conv_3d.FrameConv3D`).
    * The compress convolution is already 2-D (factored fusion) and the output one is a
      :class:`~lipmotion_tf.models.layers.time_shift_conv_3d.TimeShiftConv3D`; the
      remaining Conv3D and Conv3DTranspose layers (upsampling, and 3x3x3 residual kernels)
      become their frame-stacked 2-D form (:mod:`~lipmotion_tf.export.temporal_stack_conv`).

    TFLite runs CONV_2D and TRANSPOSE_CONV through XNNPACK, but CONV_3D through slow
    kernels with huge im2col buffers, so TFLite exports use this graph. Outputs agree with
    the generator's to float rounding (tests check 1e-5).

    Args:
        generator: a built :class:`~lipmotion_tf.models.generator.LipGenerator`.
        conv2d: False returns ``generator`` itself.

    Returns:
        A rebuilt copy with the same weights, or ``generator`` when ``conv2d`` is False.
    """
    import keras

    from lipmotion_tf.export.temporal_stack_conv import (
        TemporalStackConv3D,
        TemporalStackConv3DTranspose,
    )
    from lipmotion_tf.models.layers import ConvBlock, ConvTransposeBlock

    if not conv2d:
        return generator
    copy = generator.rebuilt(frame_conv_2d=not generator.res_kernel_3d, trainable=False)
    # The stacked forms only change how the layer computes (no new state), so the built
    # layers switch class in place and keep their variables.
    for layer in copy._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, ConvBlock | ConvTransposeBlock) and layer.bn is not None:
            fold_batch_norm(layer)
    for layer in copy._flatten_layers(include_self=False, recursive=True):
        if type(layer) is keras.layers.Conv3D:
            layer.__class__ = TemporalStackConv3D
        elif type(layer) is keras.layers.Conv3DTranspose:
            layer.__class__ = TemporalStackConv3DTranspose
    return copy


def fold_batch_norm(block) -> None:
    """Folds ``block.bn`` (inference mode) into ``block.conv`` in place and removes it.

    ``bn(conv(x)) = scale * conv(x) + shift`` with ``scale = gamma / sqrt(var + eps)`` and
    ``shift = beta - mean * scale``: the kernel's output channels are multiplied by ``scale``
    and ``shift`` becomes the convolution's bias.
    """
    import keras
    import numpy as np

    conv, bn = block.conv, block.bn
    gamma = bn.gamma.numpy() if bn.scale else 1.0
    beta = bn.beta.numpy() if bn.center else 0.0
    scale = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    shift = beta - bn.moving_mean.numpy() * scale
    kernel = conv.kernel.numpy()
    # Convolution kernels end in (in, out), transposed ones in (out, in).
    transposed = isinstance(conv, (keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose))
    kernel = kernel * (scale[:, None] if transposed else scale)
    bias = shift + (conv.bias.numpy() * scale if conv.use_bias else 0.0)
    conv.kernel.assign(kernel.astype(conv.kernel.dtype))
    if not conv.use_bias:
        # A built layer refuses new variables; Keras's own quantize() unlocks it the same way.
        conv._tracker.unlock()
        try:
            conv.bias = conv.add_weight(name="bias", shape=(conv.filters,),
                                        initializer="zeros", trainable=False)
        finally:
            conv._tracker.lock()
        conv.use_bias = True
    conv.bias.assign(bias.astype("float32"))
    block.bn = None

