"""Face mesh landmarks and lip crops: real faces, gaps in tracking, no face, crop geometry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lipmotion_tf.errors import NoFaceError
from lipmotion_tf.video.face_mesh import (
    INNER_LIP_INDICES,
    LIP_INDICES,
    OUTER_LIP_INDICES,
    FaceMeshDetector,
    mouth_opening,
)
from lipmotion_tf.video.lip_crop import LipCropper, box_to_rect, crop_box

# Mouth centre of skimage.data.astronaut(), measured by hand on the image (x, y in pixels).
ASTRONAUT_MOUTH = (224.0, 147.0)


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()


def motion(frames: np.ndarray) -> float:
    """Mean temporal standard deviation of a crop region: large where the lips move."""
    return float(frames.astype(np.float32).std(axis=0).mean())


def shifted_video(image: np.ndarray, num_frames: int, blank=()) -> np.ndarray:
    """A video of ``image`` drifting right one pixel a frame, with some frames blanked."""
    frames = np.stack([np.roll(image, t, axis=1) for t in range(num_frames)])
    frames[list(blank)] = 0
    return frames


# --- face mesh -------------------------------------------------------------------------------


def test_lip_indices_are_mediapipes_lip_set():
    from mediapipe.python.solutions import face_mesh

    vertices = sorted({i for edge in face_mesh.FACEMESH_LIPS for i in edge})
    assert LIP_INDICES == tuple(vertices) and len(LIP_INDICES) == 40
    assert set(INNER_LIP_INDICES).isdisjoint(OUTER_LIP_INDICES)
    assert {13, 14} <= set(INNER_LIP_INDICES) and {61, 291} <= set(OUTER_LIP_INDICES)


def test_importing_face_mesh_does_not_import_mediapipe():
    code = "import sys, lipmotion_tf.video.face_mesh; print('mediapipe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_mouth_opening_from_full_and_lip_landmarks():
    landmarks = np.zeros((468, 2), np.float32)
    landmarks[61], landmarks[291] = (100, 200), (140, 200)  # mouth 40 px wide
    landmarks[13], landmarks[14] = (120, 195), (120, 205)  # lips 10 px apart
    assert mouth_opening(landmarks) == pytest.approx(0.25)
    assert mouth_opening(landmarks[list(LIP_INDICES)]) == pytest.approx(0.25)
    batch = np.stack([landmarks, landmarks * 2])
    np.testing.assert_allclose(mouth_opening(batch), [0.25, 0.25])
    with pytest.raises(ValueError):
        mouth_opening(np.zeros((20, 2)))


def test_detector_finds_the_astronaut_and_nothing_in_a_blank_image(astronaut):
    with FaceMeshDetector(static_image_mode=True) as detector:
        landmarks = detector.detect(astronaut)
        assert detector.detect(np.full((128, 128, 3), 127, np.uint8)) is None
    assert landmarks.shape == (468, 2) and landmarks.dtype == np.float32
    mouth = (landmarks[61] + landmarks[291]) / 2
    np.testing.assert_allclose(mouth, ASTRONAUT_MOUTH, atol=8)
    assert 0.0 <= mouth_opening(landmarks) < 1.0
    with pytest.raises(RuntimeError, match="closed"):
        detector.detect(astronaut)


# --- crop geometry ---------------------------------------------------------------------------


def test_crop_box_inside_image_is_a_plain_slice():
    image = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    assert box_to_rect((20, 15, 10)) == (15, 10, 10)
    np.testing.assert_array_equal(crop_box(image, (20, 15, 10), 10), image[10:20, 15:25])


def test_crop_box_pads_outside_the_image():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:, :10] = 50
    image[:, 10:] = 200
    image[0] = 10
    crop = crop_box(image, (2, 10, 10), 10, border="edge")  # 3 columns left of the image
    np.testing.assert_array_equal(crop[:, :3], crop[:, 3:4].repeat(3, axis=1))
    crop = crop_box(image, (10, 0, 10), 10, border="edge")  # rows above repeat row 0
    assert (crop[:5] == 10).all()
    reflected = crop_box(image, (10, 0, 10), 10, border="reflect")
    assert (reflected[:5] != 10).any()
    assert crop_box(image, (-100, -100, 8), 8).shape == (8, 8, 3)  # far outside: still a crop


def test_crop_box_resizes_to_the_requested_size():
    image = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    assert crop_box(image, (50, 50, 40), 64).shape == (64, 64, 3)
    assert crop_box(image, (50, 50, 128), 64).dtype == np.uint8


# --- photos ----------------------------------------------------------------------------------


def test_crop_image_astronaut_centres_the_mouth(astronaut):
    crop, box, lips = LipCropper(image_size=64).crop_image(astronaut)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(box[:2], ASTRONAUT_MOUTH, atol=8)
    assert 30 < box[2] < 90
    assert lips.shape == (40, 2)
    # The side is 1.3x the lips' larger extent, so the lips fill the crop's centre.
    extent = (lips.max(0) - lips.min(0)).max()
    assert box[2] == pytest.approx(1.3 * extent, rel=1e-4)


def test_crop_image_real_face_photos(shared_data):
    cropper = LipCropper()
    photos = sorted((shared_data / "faces").glob("*.jpg"))
    assert photos
    for path in photos:
        import cv2

        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        crop, box, lips = cropper.crop_image(image)
        assert crop.shape == (64, 64, 3), path
        # Lips inside the crop's central region; the mouth in the lower half of the photo.
        inside = (lips - (box[:2] - box[2] / 2)) / box[2]
        assert inside.min() > 0.05 and inside.max() < 0.95, path
        assert image.shape[0] / 2 < box[1] < image.shape[0], path


def test_crop_image_without_a_face_raises():
    noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError):
        LipCropper().crop_image(noise)


# --- videos ----------------------------------------------------------------------------------


def test_smooth_boxes_fills_gaps_from_the_nearest_found_frame():
    cropper = LipCropper(smoothing="none")
    base = np.stack(np.meshgrid(np.arange(8.0), np.arange(5.0)), -1).reshape(40, 2)
    landmarks = np.stack([base + 10 * t for t in range(6)]).astype(np.float32)
    found = np.array([False, True, False, False, True, False])
    boxes, filled = cropper.smooth_boxes(landmarks, found)
    # Nearest found frame for frames 0..5: 1, 1, 1 (tie goes earlier), 4, 4, 4.
    np.testing.assert_array_equal(filled, landmarks[[1, 1, 1, 4, 4, 4]])
    np.testing.assert_allclose(boxes[:, 0], [13.5, 13.5, 13.5, 43.5, 43.5, 43.5])
    np.testing.assert_allclose(boxes[:, 2], 1.3 * 7)
    with pytest.raises(NoFaceError):
        cropper.smooth_boxes(landmarks, np.zeros(6, bool))


def test_smoothing_removes_jitter_but_follows_motion():
    rng = np.random.default_rng(2)
    base = np.stack(np.meshgrid(np.arange(8.0), np.arange(5.0)), -1).reshape(40, 2) * 5
    drift = np.arange(30.0)[:, None, None] * np.array([1.0, 0.0])
    jitter = rng.normal(0, 1.0, (30, 1, 2))
    landmarks = (base + drift + jitter).astype(np.float32)
    found = np.ones(30, bool)
    raw, _ = LipCropper(smoothing="none").smooth_boxes(landmarks, found)
    for mode in ("savgol", "mean"):
        smooth, _ = LipCropper(smoothing=mode).smooth_boxes(landmarks, found)
        truth = 17.5 + np.arange(30.0)
        inner = slice(3, -3)
        smooth_error = np.abs(smooth[inner, 0] - truth[inner]).mean()
        assert smooth_error < np.abs(raw[inner, 0] - truth[inner]).mean()


def test_crop_video_blank_frames_take_the_nearest_box(astronaut):
    frames = shifted_video(astronaut, 10, blank=(3, 4))
    result = LipCropper(smoothing="none").crop_video(frames)
    assert result.frames.shape == (10, 64, 64, 3)
    assert result.face_found.tolist() == [True] * 3 + [False] * 2 + [True] * 5
    np.testing.assert_array_equal(result.landmarks[3], result.landmarks[2])
    np.testing.assert_array_equal(result.landmarks[4], result.landmarks[5])
    np.testing.assert_array_equal(result.boxes[3], result.boxes[2])
    # The box follows the face as it drifts right by a pixel a frame.
    assert result.boxes[9, 0] - result.boxes[0, 0] == pytest.approx(9, abs=2)
    # Blank frames are cropped at the nearest box: black, but the right size.
    assert (result.frames[3] == 0).all()


def test_crop_video_without_any_face_raises():
    frames = np.zeros((5, 64, 64, 3), np.uint8)
    with pytest.raises(NoFaceError, match="any frame"):
        LipCropper().crop_video(frames)


def test_crop_video_grid_clip_is_stable(grid_s1):
    from lipmotion_tf.video.reader import read_video

    frames = read_video(sorted(grid_s1.glob("*.mpg"))[0])
    result = LipCropper().crop_video(frames)
    assert result.frames.shape == (75, 64, 64, 3) and result.face_found.all()
    assert result.landmarks.shape == (75, 40, 2)
    # Smoothed boxes move little from frame to frame (a speaker facing the camera).
    assert np.abs(np.diff(result.boxes, axis=0)).max() < 2.0
    # The lips, which move while speaking, are in the middle of the crops.
    assert motion(result.frames[:, 20:44, 12:52]) > 1.25 * motion(result.frames[:, :8])
