"""Evaluation metrics: LMD, SSIM, PSNR, CPBD and the mouth-opening sync correlation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.errors import InputError
from lipmotion_tf.metrics import (
    PSNR_MAX_DB,
    cpbd,
    cpbd_video,
    landmark_distance,
    landmark_distances,
    lip_landmarks_from_crops,
    mouth_opening_series,
    psnr,
    psnr_uint8_wraparound,
    ssim,
    sync_correlation,
)
from lipmotion_tf.metrics._frames import checked_uint8, gray_clip
from lipmotion_tf.metrics.sharpness import marziliano_widths, sobel_vertical_edges


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(frame, (0, 0), sigma) for frame in frames])


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def clip(astronaut) -> np.ndarray:
    """Four 64x64 RGB uint8 frames around the astronaut's mouth, each shifted a little."""
    return np.stack([astronaut[150 + 2 * t : 214 + 2 * t, 190 + t : 254 + t] for t in range(4)])


# --- frame conversion --------------------------------------------------------------------


def test_to_uint8_maps_the_float_convention_and_rejects_other_ranges():
    out = checked_uint8(np.array([-1.0, 0.0, 1.0, 0.5], np.float32))
    np.testing.assert_array_equal(out, [0, 128, 255, 191])
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        checked_uint8(np.array([0.0, 200.0], np.float32))
    with pytest.raises(InputError, match="NaN"):
        checked_uint8(np.array([np.nan], np.float32))


def test_grayscale_is_bt601_like_opencv(clip):
    import cv2

    ours = gray_clip(clip)
    reference = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clip])
    assert ours.shape == (4, 64, 64)
    assert np.abs(ours.astype(int) - reference).max() <= 1


# --- SSIM / PSNR -------------------------------------------------------------------------


def test_identical_clips_give_ssim_one_and_capped_psnr(clip):
    assert ssim(clip, clip) == pytest.approx(1.0)
    assert psnr(clip, clip) == PSNR_MAX_DB
    assert psnr_uint8_wraparound(clip, clip) == PSNR_MAX_DB


def test_more_noise_lowers_ssim_and_psnr(clip):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=clip.shape)
    scores = []
    for sigma in (2.0, 8.0, 24.0):
        noisy = np.clip(clip + sigma * noise, 0, 255).round().astype(np.uint8)
        scores.append((ssim(clip, noisy), psnr(clip, noisy)))
    ssims, psnrs = zip(*scores)
    assert all(np.isfinite(psnrs)) and max(psnrs) < PSNR_MAX_DB
    assert ssims[0] > ssims[1] > ssims[2] and ssims[0] < 1.0
    assert psnrs[0] > psnrs[1] > psnrs[2]


def test_blur_and_shift_lower_ssim(clip):
    assert ssim(clip, _blur(clip, 1.5)) < 0.95
    assert ssim(clip, np.roll(clip, 3, axis=2)) < ssim(clip, np.roll(clip, 1, axis=2)) < 1.0


def test_psnr_value_and_the_wraparound_bug():
    a = np.full((2, 64, 64), 100, np.uint8)
    b = a + np.uint8(10)
    # MSE 100 -> 10 log10(255^2 / 100)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255.0**2 / 100.0))
    # A difference of 16 wraps to 240 and 240^2 wraps to 0 in uint8: "no error".
    c = a + np.uint8(16)
    assert psnr(a, c) == pytest.approx(10 * np.log10(255.0**2 / 256.0))
    assert psnr_uint8_wraparound(a, c) == PSNR_MAX_DB


def test_float_frames_score_like_their_uint8_version(clip):
    as_float = clip.astype(np.float32) / 127.5 - 1.0
    blurred = _blur(clip, 1.0)
    assert psnr(as_float, blurred) == pytest.approx(psnr(clip, blurred), abs=1e-3)
    assert ssim(as_float, blurred) == pytest.approx(ssim(clip, blurred), abs=1e-4)


