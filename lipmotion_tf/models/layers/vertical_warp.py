"""Moving the rows of an image up or down by a per-pixel amount: the generator's warp."""

from __future__ import annotations

from keras import ops


def vertical_warp(image, shift, max_shift: int):
    """Samples ``image`` at ``shift`` pixels below each pixel, with linear interpolation.

    ``out[b, t, y, x] = image[b, 0, y + shift[b, t, y, x], x]``, between two rows a linear
    mix, edge rows repeated beyond the border. Written as a sum of ``2 * max_shift + 1``
    whole-image row shifts weighted by triangles ``max(0, 1 - |shift - k|)`` (which add up to
    1 inside the range): no gather, only slices, multiplies and adds, so it converts to
    builtin TFLite operators on static shapes and its gradient with respect to ``shift`` is
    the image's vertical difference, as a bilinear sampler's.

    Args:
        image: ``(B, 1, H, W, C)``.
        shift: ``(B, T, H, W, 1)`` in pixels, within ``[-max_shift, max_shift]``; positive
            values move the image content up.
        max_shift: the largest shift, a positive int.

    Returns:
        ``(B, T, H, W, C)`` in ``image``'s dtype.
    """
    if max_shift < 1:
        raise ValueError(f"max_shift must be a positive int, got {max_shift}")
    height = image.shape[2]
    shift = ops.cast(shift, image.dtype)
    padded = ops.concatenate(
        [image[:, :, :1]] * max_shift + [image] + [image[:, :, -1:]] * max_shift, axis=2)
    out = None
    for k in range(-max_shift, max_shift + 1):
        weight = ops.relu(1.0 - ops.abs(shift - float(k)))
        term = weight * padded[:, :, max_shift + k:max_shift + k + height]
        out = term if out is None else out + term
    return out
