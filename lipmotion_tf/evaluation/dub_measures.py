"""How well a dubbed video's mouth follows its speech, against the source video.

For a video dubbed with its own speech, the source is the ground truth. Both videos are cut
into lip crops at the source's tracked boxes, and every crop, real or dubbed, is pasted into
the same still frame of the source (the one the dub took its identity from) before the face
mesh reads its lips: the face mesh infers the lips partly from the jaw and chin, which move
in the source video whatever the mouth does, so only the mouth crop may differ between the
frames it reads. LMD and the mouth-opening correlation are then computed as for generated
crops (:func:`~lipmotion_tf.evaluation.clip_measures.measure_clip`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

@dataclasses.dataclass
class DubMeasures:
    """One dubbed video against its source.

    Attributes:
        frames: frames compared (those with lips found in both videos).
        lmd: mean landmark distance in 64-pixel crop units.
        sync: best correlation of the mouth openings within +-5 frames.
        lag: the frame lag of that correlation.
        opening_ratio: std of the dubbed mouth's opening over the source's.
        motion_ratio: frame-to-frame lip movement, the dubbed video's over the source's.
    """

    frames: int
    lmd: float
    sync: float
    lag: int
    opening_ratio: float
    motion_ratio: float


@dataclasses.dataclass
class DubSource:
    """A source video read and measured once, for comparing several videos made from it.

    Attributes:
        frames: its frames ``(T, H, W, 3)``.
        boxes: the tracked lip box of every frame.
        identity_index: the frame every crop is pasted into before the face mesh reads it.
        points: the lip landmarks of its own crops, per frame.
    """

    frames: np.ndarray
    boxes: np.ndarray
    identity_index: int
    points: np.ndarray

    @property
    def still(self) -> np.ndarray:
        return self.frames[self.identity_index]


def dub_source(source_video, fps: float = 25.0) -> DubSource:
    """Reads ``source_video`` (held in memory: short clips), tracks its lips and reads the
    landmarks of its own lip crops."""
    from lipmotion_tf.generate.dub import track_face
    from lipmotion_tf.metrics.lmd import lip_landmarks_from_crops
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.lip_crop import LipCropper
    from lipmotion_tf.video.reader import read_video

    cropper = LipCropper()
    frames = read_video(source_video, fps=fps)
    track = track_face(frames, cropper)
    boxes = np.repeat(track.boxes[track.identity_index][None], len(frames), axis=0)
    with FaceMeshDetector(static_image_mode=True) as detector:
        points = lip_landmarks_from_crops(cropper.crop_frames(frames, track.boxes),
                                          frames[track.identity_index], boxes, detector)
    return DubSource(frames, track.boxes, track.identity_index, points)


def measure_frames(source: DubSource, dubbed: np.ndarray, max_lag: int = 5) -> DubMeasures:
    """Compares the mouth of ``dubbed`` frames with that of a source read by
    :func:`dub_source` frame by frame (both at 25 fps; the shorter length is used). A source
    is read and measured once for all the videos made from it."""
    from lipmotion_tf.evaluation.clip_measures import best_lag, motion_ratio, opening_ratio
    from lipmotion_tf.metrics.lip_sync import lagged_correlations, mouth_opening_series
    from lipmotion_tf.metrics.lmd import landmark_distances, lip_landmarks_from_crops
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.lip_crop import LipCropper

    dubbed = dubbed[:len(source.frames)]
    count = len(dubbed)
    fake = LipCropper().crop_frames(dubbed, source.boxes[:count])
    boxes = np.repeat(source.boxes[source.identity_index][None], count, axis=0)
    with FaceMeshDetector(static_image_mode=True) as detector:
        fake_points = lip_landmarks_from_crops(fake, source.still, boxes, detector)
    real_points = source.points[:count]
    distances = landmark_distances(real_points, fake_points)
    valid = np.isfinite(distances).all(axis=1)
    fake_openings, real_openings = (mouth_opening_series(fake_points),
                                    mouth_opening_series(real_points))
    sync, lag = best_lag(lagged_correlations(fake_openings, real_openings, max_lag))
    return DubMeasures(frames=int(valid.sum()),
                       lmd=float(distances[valid].mean()) if valid.any() else float("nan"),
                       sync=sync, lag=lag,
                       opening_ratio=opening_ratio(fake_openings, real_openings),
                       motion_ratio=motion_ratio(fake_points, real_points))