def test_mismatched_frames_are_input_errors(clip):
    with pytest.raises(InputError, match="differ in shape"):
        psnr(clip, clip[:2])
    with pytest.raises(InputError, match="7x7"):
        ssim(clip[:, :5, :5], clip[:, :5, :5])


# --- CPBD --------------------------------------------------------------------------------


def _edge_image(ramp: int) -> np.ndarray:
    """64x64 gray: dark left, bright right, joined by a linear ramp of ``ramp`` pixels."""
    columns = np.clip((np.arange(64) - 31.5) / max(ramp, 1) + 0.5, 0.0, 1.0)
    return np.tile(np.round(20 + 200 * columns), (64, 1)).astype(np.uint8)


def test_marziliano_width_grows_with_the_ramp():
    widths = []
    for ramp in (1, 4, 8):
        image = _edge_image(ramp).astype(np.float64)
        found = marziliano_widths(sobel_vertical_edges(image), image)
        values = np.unique(found[found > 0])
        assert values.size >= 1
        widths.append(values.max())
    # A clean step is 2 pixels wide by Marziliano's count (one step each side of the edge).
    assert widths[0] == 2
    assert widths[0] < widths[1] < widths[2]


def test_cpbd_of_a_step_is_one_and_of_a_wide_ramp_zero():
    assert cpbd(_edge_image(1)) == 1.0
    assert cpbd(_edge_image(1)[:, ::-1]) == 1.0  # falling edge, same width
    assert cpbd(_edge_image(12)) == 0.0
    assert cpbd(np.full((64, 64), 128, np.uint8)) == 0.0  # no edge at all


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_cpbd_drops_with_blur(name):
    from skimage import data

    image = getattr(data, name)()
    sharp = cpbd(image)
    blurred = cpbd(_blur(image[None], 1.5)[0])
    assert 0.0 <= blurred < sharp <= 1.0
    assert sharp - blurred > 0.2


def test_cpbd_video_is_the_mean_over_frames(clip):
    blurred = _blur(clip, 1.5)
    per_frame = [cpbd(frame) for frame in clip]
    assert cpbd_video(clip) == pytest.approx(np.mean(per_frame))
    assert cpbd_video(blurred) < cpbd_video(clip)


def test_cpbd_needs_a_whole_block(clip):
    with pytest.raises(InputError, match="64x64"):
        cpbd(clip[0, :32, :32])
    with pytest.raises(InputError, match="cpbd_video"):
        cpbd(clip)


# --- LMD ---------------------------------------------------------------------------------


def _lips(num_frames: int = 3, num_points: int = 40) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, num_points, endpoint=False)
    ring = np.stack([20 * np.cos(angles), 8 * np.sin(angles)], axis=-1) + [32, 40]
    return np.repeat(ring[None], num_frames, axis=0)


def test_lmd_is_zero_for_identical_and_for_translated_lips():
    real = _lips()
    assert landmark_distance(real, real) == 0.0
    # Each set is centred on its mean: where the mouth sits does not count.
    assert landmark_distance(real, real + [5.0, -3.0]) == pytest.approx(0.0, abs=1e-12)


def test_lmd_mean_and_sum_reductions():
    real = _lips(num_points=40)
    offsets = np.zeros_like(real)
    offsets[:, 0::2, 0] = 1.0  # zero-mean offsets: every point moves by exactly 1 pixel
    offsets[:, 1::2, 0] = -1.0
    assert landmark_distance(real, real + offsets) == pytest.approx(1.0)
    assert landmark_distance(real, real + offsets, reduce="sum") == pytest.approx(40.0)
    stretched = real.copy()
    stretched[..., 1] = 40 + 1.5 * (real[..., 1] - 40)  # a wider-open mouth
    assert landmark_distance(real, stretched) > 1.0


