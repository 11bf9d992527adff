"""Every measure of one clip made by one method, against the real clip.

The per-frame quantities are kept (landmark distances, mouth openings) so that a report can
pool frames over clips instead of averaging clip averages, and can draw the openings.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SYNC_MAX_LAG = 5  # frames each way (200 ms at 25 fps)


@dataclasses.dataclass
class ClipMeasures:
    """One method on one clip.

    Attributes:
        num_frames: frames of the clip.
        distances: ``(T, P)`` distances between mean-centred real and generated lip landmarks
            in crop pixels (:func:`~lipmotion_tf.metrics.lmd.landmark_distances`); NaN rows
            where either set was not found.
        ssim: mean SSIM over frames (grayscale, against the real crops).
        psnr: mean PSNR over frames, dB.
        psnr_after_first: mean PSNR over the frames after the first, dB. The first real
            frame is the identity image every method is given, so the static baseline's first
            frame is exact (100 dB) and lifts its mean over a 3 s clip by about 1 dB; this
            one compares the frames a method has to make.
        cpbd: mean CPBD of the method's frames.
        openings: ``(T,)`` mouth openings of the method's frames (NaN where not found).
        lagged: ``{lag: correlation}`` of the openings with the real ones
            (:func:`~lipmotion_tf.metrics.lip_sync.lagged_correlations`).
        colour_shift: largest difference, over R, G and B, between the mean colour of the
            method's frames and that of the identity image, in grey levels (does the method
            keep the given colours?).
        still_psnr: PSNR of the frames the method makes from quiet audio against the
            identity image, dB (does the mouth stay as given when nobody speaks?); NaN
            when not measured.
        opening_ratio: std of the mouth opening, the method's over the real one's.
        motion_ratio: mean frame-to-frame landmark movement, the method's over the real one's.
    """

    num_frames: int
    distances: np.ndarray
    ssim: float
    psnr: float
    cpbd: float
    openings: np.ndarray
    lagged: dict[int, float]
    colour_shift: float = float("nan")
    still_psnr: float = float("nan")
    psnr_after_first: float = float("nan")
    opening_ratio: float = float("nan")
    motion_ratio: float = float("nan")

    @property
    def landmark_frames(self) -> int:
        """Frames where both landmark sets were found."""
        return int(np.count_nonzero(np.all(np.isfinite(self.distances), axis=1)))

    def lmd(self, reduce: str = "mean") -> float:
        """LMD of the clip: ``mean`` over points (the paper) or ``sum`` (the authors' code)."""
        valid = np.all(np.isfinite(self.distances), axis=1)
        if not np.any(valid):
            return float("nan")
        rows = self.distances[valid]
        return float((rows.mean(axis=1) if reduce == "mean" else rows.sum(axis=1)).mean())

    def sync(self) -> tuple[float, int]:
        """Best correlation over lags and its lag (NaN, 0 when none is defined)."""
        return best_lag(self.lagged)

    def to_json(self) -> dict:
        corr, lag = self.sync()
        return {
            "lmd": json_number(self.lmd("mean")),
            "lmd_sum": json_number(self.lmd("sum")),
            "landmark_frames": self.landmark_frames,
            "ssim": json_number(self.ssim),
            "psnr": json_number(self.psnr),
            "psnr_after_first": json_number(self.psnr_after_first),
            "cpbd": json_number(self.cpbd),
            "sync_corr": json_number(corr),
            "sync_lag": lag if math.isfinite(corr) else None,
            "sync_corr_at_zero": json_number(self.lagged.get(0, float("nan"))),
            "colour_shift": json_number(self.colour_shift),
            "still_psnr": json_number(self.still_psnr),
            "opening_ratio": json_number(self.opening_ratio),
            "motion_ratio": json_number(self.motion_ratio),
        }


def best_lag(lagged: dict[int, float]) -> tuple[float, int]:
    """``(correlation, lag)`` of the highest finite correlation; ties go to the smallest ``|lag|``.

    The tie rule is :func:`~lipmotion_tf.metrics.lip_sync.sync_correlation`'s. ``(nan, 0)``
    when no correlation is finite.
    """
    best, lag_of_best = float("nan"), 0
    for lag in sorted(lagged, key=lambda value: (abs(value), value)):
        value = lagged[lag]
        if math.isfinite(value) and (math.isnan(best) or value > best):
            best, lag_of_best = value, lag
    return best, lag_of_best


def json_number(value) -> float | None:
    """A float for JSON, or None for NaN and infinities (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def measure_clip(
    real_crops: np.ndarray,
    crops: np.ndarray,
    real_landmarks: np.ndarray,
    landmarks: np.ndarray,
    max_lag: int = SYNC_MAX_LAG,
    identity: np.ndarray | None = None,
    still: np.ndarray | None = None,
) -> ClipMeasures:
    """Measures one method's crops of a clip against the real crops.

    Args:
        real_crops: ``(T, S, S, 3)`` uint8 real lip crops.
        crops: ``(T, S, S, 3)`` uint8 crops of the method (generated, or a baseline).
        real_landmarks: ``(T, P, 2)`` lip landmarks of the real crops in crop pixels, found
            on the crops pasted into the clip's background.
        landmarks: ``(T, P, 2)`` the same for ``crops``, pasted into the same background.
        max_lag: largest shift of the lip-sync correlation, in frames.
        identity: ``(S, S, 3)`` uint8 identity image the method was given (for
            ``colour_shift`` and ``still_psnr``).
        still: ``(N, S, S, 3)`` uint8 frames the method made from quiet audio.

    Raises:
        InputError: shapes that do not match.
    """
    from lipmotion_tf.metrics.lip_sync import lagged_correlations, mouth_opening_series
    from lipmotion_tf.metrics.lmd import landmark_distances
    from lipmotion_tf.metrics.sharpness import cpbd_video
    from lipmotion_tf.metrics.ssim_psnr import psnr, ssim

    real_openings = mouth_opening_series(real_landmarks)
    openings = mouth_opening_series(landmarks)
    return ClipMeasures(
        num_frames=int(len(crops)),
        distances=landmark_distances(real_landmarks, landmarks),
        ssim=ssim(crops, real_crops),
        psnr=psnr(crops, real_crops),
        cpbd=cpbd_video(crops),
        openings=openings,
        lagged=lagged_correlations(openings, real_openings, max_lag),
        colour_shift=colour_shift(crops, identity) if identity is not None else float("nan"),
        still_psnr=(psnr(still, np.repeat(identity[None], len(still), axis=0))
                    if still is not None and identity is not None else float("nan")),
        psnr_after_first=psnr(crops[1:], real_crops[1:]) if len(crops) > 1 else float("nan"),
        opening_ratio=opening_ratio(openings, real_openings),
        motion_ratio=motion_ratio(landmarks, real_landmarks),
    )


def opening_ratio(openings: np.ndarray, real_openings: np.ndarray) -> float:
    """How widely a method opens the mouth against the real one: the std of its opening
    series over the real one's (1: as much; NaN frames ignored)."""
    return _ratio(np.nanstd(openings), np.nanstd(real_openings))


def motion_ratio(landmarks: np.ndarray, real_landmarks: np.ndarray) -> float:
    """How fast a method moves the lips against the real ones: mean frame-to-frame landmark
    movement, its over the real one's."""
    return _ratio(_frame_motion(landmarks), _frame_motion(real_landmarks))


def _frame_motion(landmarks: np.ndarray) -> float:
    """Mean frame-to-frame movement of the landmarks (frames where both were found)."""
    steps = np.linalg.norm(np.diff(np.asarray(landmarks, np.float64), axis=0), axis=-1)
    return float(np.nanmean(steps)) if np.isfinite(steps).any() else float("nan")


def _ratio(generated: float, real: float) -> float:
    """``generated / real``, NaN when the real value is 0 or undefined."""
    return float(generated / real) if np.isfinite(real) and real > 0 else float("nan")


def colour_shift(crops: np.ndarray, identity: np.ndarray) -> float:
    """Largest per-channel difference of mean colour, frames vs identity, in grey levels."""
    frames_mean = crops.reshape(-1, crops.shape[-1]).astype(np.float64).mean(axis=0)
    identity_mean = identity.reshape(-1, identity.shape[-1]).astype(np.float64).mean(axis=0)
    return float(np.abs(frames_mean - identity_mean).max())
