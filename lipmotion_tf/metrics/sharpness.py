"""CPBD: the no-reference sharpness metric of Narvekar and Karam (IEEE TIP 2011).

CPBD, the cumulative probability of blur detection, is the share of an image's edges whose
width a viewer would not see as blurred. Each edge width ``w`` in a block gets the
probability of blur detection ``P = 1 - exp(-(w / w_JNB) ** beta)``, where the just-noticeable
width ``w_JNB`` is 5 pixels in blocks of contrast <= 50 gray levels and 3 above; CPBD is the
fraction of edges with ``P <= P_JNB = 63 %`` (``1 - 1/e``, the probability at ``w = w_JNB``).
Higher is sharper; 0 when no edge is found. The paper reports it for generated frames only.

The steps follow the reference MATLAB code of the metric (``CPBD_compute.m``, 2009):

1. Grayscale uint8 (BT.601 luma for RGB), then float64 gray levels 0-255.
2. Edge blocks: the image is cut into whole 64x64 blocks (a remainder at the right or bottom
   is ignored); a block counts when more than 0.2 % of its pixels (9 of 4096) are Canny edges.
   Canny is ``skimage.feature.canny`` with its defaults (sigma 1, thresholds 0.1 and 0.2 on
   the 0-255 scale), as in the Python ports used by the authors and by the ``cpbd`` package;
   MATLAB's adaptive thresholds differ, but the map only decides whether a block holds a few
   edges, which any textured block does.
3. Edge widths: vertical Sobel edges (MATLAB ``edge(I, 'Sobel', 2, 'vertical')``: the
   horizontal derivative ``[1 0 -1; 2 0 -2; 1 0 -1] / 8`` with replicated borders, squared
   magnitude above 2^2 = 4, thinned by MATLAB's non-maximum suppression). At each interior
   edge pixel the gradient angle (``atan2`` of ``numpy.gradient``, 0 where the horizontal
   gradient is 0) is rounded to a multiple of 45 degrees; for 0 or +-180 degrees the width
   is Marziliano's: the run of monotonic gray levels on each side of the pixel along the row,
   each side counted from the pixel's neighbour (at most 101 pixels a side). Other angles
   contribute no width.
4. Histogram: ``P`` rounded to whole percent (halves away from zero, as MATLAB), CPBD the
   share of edges in bins 0 to 63.

Differences from the authors' Python port (their ``cpbd_compute``): they skip the thinning
of the Sobel edges (so each edge is counted on 2-3 adjacent pixels), sum bins 0 to 62 instead
of 0 to 63, and measured frames after a min-max stretch to 0-255. The ``cpbd`` package on PyPI
picks its Sobel threshold automatically (Octave's rule) instead of MATLAB's fixed 2.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.metrics._frames import gray_clip

BLOCK_SIZE = 64
EDGE_BLOCK_THRESHOLD = 0.002  # share of Canny edge pixels that makes an edge block
BETA = 3.6
JNB_LOW_CONTRAST_WIDTH = 5.0  # just-noticeable width for block contrast <= 50
JNB_HIGH_CONTRAST_WIDTH = 3.0
JNB_CONTRAST_LIMIT = 50
SOBEL_THRESHOLD = 2.0
P_JNB_PERCENT = 63  # last histogram bin counted as "not blurred"
MAX_WIDTH_STEPS = 101  # Marziliano search length per side

# Horizontal derivative (detects vertical edges) and its transpose, as MATLAB's fspecial('sobel')/8.
_SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 8.0
_SOBEL_Y = _SOBEL_X.T


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """MATLAB's round: halves go away from zero (numpy's round goes to even)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def sobel_vertical_edges(image: np.ndarray, threshold: float = SOBEL_THRESHOLD) -> np.ndarray:
    """Thinned vertical edges of a gray image, as MATLAB's ``edge(I, 'Sobel', t, 'vertical')``.

    A pixel is an edge when its squared horizontal derivative ``b = gx^2`` exceeds
    ``threshold^2`` and it is a maximum of ``b`` along the row (when ``|gx| >= |gy|``) or along
    the column (``b`` not smaller than the upper neighbour and larger than the lower one;
    likewise left and right along the row). Neighbours outside the image do not block a maximum.

    Args:
        image: ``(H, W)`` float gray levels (0-255).
        threshold: gradient threshold on the 0-255 scale (MATLAB's explicit 2 in CPBD).

    Returns:
        ``(H, W)`` bool edge map.
    """
    from scipy.ndimage import correlate

    gx = correlate(image, _SOBEL_X, mode="nearest")
    gy = correlate(image, _SOBEL_Y, mode="nearest")
    strength = gx * gx
    tolerance = 100 * np.finfo(np.float64).eps

    def shifted(dy: int, dx: int) -> np.ndarray:
        # strength at (r + dy, c + dx); -inf outside so that border comparisons pass
        out = np.full_like(strength, -np.inf)
        h, w = strength.shape
        out[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = strength[
            max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)
        ]
        return out

    def not_below(neighbour: np.ndarray) -> np.ndarray:
        return neighbour <= strength

    def above(neighbour: np.ndarray) -> np.ndarray:
        # neighbour outside the image (-inf) passes, as in MATLAB's border handling
        return strength > neighbour

    along_row = (np.abs(gx) >= np.abs(gy) - tolerance) & not_below(shifted(0, -1)) & above(shifted(0, 1))
    along_column = not_below(shifted(-1, 0)) & above(shifted(1, 0))
    return (strength > threshold * threshold) & (along_row | along_column)


