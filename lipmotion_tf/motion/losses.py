"""The motion model's losses, one documented function each (weights come from the config).

Shapes: motion tensors are ``(B, T, P, 2)`` displacements in mouth widths; frame weights
``(B, T)``. Every function returns a scalar.
"""

from __future__ import annotations

from keras import ops


def closed_frame_weights(opening, closed_weight: float, width: float = 0.05):
    """Frame weights ``1 + closed_weight * exp(-opening / width)``.

    Closed frames (silence, the ``m b p`` closures) weigh up to ``1 + closed_weight`` times
    more than open ones, so that the rest of the loss does not drag them towards the mean
    (half-open) mouth. ``opening`` is the real inner-lip gap in mouth widths, ``(B, T)``.
    """
    return 1.0 + closed_weight * ops.exp(-ops.maximum(opening, 0.0) / width)


def landmark_loss(real, generated, weights, scale: float):
    """Frame-weighted mean squared error of the displacements, in units of ``1 / scale``.

    The weights are normalised to mean 1 over the batch, so ``closed_weight`` moves emphasis
    between frames without changing the loss's overall size.
    """
    error = ops.mean(ops.square((generated - real) * scale), axis=(2, 3))
    weights = weights / ops.maximum(ops.mean(weights), 1e-6)
    return ops.mean(error * weights)


def velocity(motion):
    """Frame-to-frame motion ``x[t + 1] - x[t]``: ``(B, T - 1, P, 2)``."""
    return motion[:, 1:] - motion[:, :-1]


def velocity_loss(real, generated, scale: float):
    """Mean squared error of the frame-to-frame motion (keeps the speed of the real mouth)."""
    return ops.mean(ops.square((velocity(generated) - velocity(real)) * scale))


def amplitude_loss(real, generated, scale: float):
    """Squared error of each point's spread over the window (std over time), per coordinate.

    Squared error alone is minimised by the conditional mean, which shrinks the mouth's
    movement wherever the speech leaves its exact timing uncertain (the regression to the mean
    mouth). This term asks for the real spread whatever the timing, so the amplitude comes
    out of training rather than from a gain applied afterwards.
    """
    def spread(motion):  # the std, with a floor under the variance: sqrt has no slope at 0
        return ops.sqrt(ops.var(motion * scale, axis=1) + 1e-6)

    return ops.mean(ops.square(spread(generated) - spread(real)))


def opening_correlation_loss(real_opening, generated_opening, floor: float = 0.01):
    """``1 - r``, the Pearson correlation over time of the real and generated inner-lip
    openings ``(B, T)`` (mouth widths), averaged over the windows weighted by how much the real
    mouth moves in each (``std / (std + floor)``: a still window has no timing to match).

    The landmark terms weigh every point alike; the opening is what an eye reads first and
    what the sync measure correlates, so this term asks for its timing directly.
    """
    real = real_opening - ops.mean(real_opening, axis=1, keepdims=True)
    generated = generated_opening - ops.mean(generated_opening, axis=1, keepdims=True)
    real_std = ops.sqrt(ops.mean(ops.square(real), axis=1) + 1e-8)
    generated_std = ops.sqrt(ops.mean(ops.square(generated), axis=1) + 1e-8)
    r = ops.mean(real * generated, axis=1) / (real_std * generated_std)
    weights = real_std / (real_std + floor)
    return ops.sum(weights * (1.0 - r)) / ops.maximum(ops.sum(weights), 1e-8)


def cosine_similarity(a, b, axis: int = -1):
    """Cosine of ``a`` and ``b`` along ``axis`` (0 where either is zero)."""
    dot = ops.sum(a * b, axis=axis)
    norms = ops.sqrt(ops.sum(ops.square(a), axis=axis) * ops.sum(ops.square(b), axis=axis))
    return dot / ops.maximum(norms, 1e-8)


def derivative_correlation_loss(audio_derivative_features, motion_velocity_features):
    """``1 - cos`` between audio-derivative and motion-velocity features, per frame.

    The paper's correlation loss (Sec. 3.2) with the landmark velocities in place of optical
    flow: the features of how the speech changes should point the same way as those of how
    the mouth moves. Inputs ``(B, T', C)``; 0 when perfectly aligned, 2 when opposed.
    """
    return 1.0 - ops.mean(cosine_similarity(audio_derivative_features, motion_velocity_features))


def binary_logit_loss(logits, target: float):
    """Mean sigmoid cross-entropy of ``logits`` against a constant ``target`` (0 or 1)."""
    # max(x, 0) - x * z + log(1 + exp(-|x|)): the stable form of the cross-entropy.
    return ops.mean(ops.maximum(logits, 0.0) - logits * target
                    + ops.log1p(ops.exp(-ops.abs(logits))))


def discriminator_loss(real_logits, fake_logits, mismatch_logits):
    """The (audio, motion) discriminator: aligned real pairs 1; generated and mismatched 0.

    Mismatched pairs (real motion with the audio shifted) teach it to judge the pairing,
    not only whether the motion looks real, so its gradient carries timing to the generator.
    """
    return (binary_logit_loss(real_logits, 1.0)
            + 0.5 * binary_logit_loss(fake_logits, 0.0)
            + 0.5 * binary_logit_loss(mismatch_logits, 0.0))


def generator_adversarial_loss(fake_logits):
    """The generator's non-saturating loss: generated pairs should be judged aligned-real."""
    return binary_logit_loss(fake_logits, 1.0)
