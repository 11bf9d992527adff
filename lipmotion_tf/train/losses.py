"""The training losses of the paper, written in ``keras.ops`` so they run on every backend.

Each function takes tensors and returns a float32 scalar. Weights are applied by the caller
(:class:`~lipmotion_tf.train.gan.LipMotionGAN` reads them from
:class:`~lipmotion_tf.config.LossConfig`); nothing here holds a weight of its own except the
multiscale flow weights, which are part of that loss's definition.

The discriminator returns logits, so the adversarial terms use the numerically stable
sigmoid cross-entropy on logits instead of a sigmoid followed by a log.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

#: Weights of the five FlowNet outputs, finest (flow2, 1/4 resolution) first.
FLOW_SCALE_WEIGHTS = (0.005, 0.01, 0.02, 0.08, 0.32)


def _float32(x):
    # Losses are always reduced in float32, also under a mixed precision policy.
    return ops.cast(x, "float32")


def reconstruction_loss(fake, real):
    """Mean absolute error between generated and real frames (paper's pixel loss).

    Args:
        fake: generated video, any shape.
        real: real video of the same shape.
    """
    return ops.mean(ops.abs(_float32(fake) - _float32(real)))


def motion_weighted_reconstruction_loss(fake, real, identity, motion_weight):
    """L1 reconstruction with more weight where the real frame differs from the identity.

    The lips are a small part of the crop, so a plain mean over the crop lets a generator
    that barely moves the mouth score well. Each pixel is weighted by
    ``1 + motion_weight * m / mean(m)`` with ``m`` the per-pixel distance of the real frame
    from the identity image (a property of the data, no gradient), and the weighted mean
    is taken, so ``motion_weight = 0`` is :func:`reconstruction_loss`.

    Args:
        fake, real: ``(B, T, H, W, C)`` videos.
        identity: ``(B, H, W, C)`` identity images.
        motion_weight: extra weight of the moving pixels.
    """
    fake, real, identity = _float32(fake), _float32(real), _float32(identity)
    motion = ops.mean(ops.abs(real - ops.expand_dims(identity, 1)), axis=-1, keepdims=True)
    weight = 1.0 + motion_weight * motion / (ops.mean(motion) + 1e-6)
    weight = ops.stop_gradient(weight)
    return ops.mean(weight * ops.abs(fake - real)) / ops.mean(weight)


def perceptual_loss(fake_features, real_features):
    """Mean squared error between autoencoder features of generated and real video.

    The features come from the frozen encoder of the perceptual autoencoder (paper Sec. 4.1);
    the caller stops gradients into the encoder by keeping it non-trainable.
    """
    return ops.mean(ops.square(_float32(fake_features) - _float32(real_features)))


def attention_loss(attention):
    """Mean of the generator's attention mask (GANimation's mask penalty).

    Without it the mask drifts towards 1 and the generator redraws the whole image, losing
    the identity's colours that copying keeps exactly.

    Args:
        attention: ``(B, T, H, W, 1)`` mask in [0, 1].
    """
    return ops.mean(_float32(attention))


def shift_loss(shift):
    """Mean absolute shift of the generator's warp, as a fraction of its range.

    The mask penalty's twin: without it the warp settles on sub-pixel and pixel shifts that
    no speech asks for (in the pauses of the training speaker it kept the given lips moved
    by up to 2.7 pixels), so silence does not return the given image.

    Args:
        shift: ``(B, T, H, W, 1)`` in [-1, 1].
    """
    return ops.mean(ops.abs(_float32(shift)))


def smoothness_loss(attention):
    """Mean absolute difference between neighbouring pixels of a mask (total variation).

    Keeps the generated region one smooth patch instead of scattered pixels.

    Args:
        attention: ``(B, T, H, W, 1)``.
    """
    attention = _float32(attention)
    rows = ops.abs(attention[:, :, 1:] - attention[:, :, :-1])
    cols = ops.abs(attention[:, :, :, 1:] - attention[:, :, :, :-1])
    return ops.mean(rows) + ops.mean(cols)


def correlation_loss(audio_features, visual_features, eps=1e-8):
    """``1 - cosine similarity`` between audio and visual correlation vectors, batch mean.

    Paper Eq. 1: the cosine between the audio-derivative vector and the optical-flow vector
    of each example, with ``eps`` added to the denominator to avoid a division by zero.
    A value of 0 means perfectly correlated, 2 anti-correlated.

    Args:
        audio_features: ``(B, T)`` (or ``(B, ...)``, flattened per example).
        visual_features: same shape as ``audio_features``.
        eps: added to the product of norms.
    """
    a = ops.reshape(_float32(audio_features), (ops.shape(audio_features)[0], -1))
    v = ops.reshape(_float32(visual_features), (ops.shape(visual_features)[0], -1))
    dot = ops.sum(a * v, axis=-1)
    norms = ops.sqrt(ops.sum(ops.square(a), axis=-1)) * ops.sqrt(ops.sum(ops.square(v), axis=-1))
    return ops.mean(1.0 - dot / (norms + eps))


def _bce_with_logits(logits, target: float):
    logits = _float32(logits)
    labels = ops.full_like(logits, target)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_loss(real_logits, fake_logits, mismatch_logits, mismatch_weight=0.5):
    """Discriminator objective with the mismatched-audio term (paper Eq. 4).

    ``BCE(D(real, a), 1) + w * [BCE(D(fake, a), 0) + BCE(D(real, a_wrong), 0)]``: real video
    with its own audio is real; generated video and real video with another clip's audio
    are fake. ``w`` is 0.5 in the paper and in the authors' code.

    Args:
        real_logits: ``D(real video, its audio)``, ``(B, 1)`` logits.
        fake_logits: ``D(generated video, the same audio)``.
        mismatch_logits: ``D(real video, audio of another clip)``.
        mismatch_weight: ``w`` above.
    """
    fake_terms = _bce_with_logits(fake_logits, 0.0) + _bce_with_logits(mismatch_logits, 0.0)
    return _bce_with_logits(real_logits, 1.0) + mismatch_weight * fake_terms


def generator_adversarial_loss(fake_logits):
    """Non-saturating generator loss ``BCE(D(fake, a), 1)``."""
    return _bce_with_logits(fake_logits, 1.0)


def downsample_flow(flow, height: int, width: int):
    """Average-pools ``(N, H, W, 2)`` to ``(N, height, width, 2)`` by whole factors."""
    full_h, full_w = flow.shape[1], flow.shape[2]
    if full_h % height or full_w % width:
        raise ValueError(
            f"a {height}x{width} flow does not divide the {full_h}x{full_w} target evenly"
        )
    fh, fw = full_h // height, full_w // width
    if fh == 1 and fw == 1:
        return flow
    blocks = ops.reshape(flow, (-1, height, fh, width, fw, flow.shape[-1]))
    return ops.mean(blocks, axis=(2, 4))


def endpoint_error(pred_flow, target_flow):
    """Mean end-point error: the Euclidean distance between flow vectors, pixel mean."""
    diff = _float32(pred_flow) - _float32(target_flow)
    # The small constant keeps the gradient of sqrt finite where both flows agree exactly.
    return ops.mean(ops.sqrt(ops.sum(ops.square(diff), axis=-1) + 1e-12))


def multiscale_endpoint_error(
    pred_flows: Sequence, target_flow, weights: Sequence[float] = FLOW_SCALE_WEIGHTS
):
    """Weighted sum of end-point errors over FlowNet's output scales (FlowNet fine-tuning).

    The target is one full-resolution flow (OpenCV Farneback at 64x64, divided by 20, as the
    authors' fine-tuning on GRID); it is average-pooled down to each prediction's size.

    Args:
        pred_flows: FlowNet outputs ``[(N, h_i, w_i, 2)]``, finest first.
        target_flow: ``(N, H, W, 2)`` with ``H, W`` multiples of every ``h_i, w_i``.
        weights: one weight per prediction, finest first.
    """
    if len(pred_flows) != len(weights):
        raise ValueError(f"got {len(pred_flows)} flow predictions but {len(weights)} weights")
    target_flow = _float32(target_flow)
    total = 0.0
    for pred, weight in zip(pred_flows, weights):
        target = downsample_flow(target_flow, pred.shape[1], pred.shape[2])
        total = total + weight * endpoint_error(pred, target)
    return total


def scale_for_replicas(loss):
    """Divides a per-replica loss by the replica count under ``tf.distribute``.

    Gradients are summed over replicas, so each replica contributes its share, as Keras'
    own losses do. A no-op outside a distribution strategy and on other backends.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / replicas
    return loss


def mean_squared_error(prediction, target):
    """Mean squared error (autoencoder reconstruction)."""
    return ops.mean(ops.square(_float32(prediction) - _float32(target)))


__all__ = [
    "FLOW_SCALE_WEIGHTS",
    "correlation_loss",
    "discriminator_loss",
    "downsample_flow",
    "endpoint_error",
    "generator_adversarial_loss",
    "mean_squared_error",
    "multiscale_endpoint_error",
    "perceptual_loss",
    "reconstruction_loss",
    "scale_for_replicas",
]