def test_lmd_skips_frames_without_landmarks():
    real = _lips(num_frames=3)
    fake = real.copy()
    fake[1] += np.where(np.arange(40) % 2 == 0, 2.0, -2.0)[:, None] * [1, 0]
    fake[2] = np.nan
    assert landmark_distance(real, fake) == pytest.approx(1.0)  # (0 + 2) / 2 frames
    assert np.isnan(landmark_distances(real, fake)[2]).all()
    assert np.isnan(landmark_distance(real[2:], fake[2:]))


def test_lmd_rejects_bad_input():
    with pytest.raises(InputError, match="differ in shape"):
        landmark_distance(_lips(num_points=40), _lips(num_points=20))
    with pytest.raises(InputError, match="reduce"):
        landmark_distance(_lips(), _lips(), reduce="median")


@pytest.fixture(scope="module")
def face_mesh():
    pytest.importorskip("mediapipe")
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    with FaceMeshDetector(static_image_mode=True) as detector:
        yield detector


def _mouth_crop(image: np.ndarray, detector) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 64x64 crop around the mouth, its box, and the photo's lip landmarks in crop pixels."""
    import cv2

    from lipmotion_tf.video.face_mesh import LIP_INDICES

    landmarks = detector.detect(image)
    assert landmarks is not None
    lips = landmarks[list(LIP_INDICES)]
    cx, cy = lips.mean(axis=0)
    side = 1.6 * float(np.ptp(lips[:, 0]))
    side_px = int(round(side))
    x0, y0 = int(round(cx - side_px / 2)), int(round(cy - side_px / 2))
    crop = cv2.resize(image[y0 : y0 + side_px, x0 : x0 + side_px], (64, 64), interpolation=cv2.INTER_AREA)
    return crop, np.array([cx, cy, side]), (lips - [x0, y0]) * (64 / side_px)


def _check_paste_back(image: np.ndarray, detector) -> None:
    import cv2

    crop, box, expected = _mouth_crop(image, detector)
    found = lip_landmarks_from_crops(crop[None], image, box[None], detector=detector)
    assert found.shape == (1, 40, 2) and np.isfinite(found).all()
    # Within a pixel of where the photo's own landmarks put them, in 64x64 crop pixels.
    assert np.abs(found[0] - expected).max() < 1.0
    assert landmark_distance(expected[None], found) < 0.5
    # A taller mouth (the crop stretched vertically about its centre) is measured as different.
    tall = cv2.resize(crop, (64, 80))[8:72]
    stretched = lip_landmarks_from_crops(tall[None], image, box[None], detector=detector)
    assert landmark_distance(found, stretched) > 3 * landmark_distance(expected[None], found)


def test_lip_landmarks_from_crops_on_the_astronaut(astronaut, face_mesh):
    _check_paste_back(astronaut, face_mesh)


@pytest.mark.data
def test_lip_landmarks_from_crops_on_a_studio_face(shared_data, face_mesh):
    import cv2

    path = shared_data / "faces" / "F03_CID_Sentences_List_A_007.jpg"
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    _check_paste_back(image, face_mesh)


def test_lip_landmarks_are_nan_without_a_face(face_mesh):
    crops = np.full((2, 64, 64, 3), 90, np.uint8)
    background = np.full((2, 256, 256, 3), 200, np.uint8)
    boxes = np.array([[128, 128, 80], [128, 128, 80]], np.float32)
    found = lip_landmarks_from_crops(crops, background, boxes, detector=face_mesh)
    assert found.shape == (2, 40, 2) and np.isnan(found).all()
    with pytest.raises(InputError, match="outside"):
        lip_landmarks_from_crops(crops[:1], background[0], np.array([[900, 900, 80]]), detector=face_mesh)
    with pytest.raises(InputError, match="boxes"):
        lip_landmarks_from_crops(crops, background, boxes[:1], detector=face_mesh)


# --- lip sync ----------------------------------------------------------------------------