def marziliano_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Edge widths along rows (Marziliano et al. 2002) at the given edge pixels.

    Args:
        edges: ``(H, W)`` bool edge map.
        image: ``(H, W)`` float gray levels.

    Returns:
        ``(H, W)`` float widths in pixels, 0 where there is no (horizontal-gradient) edge.
        Border rows and columns are never measured.
    """
    height, width = image.shape
    widths = np.zeros((height, width), dtype=np.float64)
    gy, gx = np.gradient(image)
    with np.errstate(invalid="ignore"):
        angle = np.where(gx != 0, np.degrees(np.arctan2(gy, gx)), 0.0)
    quantized = 45.0 * _round_half_away(angle / 45.0)
    interior = np.zeros_like(edges, dtype=bool)
    interior[1:-1, 1:-1] = True
    candidates = edges.astype(bool) & interior & ((quantized == 0) | (np.abs(quantized) == 180))

    def run(row: np.ndarray, col: int, direction: int, rising: bool) -> int:
        # Steps from the neighbour of `col` in `direction` while the profile keeps
        # rising (or falling) away from the edge; returns the count as MATLAB's k + 1.
        for k in range(MAX_WIDTH_STEPS):
            near = col + direction * (1 + k)
            far = col + direction * (2 + k)
            if far < 0 or far >= width:
                return k + 1
            step = row[far] - row[near]
            if (step <= 0) if rising else (step >= 0):
                return k + 1
        return MAX_WIDTH_STEPS

    for r, c in zip(*np.nonzero(candidates)):
        row = image[r]
        if quantized[r, c] == 0:
            # Gray levels rise left to right: brighter to the right, darker to the left.
            widths[r, c] = run(row, c, +1, rising=True) + run(row, c, -1, rising=False)
        else:
            # Gray levels fall left to right.
            widths[r, c] = run(row, c, -1, rising=True) + run(row, c, +1, rising=False)
    return widths


def _cpbd_gray(image: np.ndarray) -> float:
    """CPBD of one ``(H, W)`` float gray image (0-255)."""
    from skimage.feature import canny

    canny_edges = canny(image)
    widths = marziliano_widths(sobel_vertical_edges(image), image)
    rows, cols = image.shape[0] // BLOCK_SIZE, image.shape[1] // BLOCK_SIZE
    min_edges = EDGE_BLOCK_THRESHOLD * BLOCK_SIZE * BLOCK_SIZE
    sharp = 0
    total = 0
    for i in range(rows):
        for j in range(cols):
            window = np.s_[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE, j * BLOCK_SIZE : (j + 1) * BLOCK_SIZE]
            if np.count_nonzero(canny_edges[window]) <= min_edges:
                continue
            block_widths = widths[window]
            block_widths = block_widths[block_widths != 0]
            block = image[window]
            contrast = int(block.max() - block.min())
            jnb = JNB_LOW_CONTRAST_WIDTH if contrast <= JNB_CONTRAST_LIMIT else JNB_HIGH_CONTRAST_WIDTH
            probability = 1.0 - np.exp(-np.abs(block_widths / jnb) ** BETA)
            bins = _round_half_away(probability * 100.0)
            sharp += int(np.count_nonzero(bins <= P_JNB_PERCENT))
            total += int(block_widths.size)
    return sharp / total if total else 0.0


def cpbd(image: np.ndarray) -> float:
    """CPBD sharpness of one image, in [0, 1] (higher is sharper); see the module docstring.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB, uint8 or float in [-1, 1], at least
            64x64 (the metric works on whole 64x64 blocks; a 64x64 lip frame is one block).

    Raises:
        InputError: another shape, a side under 64 pixels, or values out of range.
    """
    clip = gray_clip(image, "image")
    if clip.shape[0] != 1:
        raise InputError(f"cpbd takes one image, got shape {np.shape(image)}; use cpbd_video for frames")
    return _cpbd_checked(clip[0])


def _cpbd_checked(gray: np.ndarray) -> float:
    if min(gray.shape) < BLOCK_SIZE:
        raise InputError(f"CPBD needs images of at least {BLOCK_SIZE}x{BLOCK_SIZE} pixels, got {gray.shape}")
    return _cpbd_gray(gray.astype(np.float64))


def cpbd_video(frames: np.ndarray) -> float:
    """Mean CPBD over the frames of a clip.

    Args:
        frames: ``(T, H, W[, 3])`` (or one ``(H, W[, 3])`` frame), uint8 or float in [-1, 1].

    Raises:
        InputError: as :func:`cpbd`.
    """
    clip = gray_clip(frames, "frames")
    return float(np.mean([_cpbd_checked(frame) for frame in clip]))
