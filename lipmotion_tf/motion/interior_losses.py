"""The learned mouth interior's loss terms, each a mean over a soft mask.

All take images ``(B, H, W, C)`` and a mask ``(B, H, W, 1)`` in [0, 1] (the network's blend
mask: outside it the output is the input by construction) and return a scalar.
"""

from __future__ import annotations

from keras import ops


def masked_l1(generated, real, mask):
    """Mean absolute error weighted by ``mask``."""
    weight = ops.broadcast_to(mask, ops.shape(real))
    return ops.sum(ops.abs(generated - real) * weight) / (ops.sum(weight) + 1e-6)


def hinge_discriminator_loss(real_logits, fake_logits, weight):
    """The discriminator's hinge loss, real patches above +1 and generated ones below -1,
    averaged with ``weight`` (``(B, h, w, 1)``): patches outside the repainted region are
    the same image on both sides, and counting them only dilutes the loss."""
    total = ops.sum(weight) + 1e-6
    return (ops.sum(ops.relu(1.0 - real_logits) * weight)
            + ops.sum(ops.relu(1.0 + fake_logits) * weight)) / (2.0 * total)


def hinge_generator_loss(fake_logits, weight):
    """The generator's side of the hinge loss, ``-D(fake)`` averaged with ``weight``
    (``(B, h, w, 1)``, the blend mask at the logits' size: only the repainted patches
    count)."""
    return -ops.sum(fake_logits * weight) / (ops.sum(weight) + 1e-6)


def masked_gradient_l1(generated, real, mask):
    """Mean absolute error of the horizontal and vertical pixel differences, weighted by
    ``mask`` at both pixels of a difference: an L1 loss alone blurs edges that a small shift
    could place, and the edges between teeth, cavity and lips are what makes a mouth."""
    total = 0.0
    for axis in (1, 2):
        size = ops.shape(real)[axis]

        def diff(x):
            return (ops.take(x, ops.arange(1, size), axis=axis)
                    - ops.take(x, ops.arange(0, size - 1), axis=axis))

        both = ops.minimum(ops.take(mask, ops.arange(1, size), axis=axis),
                           ops.take(mask, ops.arange(0, size - 1), axis=axis))
        total = total + masked_l1(diff(generated), diff(real), both)
    return total / 2.0
