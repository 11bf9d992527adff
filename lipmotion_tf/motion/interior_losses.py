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
