"""Convolution (+ batch norm) (+ activation): the unit most of the networks are made of."""

from __future__ import annotations

import keras

from lipmotion_tf.models.layers.frame_conv_3d import FrameConv3D
from lipmotion_tf.models.layers.initializers import he_normal
from lipmotion_tf.models.layers.reflection_padding_2d import ReflectionPadding2D
from lipmotion_tf.models.layers.temporal_stack_conv import TemporalStackConv3D
from lipmotion_tf.models.layers.time_shift_conv_3d import TimeShiftConv3D

ACTIVATIONS = ("relu", "leaky_relu", "tanh", None)


def as_tuple(value, rank: int, name: str) -> tuple[int, ...]:
    """``3 -> (3, 3)``; a sequence must already have ``rank`` entries."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"{name} must have {rank} entries, got {value}")
    return value


def make_activation(activation: str | None, name: str) -> keras.layers.Layer | None:
    """The activation layer of a block: ReLU, LeakyReLU(0.1) (FlowNetS) or tanh."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if activation == "relu":
        return keras.layers.ReLU(name=name)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.1, name=name)
    if activation == "tanh":
        return keras.layers.Activation("tanh", name=name)
    return None


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    """Batch normalisation with PyTorch's defaults (momentum 0.1 there = 0.9 here, eps 1e-5)."""
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def folded_conv_weights(conv, bn, transposed: bool):
    """``(kernel, bias)`` of ``conv`` with the inference-mode batch norm ``bn`` folded in.

    ``bn(conv(x)) = scale * conv(x) + shift`` with ``scale = gamma / sqrt(var + eps)`` and
    ``shift = beta - mean * scale``: the kernel's output channels are multiplied by
    ``scale`` and the bias becomes ``shift`` (plus the scaled bias the convolution had).
    Kernels end in ``(in, out)``, transposed ones in ``(out, in)``. ``bn`` None returns the
    convolution's own weights (a zero bias where it has none).
    """
    import numpy as np

    kernel = keras.ops.convert_to_numpy(conv.kernel)
    bias = (keras.ops.convert_to_numpy(conv.bias) if conv.use_bias
            else np.zeros(conv.filters, kernel.dtype))
    if bn is None:
        return kernel, bias
    gamma = keras.ops.convert_to_numpy(bn.gamma) if bn.scale else 1.0
    beta = keras.ops.convert_to_numpy(bn.beta) if bn.center else 0.0
    scale = gamma / np.sqrt(keras.ops.convert_to_numpy(bn.moving_variance) + bn.epsilon)
    shift = beta - keras.ops.convert_to_numpy(bn.moving_mean) * scale
    kernel = kernel * (scale[:, None] if transposed else scale)
    return kernel.astype("float32"), (shift + bias * scale).astype("float32")