def _syllables(length: int = 60, seed: int = 0) -> np.ndarray:
    """A mouth-opening-like series: random bumps of 3-6 frames over a closed mouth."""
    rng = np.random.default_rng(seed)
    series = np.full(length, 0.01)
    for start in rng.choice(length - 6, size=length // 8, replace=False):
        width = int(rng.integers(3, 7))
        series[start : start + width] += rng.uniform(0.05, 0.15) * np.hanning(width + 2)[1:-1]
    return series


def test_sync_lag_sign_convention():
    opening = _syllables()
    late, real = opening[:-2], opening[2:]  # generated frame t shows real frame t - 2
    result = sync_correlation(late, real, max_lag=5)
    assert result.best_lag == 2
    assert result.best_corr == pytest.approx(1.0)
    assert result.corr_at_zero < 0.9
    assert sync_correlation(real, late).best_lag == -2
    assert sync_correlation(opening, opening) == (pytest.approx(1.0), 0, pytest.approx(1.0))


def test_sync_handles_missing_frames_and_flat_series():
    opening = _syllables()
    with_gaps = opening.copy()
    with_gaps[[5, 17, 30]] = np.nan
    assert sync_correlation(with_gaps[:-1], opening[1:]).best_lag == 1
    flat = sync_correlation(np.full(20, 0.02), _syllables(20))
    assert np.isnan(flat.best_corr) and flat.best_lag == 0 and np.isnan(flat.corr_at_zero)
    with pytest.raises(InputError, match="length"):
        sync_correlation(opening, opening[:-1])
    with pytest.raises(InputError, match="max_lag"):
        sync_correlation(opening, opening, max_lag=-1)


def test_mouth_opening_series_uses_the_face_mesh_definition():
    from lipmotion_tf.video.face_mesh import LIP_INDICES, mouth_opening

    lips = np.zeros((3, 40, 2))
    index = {point: LIP_INDICES.index(point) for point in (13, 14, 61, 291)}
    lips[:, index[61]] = [10, 50]
    lips[:, index[291]] = [50, 50]  # mouth 40 pixels wide
    lips[:, index[13]] = [30, 48]
    lips[:, index[14]] = [[30, 48], [30, 52], [30, 56]]  # gaps 0, 4, 8
    lips[2, 0] = np.nan  # any NaN point marks a frame whose landmarks were not found
    series = mouth_opening_series(lips)
    np.testing.assert_allclose(series[:2], [0.0, 0.1], atol=1e-6)
    assert np.isnan(series[2])
    assert series[1] == pytest.approx(mouth_opening(lips[1]))
    with pytest.raises(InputError, match="landmarks"):
        mouth_opening_series(lips[:, :20])


@pytest.mark.data
def test_sync_finds_a_lag_planted_in_a_real_grid_clip(grid_s1):
    pytest.importorskip("mediapipe")
    from lipmotion_tf.video.face_mesh import NUM_LANDMARKS, FaceMeshDetector
    from lipmotion_tf.video.reader import read_video

    path = sorted(Path(grid_s1).glob("*.mpg"))[0]
    frames = read_video(path, fps=25.0)
    missing = np.full((NUM_LANDMARKS, 2), np.nan, np.float32)
    with FaceMeshDetector(static_image_mode=False) as detector:
        landmarks = np.stack([_or(detector.detect(frame), missing) for frame in frames])
    opening = mouth_opening_series(landmarks)
    assert np.isfinite(opening).mean() > 0.9
    assert np.nanmax(opening) > 3 * np.nanmin(opening)  # the speaker opens and closes the mouth
    shift = 3
    generated, real = opening[:-shift], opening[shift:]  # the generated mouth is 3 frames late
    result = sync_correlation(generated, real, max_lag=5)
    assert result.best_lag == shift
    assert result.best_corr == pytest.approx(1.0)
    assert result.corr_at_zero < 0.8


def _or(value, default):
    return default if value is None else value
