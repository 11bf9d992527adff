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
    """

    frames: int
    lmd: float
    sync: float
    lag: int


def measure_dub(source_video, dubbed_video, max_lag: int = 5) -> DubMeasures:
    """Compares the mouth of ``dubbed_video`` with that of ``source_video`` frame by frame
    (both at 25 fps, held in memory: short clips; the shorter length is used)."""
    from lipmotion_tf.evaluation.clip_measures import best_lag
    from lipmotion_tf.generate.dub import track_face
    from lipmotion_tf.metrics.lip_sync import lagged_correlations, mouth_opening_series
    from lipmotion_tf.metrics.lmd import landmark_distances, lip_landmarks_from_crops
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.lip_crop import LipCropper
    from lipmotion_tf.video.reader import read_video

    cropper = LipCropper()
    source = read_video(source_video)  # a clip of seconds: decoded once, held
    track = track_face(source, cropper)
    still = source[track.identity_index]
    real = cropper.crop_frames(source, track.boxes)
    dubbed = read_video(dubbed_video)[:len(source)]
    count = len(dubbed)
    fake = cropper.crop_frames(dubbed, track.boxes[:count])
    boxes = np.repeat(track.boxes[track.identity_index][None], count, axis=0)
    with FaceMeshDetector(static_image_mode=True) as detector:
        real_points = lip_landmarks_from_crops(real[:count], still, boxes, detector)
        fake_points = lip_landmarks_from_crops(fake, still, boxes, detector)
    distances = landmark_distances(real_points, fake_points)
    valid = np.isfinite(distances).all(axis=1)
    lagged = lagged_correlations(mouth_opening_series(fake_points),
                                 mouth_opening_series(real_points), max_lag)
    sync, lag = best_lag(lagged)
    return DubMeasures(frames=int(valid.sum()),
                       lmd=float(distances[valid].mean()) if valid.any() else float("nan"),
                       sync=sync, lag=lag)