@keras.saving.register_keras_serializable(package="lipmotion")
class ConvBlock(keras.layers.Layer):
    """A 2-D or 3-D convolution with PyTorch-style padding, then batch norm and an activation.

    Padding is given as PyTorch's ``padding`` (pixels on each side, default ``k // 2``) so that
    output sizes and pixel alignment equal the authors' layers: where that equals Keras
    ``"same"`` (stride 1, odd kernel, zero padding) the convolution pads itself; otherwise an
    explicit zero or reflection padding layer precedes a ``"valid"`` convolution (Keras's
    ``"same"`` pads stride-2 layers on one side only, PyTorch on both).

    The kernel is He-normal initialised. The convolution has no bias when a batch norm
    follows (the norm's offset replaces it).

    Args:
        filters: output channels.
        kernel_size: int or tuple of ``rank`` ints.
        strides: int or tuple of ``rank`` ints.
        rank: 2 (``(B, H, W, C)``) or 3 (``(B, T, H, W, C)``).
        padding: pixels added on both sides of each axis (int or tuple); default ``k // 2``.
        padding_mode: ``"zero"`` or ``"reflect"`` (2-D only).
        norm: add a batch normalisation after the convolution.
        activation: ``"relu"``, ``"leaky_relu"`` (slope 0.1), ``"tanh"`` or None.
        use_bias: convolution bias; default ``not norm``.
        frame_conv_2d: for a 3-D ``1 x k x k`` kernel, compute it as a per-frame 2-D
            convolution (see :class:`FrameConv3D`); same weights either way.
        time_shift: compute a 3-D convolution (time stride 1) as per-frame 2-D convolutions
            summed over time shifts (see :class:`TimeShiftConv3D`); faster for few output
            channels, same weights.
        stack_frames: compute a 3-D convolution (time stride 1) as one 2-D convolution of
            frames stacked along the channels (:class:`TemporalStackConv3D`: builtin ops
            that TFLite runs fast); same weights.
        folded_norm: the inference form of a block with ``norm``: no batch norm layer, its
            arithmetic folded into the convolution's kernel and bias
            (:func:`folded_conv_weights` gives them).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        rank=2,
        padding=None,
        padding_mode="zero",
        norm=True,
        activation="relu",
        use_bias=None,
        frame_conv_2d=False,
        time_shift=False,
        stack_frames=False,
        folded_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rank not in (2, 3):
            raise ValueError(f"rank must be 2 or 3, got {rank}")
        if padding_mode not in ("zero", "reflect") or (padding_mode == "reflect" and rank != 2):
            raise ValueError(
                f"padding_mode must be 'zero' (or 'reflect' in 2-D), got {padding_mode!r}"
            )
        self.filters = int(filters)
        self.rank = rank
        self.kernel_size = as_tuple(kernel_size, rank, "kernel_size")
        self.strides = as_tuple(strides, rank, "strides")
        self.padding = (
            tuple(k // 2 for k in self.kernel_size)
            if padding is None
            else as_tuple(padding, rank, "padding")
        )
        self.padding_mode = padding_mode
        self.norm = bool(norm)
        self.activation = activation
        self.use_bias = (not self.norm) if use_bias is None else bool(use_bias)
        self.frame_conv_2d = bool(frame_conv_2d)
        self.time_shift = bool(time_shift)
        self.stack_frames = bool(stack_frames)
        self.folded_norm = bool(folded_norm) and self.norm
        layouts = self.frame_conv_2d + self.time_shift + self.stack_frames
        if self.rank != 3 and layouts:
            raise ValueError(
                "frame_conv_2d, time_shift and stack_frames apply to 3-D convolutions only"
            )
        if layouts > 1:
            raise ValueError("choose one of frame_conv_2d, time_shift and stack_frames")

        keras_same = (
            padding_mode == "zero"
            and all(s == 1 for s in self.strides)
            and all(k % 2 == 1 and p == k // 2 for k, p in zip(self.kernel_size, self.padding))
        )
        self.pad = None
        if not keras_same and any(self.padding):
            pads = tuple((p, p) for p in self.padding)
            if padding_mode == "reflect":
                self.pad = ReflectionPadding2D(pads, name=f"{self.name}_pad")
            elif rank == 2:
                self.pad = keras.layers.ZeroPadding2D(pads, name=f"{self.name}_pad")
            else:
                self.pad = keras.layers.ZeroPadding3D(pads, name=f"{self.name}_pad")
        conv_args = dict(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding="same" if keras_same else "valid",
            use_bias=self.use_bias or self.folded_norm,
            kernel_initializer=he_normal(),
            name=f"{self.name}_conv",
        )
        if rank == 2:
            self.conv = keras.layers.Conv2D(**conv_args)
        elif self.frame_conv_2d:
            self.conv = FrameConv3D(frame_conv_2d=True, **conv_args)
        elif self.time_shift:
            self.conv = TimeShiftConv3D(**conv_args)
        elif self.stack_frames:
            self.conv = TemporalStackConv3D(**conv_args)
        else:
            self.conv = keras.layers.Conv3D(**conv_args)
        self.bn = batch_norm(f"{self.name}_bn") if self.norm and not self.folded_norm else None
        self.act = make_activation(activation, f"{self.name}_{activation}")

    def build(self, input_shape):
        shape = input_shape if self.pad is None else self.pad.compute_output_shape(input_shape)
        self.conv.build(shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(shape))
        self.built = True

    def call(self, inputs, training=None):
        x = inputs if self.pad is None else self.pad(inputs)
        return self.normalize_and_activate(self.conv(x), training=training)

    def folded_weights(self):
        """``(kernel, bias)`` of this block's convolution with its batch norm folded in: the
        weights of the same block built with ``folded_norm=True``."""
        return folded_conv_weights(self.conv, self.bn, transposed=False)

    def normalize_and_activate(self, x, training=None):
        """The block after its convolution (for callers that compute the convolution
        another way, such as the generator's factored fusion)."""
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.act is not None:
            x = self.act(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "rank": self.rank,
                "padding": list(self.padding),
                "padding_mode": self.padding_mode,
                "norm": self.norm,
                "activation": self.activation,
                "use_bias": self.use_bias,
                "frame_conv_2d": self.frame_conv_2d,
                "time_shift": self.time_shift,
                "stack_frames": self.stack_frames,
                "folded_norm": self.folded_norm,
            }
        )
        return config
