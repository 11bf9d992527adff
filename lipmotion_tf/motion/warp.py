"""Dense warps from sparse landmark displacements, and polygon masks, in Keras ops.

The renderer moves the given face's own pixels. A thin-plate spline through the control
points (the moving lip and jaw points plus fixed anchors around them) gives a displacement
everywhere; because the control points are the identity's (fixed for a whole video), the
spline's solve is done once and each frame's field is one matrix product:
``field = basis @ displacements`` (:func:`tps_basis`). Sampling is bilinear with gathers,
and the inner-lip polygon is rasterised by a crossing-number test: all TFLite builtins.
"""

from __future__ import annotations

import numpy as np
from keras import ops


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    """The thin-plate radial function ``r^2 log r`` written on squared distances."""
    return np.where(r2 > 0, 0.5 * r2 * np.log(np.maximum(r2, 1e-30)), 0.0)


def tps_basis(controls: np.ndarray, points: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """The matrix that maps control-point displacements to displacements at ``points``.

    Args:
        controls: ``(N, 2)`` control point positions (pixels).
        points: ``(M, 2)`` where the field is wanted.
        smoothing: thin-plate regularisation (0: the field passes exactly through the
            control displacements).

    Returns:
        ``(M, N)`` float32 ``B`` with ``field(points) = B @ displacements``. It reproduces any
        affine displacement exactly (and so a zero displacement as zero).
    """
    return tps_bases(controls, points, [np.arange(len(controls))], smoothing)[0]


def tps_bases(controls: np.ndarray, points: np.ndarray, subsets,
              smoothing: float = 0.0) -> list[np.ndarray]:
    """:func:`tps_basis` of the spline through each subset of ``controls`` (index arrays),
    each ``(M, N)`` with zero columns for the controls it leaves out. The kernel between
    points and controls, the costly part, is computed once for all of them."""
    controls = np.asarray(controls, np.float64)
    points = np.asarray(points, np.float64)
    scale = max(np.ptp(controls, axis=0).max(), 1e-9)  # conditioning: unit-sized layout
    c, p = controls / scale, points / scale
    kernel = _tps_kernel(((c[:, None] - c[None]) ** 2).sum(-1))
    rows = _tps_kernel(((p[:, None] - c[None]) ** 2).sum(-1))
    bases = []
    for keep in subsets:
        keep = np.asarray(keep)
        n = len(keep)
        affine = np.hstack([np.ones((n, 1)), c[keep]])
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = kernel[np.ix_(keep, keep)] + smoothing * np.eye(n)
        system[:n, n:], system[n:, :n] = affine, affine.T
        solve = np.linalg.pinv(system)[:, :n]  # (n + 3, n): coefficients per unit displacement
        basis = np.zeros((len(p), len(c)), np.float32)
        basis[:, keep] = np.hstack([rows[:, keep], np.ones((len(p), 1)), p]) @ solve
        bases.append(basis)
    return bases


def bilinear_sample(image, x, y):
    """Samples ``image`` ``(B, H, W, C)`` at pixel positions ``x, y`` ``(B, H', W')``.

    Positions outside are clamped to the border (the crop's edge pixels repeat).
    """
    shape = ops.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    x = ops.clip(x, 0.0, ops.cast(width - 1, "float32"))
    y = ops.clip(y, 0.0, ops.cast(height - 1, "float32"))
    x0, y0 = ops.floor(x), ops.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0 = ops.cast(x0, "int32")
    y0 = ops.cast(y0, "int32")
    x1 = ops.minimum(x0 + 1, width - 1)
    y1 = ops.minimum(y0 + 1, height - 1)
    table, base = _table(image)
    out_shape = ops.shape(x)

    def gather(yy, xx):
        return _gather(table, base, yy, xx, width, out_shape, channels)

    top = gather(y0, x0) * (1.0 - wx) + gather(y0, x1) * wx
    bottom = gather(y1, x0) * (1.0 - wx) + gather(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


def nearest_sample(image, x, y):
    """As :func:`bilinear_sample` taking the nearest pixel (one gather, no blending)."""
    shape = ops.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    x = ops.clip(ops.floor(x + 0.5), 0.0, ops.cast(width - 1, "float32"))
    y = ops.clip(ops.floor(y + 0.5), 0.0, ops.cast(height - 1, "float32"))
    table, base = _table(image)
    return _gather(table, base, ops.cast(y, "int32"), ops.cast(x, "int32"), width,
                   ops.shape(x), channels)


def split_detail(image):
    """``(low, detail)`` with ``low + detail == image``: ``low`` the image under a 5-tap
    binomial blur (separable, per channel), ``detail`` the fine texture it removed."""
    taps = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
    channels = 3
    rows = np.tile(taps.reshape(5, 1, 1, 1), (1, 1, channels, 1))
    columns = np.tile(taps.reshape(1, 5, 1, 1), (1, 1, channels, 1))
    low = ops.depthwise_conv(ops.depthwise_conv(image, rows, padding="same"), columns,
                             padding="same")
    return low, image - low


def _table(image):
    """``image`` as one ``(B * H * W, C)`` table, and each batch item's first row there."""
    shape = ops.shape(image)
    per_item = shape[1] * shape[2]
    base = ops.reshape(ops.arange(shape[0], dtype="int32") * per_item, (-1, 1, 1))
    return ops.reshape(image, (-1, shape[3])), base


def _gather(table, base, yy, xx, width, out_shape, channels):
    """Rows of :func:`_table` at integer positions ``yy, xx`` ``(B, H', W')``: whole pixels
    in one gather (TFLite GATHER)."""
    index = ops.reshape(base + yy * width + xx, (-1,))
    values = ops.take(table, index, axis=0)
    return ops.reshape(values, (out_shape[0], out_shape[1], out_shape[2], channels))


def _catmull_rom(t):
    """The four Catmull-Rom (bicubic, a = -0.5) weights for a fractional offset ``t``."""
    t2, t3 = t * t, t * t * t
    return (-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0,
            -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2)


def bicubic_sample(image, x, y):
    """As :func:`bilinear_sample` with Catmull-Rom weights over 4 x 4 pixels: moved skin and
    lips keep their fine texture (bilinear sampling at half-pixel offsets halves it)."""
    shape = ops.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    x = ops.clip(x, 0.0, ops.cast(width - 1, "float32"))
    y = ops.clip(y, 0.0, ops.cast(height - 1, "float32"))
    x0, y0 = ops.floor(x), ops.floor(y)
    wx = _catmull_rom(x - x0)
    wy = _catmull_rom(y - y0)
    x0 = ops.cast(x0, "int32")
    y0 = ops.cast(y0, "int32")
    table, base = _table(image)
    out_shape = ops.shape(x)
    columns = [ops.clip(x0 + k, 0, width - 1) for k in (-1, 0, 1, 2)]
    total = 0.0
    for j, row in enumerate((-1, 0, 1, 2)):
        yy = ops.clip(y0 + row, 0, height - 1)
        line = 0.0
        for i, xx in enumerate(columns):
            line = line + _gather(table, base, yy, xx, width, out_shape, channels) * wx[i][
                ..., None]
        total = total + line * wy[j][..., None]
    return total


def polygon_mask(polygon, height, width, supersample: int = 2):
    """Anti-aliased inside-mask of closed polygons: ``(B, K, 2)`` pixels -> ``(B, H, W)``.

    A crossing-number test at ``supersample`` x ``supersample`` points per pixel, averaged.
    ``height`` and ``width`` may be tensors (written with TFLite builtins for that case:
    reshapes instead of new axes); the number of vertices ``K`` must be known."""
    offsets = ((np.arange(supersample) + 0.5) / supersample - 0.5).astype(np.float32)

    def samples(count):
        positions = ops.cast(ops.arange(count), "float32")[:, None] + offsets[None]
        return ops.reshape(positions, (-1,))

    px = ops.reshape(samples(width), (1, 1, -1))  # (1, 1, W')
    py = ops.reshape(samples(height), (1, -1, 1))  # (1, H', 1)
    # One edge at a time (the vertex count is static): memory stays a few (B, H', W') masks
    # however many vertices, where testing every edge at once held K of them (a 300-pixel
    # mouth in a batch of 8: about 100 MB a frame).
    vertices = int(polygon.shape[1])
    count = None
    for k in range(vertices):
        edge = _edge(polygon, k)
        crosses = _crosses(edge, px, py)
        count = crosses if count is None else count + crosses
    inside = ops.cast(ops.equal(count % 2, 1), "float32")  # (B, H', W')
    batch = ops.shape(polygon)[0]
    inside = ops.reshape(inside, (batch, height, supersample, width, supersample))
    return ops.mean(inside, axis=(2, 4))


def soft_polygon_mask(polygon, height: int, width: int, softness: float = 0.5):
    """Inside-mask of closed polygons ``(B, K, 2)`` -> ``(B, H, W)`` whose edge moves with
    the vertices under a gradient: ``sigmoid(+-d / softness)`` of each pixel centre's distance
    ``d`` to the nearest edge, positive inside (the crossing-number parity, which has no
    gradient, gives the side). For training through the renderer
    (:class:`~lipmotion_tf.motion.joint_generator.JointGenerator`); ``softness`` in pixels."""
    px = ops.reshape(ops.cast(ops.arange(width), "float32"), (1, 1, -1))
    py = ops.reshape(ops.cast(ops.arange(height), "float32"), (1, -1, 1))
    vertices = int(polygon.shape[1])
    count, nearest = None, None
    for k in range(vertices):
        edge = _edge(polygon, k)
        crosses = _crosses(edge, px, py)
        count = crosses if count is None else count + crosses
        ax, ay, bx, by = edge
        ex, ey = bx - ax, by - ay
        along = ops.clip(((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey + 1e-6), 0.0, 1.0)
        squared = ops.square(px - ax - along * ex) + ops.square(py - ay - along * ey)
        nearest = squared if nearest is None else ops.minimum(nearest, squared)
    side = 2.0 * ops.cast(ops.equal(count % 2, 1), "float32") - 1.0
    return ops.sigmoid(side * ops.sqrt(nearest + 1e-6) / softness)


def _edge(polygon, k: int):
    """Edge ``k`` of closed polygons ``(B, K, 2)``: ``(ax, ay, bx, by)``, each ``(B, 1, 1)``."""
    a, b = polygon[:, k], polygon[:, (k + 1) % int(polygon.shape[1])]
    return tuple(ops.reshape(v, (-1, 1, 1)) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))


def _crosses(edge, px, py):
    """1 where a ray from ``(px, py)`` towards +x crosses ``edge`` (the crossing-number test),
    int32 broadcast over ``px`` and ``py``."""
    ax, ay, bx, by = edge
    straddles = ops.not_equal(ay > py, by > py)
    dy = by - ay
    safe = ops.where(ops.abs(dy) < 1e-6, ops.ones_like(dy), dy)
    crossing_x = ax + (py - ay) * (bx - ax) / safe
    return ops.cast(ops.logical_and(straddles, px < crossing_x), "int32")
