"""Full-reference image quality of generated frames: SSIM and PSNR against the real frames.

Both follow the authors' evaluation (the paper's Tables 2 and 3): each frame is compared in
grayscale, and the per-frame values are averaged over the frames.

* Grayscale: ITU-R BT.601 luma, ``round(0.299 R + 0.587 G + 0.114 B)`` on uint8 RGB, as the
  authors' ``cv2.cvtColor(..., COLOR_BGR2GRAY)``. Float frames in [-1, 1] are first mapped to
  uint8 with ``round((x + 1) * 127.5)`` (the authors instead saved each frame with
  ``scipy.misc.imsave``, which min-max stretches every frame to 0-255, and re-read the JPEG:
  their numbers include that stretch and the JPEG loss, ours do not).
* Data range 255.

PSNR here is computed in float arithmetic. The authors computed ``(a - b) ** 2`` on uint8
arrays, so both the difference and the square wrap modulo 256; :func:`psnr_uint8_wraparound`
reproduces that only to compare with published figures. The wrapped squared error is at most
255, so that PSNR never drops below 24 dB, and two unrelated images score about 28 dB: this is
likely why every method in the paper's tables reports 28.6 to 30 dB.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.metrics._frames import paired_gray_clips

DATA_RANGE = 255.0
SSIM_WINDOW = 7

# PSNR of two identical frames (infinite in theory). The authors' psnr_f returns 100 for a
# zero error; a finite cap keeps the mean over frames finite and comparable. A single one-level
# difference in one pixel of a 64x64 frame is already 84 dB, so no real difference reaches it.
PSNR_MAX_DB = 100.0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004) of two frames or clips, in grayscale.

    Per frame, ``skimage.metrics.structural_similarity`` with the authors' settings (skimage's
    defaults, as ``compare_ssim`` used): a 7x7 uniform window (no Gaussian weighting), sample
    covariance, K1 = 0.01, K2 = 0.03, data range 255, the mean of the SSIM map over the
    positions where the window fits. The result is the mean over frames.

    Args:
        a, b: frames of the same shape: ``(H, W[, 3])`` or ``(T, H, W[, 3])``, uint8 or float in
            [-1, 1]; RGB is converted to BT.601 gray (see the module docstring).

    Returns:
        A float in [-1, 1]; 1 for identical frames.

    Raises:
        InputError: shapes differ, frames are smaller than 7x7, or values are out of range.
    """
    from skimage.metrics import structural_similarity

    clip_a, clip_b = paired_gray_clips(a, b)
    if min(clip_a.shape[1:]) < SSIM_WINDOW:
        raise InputError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {clip_a.shape[1:]}")
    values = [
        structural_similarity(
            frame_a.astype(np.float64),
            frame_b.astype(np.float64),
            win_size=SSIM_WINDOW,
            gaussian_weights=False,
            use_sample_covariance=True,
            data_range=DATA_RANGE,
        )
        for frame_a, frame_b in zip(clip_a, clip_b)
    ]
    return float(np.mean(values))


def _psnr_from_mse(mse: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(DATA_RANGE**2 / mse)
    return np.minimum(db, PSNR_MAX_DB)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean peak signal-to-noise ratio of two frames or clips, in grayscale, in dB.

    Per frame, ``10 log10(255^2 / MSE)`` with the mean squared error of the gray levels
    computed in float64; a frame pair with no error counts as :data:`PSNR_MAX_DB` (100 dB).
    The result is the mean of the per-frame values (as the authors average them), not the PSNR
    of the clip's pooled error.

    Args:
        a, b: frames of the same shape: ``(H, W[, 3])`` or ``(T, H, W[, 3])``, uint8 or float in
            [-1, 1]; RGB is converted to BT.601 gray (see the module docstring).

    Raises:
        InputError: shapes differ or values are out of range.
    """
    clip_a, clip_b = paired_gray_clips(a, b)
    diff = clip_a.astype(np.float64) - clip_b.astype(np.float64)
    mse = np.mean(diff * diff, axis=(1, 2))
    return float(np.mean(_psnr_from_mse(mse)))


def psnr_uint8_wraparound(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR as the authors' evaluation computed it, wrap-around included; for comparison only.

    ``(a - b) ** 2`` is evaluated in uint8, so the difference and then its square are taken
    modulo 256 before the mean. The result says little about image quality (an image against
    its own negative can score higher than against a slightly noisy copy); use :func:`psnr`.
    Same inputs, grayscale conversion, per-frame cap and averaging as :func:`psnr`.
    """
    clip_a, clip_b = paired_gray_clips(a, b)
    with np.errstate(over="ignore"):
        wrapped = (clip_a - clip_b) ** 2  # stays uint8: both steps wrap modulo 256
    mse = np.mean(wrapped.astype(np.float64), axis=(1, 2))
    return float(np.mean(_psnr_from_mse(mse)))
