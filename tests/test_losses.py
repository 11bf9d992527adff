"""The training losses on inputs whose values are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lipmotion_tf.train import losses as L


def _value(x) -> float:
    return float(np.asarray(x))


def test_reconstruction_loss_is_mean_absolute_error():
    fake = np.array([[0.0, 1.0], [-1.0, 0.5]], np.float32)
    real = np.array([[0.5, 1.0], [1.0, 0.0]], np.float32)
    assert _value(L.reconstruction_loss(fake, real)) == pytest.approx((0.5 + 0 + 2 + 0.5) / 4)


def test_perceptual_loss_is_mean_squared_feature_error():
    fake = np.zeros((2, 3, 4, 4, 8), np.float32)
    real = np.full((2, 3, 4, 4, 8), 0.5, np.float32)
    real[0, 0, 0, 0, 0] = 2.5
    expected = (0.25 * (real.size - 1) + 6.25) / real.size
    assert _value(L.perceptual_loss(fake, real)) == pytest.approx(expected)


def test_correlation_loss_is_one_minus_cosine_per_example():
    a = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    v = np.array([[2.0, 4.0, 6.0], [-3.0, 0.0, 0.0], [5.0, 0.0, 0.0]], np.float32)
    # same direction -> 0, opposite -> 2, orthogonal -> 1; the batch mean is 1.
    assert _value(L.correlation_loss(a[:1], v[:1])) == pytest.approx(0.0, abs=1e-6)
    assert _value(L.correlation_loss(a[1:2], v[1:2])) == pytest.approx(2.0, abs=1e-6)
    assert _value(L.correlation_loss(a[2:], v[2:])) == pytest.approx(1.0, abs=1e-6)
    assert _value(L.correlation_loss(a, v)) == pytest.approx(1.0, abs=1e-6)


def test_correlation_loss_eps_keeps_zero_vectors_finite():
    zeros = np.zeros((2, 15), np.float32)
    value = _value(L.correlation_loss(zeros, zeros, eps=1e-8))
    assert value == pytest.approx(1.0)
    # eps sits in the denominator: with tiny vectors it visibly lowers the cosine.
    tiny = np.full((1, 4), 1e-3, np.float32)
    cos = (4e-6) / (4e-6 + 1e-6)
    assert _value(L.correlation_loss(tiny, tiny, eps=1e-6)) == pytest.approx(1 - cos, rel=1e-4)


def test_correlation_loss_flattens_extra_axes():
    a = np.arange(1, 13, dtype=np.float32).reshape(2, 3, 2)
    assert _value(L.correlation_loss(a, 3 * a)) == pytest.approx(0.0, abs=1e-6)


def test_discriminator_loss_at_zero_logits():
    zeros = np.zeros((4, 1), np.float32)
    log2 = math.log(2.0)
    assert _value(L.discriminator_loss(zeros, zeros, zeros, 0.5)) == pytest.approx(2 * log2)
    assert _value(L.discriminator_loss(zeros, zeros, zeros, 1.0)) == pytest.approx(3 * log2)


def test_discriminator_loss_terms_have_the_right_targets():
    big = np.full((3, 1), 30.0, np.float32)
    # A perfect discriminator: real -> +inf, fake and mismatch -> -inf.
    assert _value(L.discriminator_loss(big, -big, -big)) == pytest.approx(0.0, abs=1e-6)
    # Fooled on the mismatch only: that term costs 30, weighted by 0.5.
    assert _value(L.discriminator_loss(big, -big, big, 0.5)) == pytest.approx(15.0, rel=1e-5)
    # Calls a real clip fake: BCE(-30, 1) = 30, unweighted.
    assert _value(L.discriminator_loss(-big, -big, -big, 0.5)) == pytest.approx(30.0, rel=1e-5)


def test_generator_adversarial_loss():
    assert _value(L.generator_adversarial_loss(np.zeros((2, 1), np.float32))) == pytest.approx(
        math.log(2.0)
    )
    assert _value(L.generator_adversarial_loss(np.full((2, 1), 30.0, np.float32))) < 1e-6
    logits = np.array([[1.0], [-2.0]], np.float32)
    expected = np.mean(np.log1p(np.exp(-logits)))
    assert _value(L.generator_adversarial_loss(logits)) == pytest.approx(expected, rel=1e-6)


def test_endpoint_error_is_euclidean_distance():
    pred = np.zeros((1, 2, 2, 2), np.float32)
    target = np.zeros((1, 2, 2, 2), np.float32)
    target[..., 0], target[..., 1] = 3.0, 4.0
    assert _value(L.endpoint_error(pred, target)) == pytest.approx(5.0)


def _flow_pyramid(target):
    """Exact average-pooled copies of a (N, 64, 64, 2) flow at FlowNet's five sizes."""
    sizes = (16, 8, 4, 2, 1)
    n = target.shape[0]
    return [
        target.reshape(n, s, 64 // s, s, 64 // s, 2).mean(axis=(2, 4)).astype(np.float32)
        for s in sizes
    ]


def test_multiscale_endpoint_error_weights_each_scale():
    target = np.zeros((2, 64, 64, 2), np.float32)
    target[..., 0] = 1.0  # constant flow: every pooled copy is (1, 0)
    zeros = [np.zeros_like(p) for p in _flow_pyramid(target)]
    assert _value(L.multiscale_endpoint_error(zeros, target)) == pytest.approx(
        sum(L.FLOW_SCALE_WEIGHTS), rel=1e-5
    )
    weights = (1.0, 0.0, 0.0, 0.0, 0.0)
    assert _value(L.multiscale_endpoint_error(zeros, target, weights)) == pytest.approx(1.0)


def test_multiscale_endpoint_error_pools_the_target():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(2, 64, 64, 2)).astype(np.float32)
    pyramid = _flow_pyramid(target)
    # Predictions equal to the pooled target cost (almost) nothing ...
    assert _value(L.multiscale_endpoint_error(pyramid, target)) < 1e-4
    # ... and an offset of (3, 4) at the finest scale costs 5 times its weight.
    shifted = [pyramid[0] + np.array([3.0, 4.0], np.float32)] + pyramid[1:]
    assert _value(L.multiscale_endpoint_error(shifted, target)) == pytest.approx(
        5.0 * L.FLOW_SCALE_WEIGHTS[0], rel=1e-3
    )


def test_multiscale_endpoint_error_checks_its_arguments():
    target = np.zeros((1, 64, 64, 2), np.float32)
    with pytest.raises(ValueError, match="weights"):
        L.multiscale_endpoint_error(_flow_pyramid(target)[:3], target)
    with pytest.raises(ValueError, match="divide"):
        L.downsample_flow(target, 5, 5)


def test_mean_squared_error_and_replica_scaling_outside_a_strategy():
    a = np.array([1.0, -1.0], np.float32)
    assert _value(L.mean_squared_error(a, np.zeros(2, np.float32))) == pytest.approx(1.0)
    assert _value(L.scale_for_replicas(np.float32(3.0))) == pytest.approx(3.0)


def test_losses_are_float32_under_float16_inputs():
    fake = np.full((2, 4), 0.5, np.float16)
    real = np.zeros((2, 4), np.float16)
    loss = L.reconstruction_loss(fake, real)
    assert str(np.asarray(loss).dtype) == "float32"
