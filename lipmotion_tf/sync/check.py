"""``lipmotion sync-check VIDEO``: do a video's sound and lips line up, and by how much not.

The video's frames are streamed through mediapipe's face mesh at 25 fps; the mouth's
pose-free lip and jaw motion and the sound's log-mel go through the shipped
:class:`~lipmotion_tf.sync.expert.SyncExpert`, and the shift search of
:mod:`~lipmotion_tf.sync.offset` gives the offset (positive: the audio comes late) and the
confidence (LSE-C). Frames without a face are left out of the judgement and counted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError, NoFaceError
from lipmotion_tf.sync.offset import MAX_OFFSET

#: Below this confidence (LSE-C) the best shift does not stand out: no verdict on the offset.
MIN_CONFIDENCE = 0.02
#: The shortest video judged (seconds).
MIN_SECONDS = 1.0


@dataclasses.dataclass
class SyncReport:
    """What ``sync-check`` prints (``--json``: :meth:`to_dict`)."""

    offset_frames: int
    offset_ms: float
    confidence: float
    lse_d: float
    verdict: str
    frames: int
    frames_without_face: int
    fps: float
    segments: list = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def verdict(offset: int, confidence: float, fps: float, tolerance: int = 1) -> str:
    """``in sync``, ``audio late by 120 ms``, ``audio early by 80 ms``, or no clear sync."""
    if not confidence >= MIN_CONFIDENCE:
        return (f"no clear sync (confidence {confidence:.3f}): the lips do not follow the "
                "sound, or there is no speech")
    if abs(offset) <= tolerance:
        return "in sync"
    return f"audio {'late' if offset > 0 else 'early'} by {abs(offset) * 1000 / fps:.0f} ms"


def judge_arrays(judge, log_mel: np.ndarray, motion: np.ndarray, found: np.ndarray, fps: float,
                 segment_frames: int | None = None,
                 max_offset: int = MAX_OFFSET) -> SyncReport:
    """The :class:`SyncReport` of a tracked video (``found`` False: no face in that frame)."""
    frames = len(motion)
    score = judge.score(log_mel, motion, found, max_offset)
    report = SyncReport(
        offset_frames=score.offset, offset_ms=score.offset * 1000.0 / fps,
        confidence=score.lse_c, lse_d=score.lse_d, verdict=verdict(score.offset, score.lse_c, fps),
        frames=frames, frames_without_face=int((~found).sum()), fps=fps)
    if segment_frames:
        m = judge.mel_frames_per_frame
        for start in range(0, frames, segment_frames):
            end = min(frames, start + segment_frames)
            part = found[start:end]
            entry = {"start_s": start / fps, "end_s": end / fps,
                     "frames_without_face": int((~part).sum())}
            try:
                piece = judge.score(log_mel[m * start:m * end], motion[start:end], part,
                                    max_offset)
            except ValueError:  # too short, or no face in the segment
                entry.update(offset_frames=None, offset_ms=None, confidence=None,
                             verdict="not judged: too short or no face")
            else:
                entry.update(offset_frames=piece.offset, offset_ms=piece.offset * 1000.0 / fps,
                             confidence=piece.lse_c,
                             verdict=verdict(piece.offset, piece.lse_c, fps))
            report.segments.append(entry)
    return report


def track_for_sync(path: Path, num_frames: int, fps: float, progress: bool = True):
    """The face mesh of every frame of a video (streamed) and the found flags."""
    from tqdm import tqdm

    from lipmotion_tf.motion.extract import fill_missing, track_mesh
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.reader import iter_video

    with FaceMeshDetector(static_image_mode=False) as detector, tqdm(
            total=num_frames or None, unit="frame", desc="tracking",
            disable=not progress) as bar:
        def frames():
            for frame in iter_video(path, fps):
                bar.update()
                yield frame
        mesh, found, _ = track_mesh(frames(), detector)
    if not found.any():
        raise NoFaceError(f"{path}: no face in any of its {len(found)} frames")
    return fill_missing(mesh, found), found


def check_video(path, checkpoint=None, segment_seconds: float | None = None,
                progress: bool = True) -> SyncReport:
    """Judges a video's audio-video sync.

    Raises:
        InputError: unreadable, no audio, or too short to judge.
        NoFaceError: no face in any frame, or in too few to judge.
    """
    from lipmotion_tf.motion.dataset import mouth_motion
    from lipmotion_tf.motion.extract import speech_log_mel
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.sync.judge import SyncJudge
    from lipmotion_tf.video.reader import video_info

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    info = video_info(path)
    if not info.has_audio:
        raise InputError(f"{path} has no audio track: nothing to check the lips against")

    def too_short(seconds: float) -> InputError:
        return InputError(f"{path} is too short to judge: {seconds:.2f} s, at least "
                          f"{MIN_SECONDS:.1f} s needed")

    if 0 < info.duration < MIN_SECONDS:
        raise too_short(info.duration)
    judge = SyncJudge.from_checkpoint(checkpoint)
    audio = judge.config.audio
    fps = float(audio.fps)
    mesh, found = track_for_sync(path, round(info.duration * fps), fps, progress)
    if len(found) < MIN_SECONDS * fps:
        raise too_short(len(found) / fps)
    motion, _ = mouth_motion(mesh, found, FRONTAL_TEMPLATE, judge.config.data.rest_fraction)
    log_mel = speech_log_mel(path, len(found), audio)
    segment_frames = None if segment_seconds is None else max(1, round(segment_seconds * fps))
    try:
        return judge_arrays(judge, log_mel, motion, found, fps, segment_frames)
    except ValueError:  # no window of consecutive frames with a face
        raise NoFaceError(f"{path}: a face in only {int(found.sum())} of {len(found)} frames, "
                          f"never {judge.window} in a row: too few to judge") from None
