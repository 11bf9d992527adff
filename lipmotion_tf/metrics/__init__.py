"""Evaluation metrics: the paper's LMD, SSIM, PSNR and CPBD, and a lip-sync correlation.

All are numpy functions (no TensorFlow). Names are imported from their modules on first use,
so ``import lipmotion_tf.metrics`` stays cheap:

* :mod:`~lipmotion_tf.metrics.lmd`: ``landmark_distance`` (LMD), ``landmark_distances`` (per
  frame and point), ``lip_landmarks_from_crops`` (lip points of crops pasted back into a face).
* :mod:`~lipmotion_tf.metrics.ssim_psnr`: ``ssim``, ``psnr``, ``PSNR_MAX_DB`` and
  ``psnr_uint8_wraparound`` (the authors' arithmetic, for comparison only).
* :mod:`~lipmotion_tf.metrics.sharpness`: ``cpbd``, ``cpbd_video`` (no-reference sharpness).
* :mod:`~lipmotion_tf.metrics.lip_sync`: ``sync_correlation`` (best lag and correlation of
  mouth openings), ``lagged_correlations``, ``mouth_opening_series``, ``SyncResult``.
"""

from __future__ import annotations

from lipmotion_tf.lazy_exports import lazy_exports

_EXPORTS = {
    "landmark_distance": "lmd",
    "landmark_distances": "lmd",
    "lip_landmarks_from_crops": "lmd",
    "ssim": "ssim_psnr",
    "psnr": "ssim_psnr",
    "psnr_uint8_wraparound": "ssim_psnr",
    "PSNR_MAX_DB": "ssim_psnr",
    "cpbd": "sharpness",
    "cpbd_video": "sharpness",
    "sync_correlation": "lip_sync",
    "lagged_correlations": "lip_sync",
    "mouth_opening_series": "lip_sync",
    "SyncResult": "lip_sync",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
