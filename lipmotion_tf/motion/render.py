"""Speech file + face photo -> MP4 with the motion-first pipeline (``generate --model motion``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION
from lipmotion_tf.errors import InputError
from lipmotion_tf.generate.compositing import side_by_side
from lipmotion_tf.generate.render import check_not_an_input, check_output

LAYOUTS = ("face", "lips", "side-by-side")


def render_motion_video(audio_path, image: np.ndarray, output, checkpoint=None,
                        layout: str = "face", size: int = 256, batch_size: int = 8,
                        max_duration: float = DEFAULT_MAX_DURATION, progress: bool = True,
                        source: str = "the image", motion_from=None,
                        amplitude: float | None = None, interior: str = "auto",
                        on_note=None) -> int:
    """Writes ``output`` (H.264 + AAC) and returns the number of frames written.

    Layouts: ``face`` the whole photo at its own size (default); ``lips`` the rendered mouth
    region at ``size`` pixels; ``side-by-side`` the photo's mouth region next to the rendered one.

    With ``motion_from`` (a video of someone speaking) the photo follows that person's lip
    motion, read from the video's landmarks (no audio model), and the video's sound is muxed
    in; ``audio_path`` is not read. ``amplitude``: the speaker's, for a model that reads it
    (None: a typical speaker's). ``on_note``: called with a sentence about the photo that does
    not stop the rendering (a face turned far from the camera: :meth:`FaceRig.turn_note`).

    Raises:
        InputError, NoFaceError: bad inputs, each named in one line, before anything is written.
    """
    import cv2
    from tqdm import tqdm

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline

    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if size < 16:
        raise InputError(f"size must be at least 16 pixels, got {size}")
    output = Path(output)
    check_output(output)
    check_not_an_input(output, motion_from if motion_from is not None else audio_path)
    pipeline = MotionPipeline.from_checkpoint(checkpoint, batch_size=batch_size,
                                              max_duration=max_duration, amplitude=amplitude,
                                              interior=interior)
    sample_rate = pipeline.config.audio.sample_rate
    speech = motion_from if motion_from is not None else audio_path
    waveform = pipeline.check_speech(load_audio(speech, sample_rate, max_duration), sample_rate,
                                     source=str(speech))
    rig = FaceRig.from_image(image, source=source)
    note = rig.turn_note(source)
    if note is not None and on_note is not None:
        on_note(note)
    motion = (video_motion(motion_from, pipeline.config) if motion_from is not None
              else pipeline.motion(waveform, sample_rate, rig.rest_motion_input))
    x0, y0 = rig.origin
    side = rig.crop_size

    def region(frame):
        return cv2.resize(frame[y0:y0 + side, x0:x0 + side], (size, size),
                          interpolation=cv2.INTER_AREA)

    if layout == "face":
        compose, (height, width) = (lambda frame: frame), image.shape[:2]  # noqa: E731
    elif layout == "lips":
        compose, (height, width) = region, (size, size)
    else:
        still = region(image)
        compose, (height, width) = (lambda frame: side_by_side(still, region(frame), size)), (
            size, 2 * size)
    total = len(motion)
    with Mp4Writer(output, pipeline.fps, width, height, waveform, sample_rate) as writer:
        frames = pipeline.render(rig, motion)
        for frame in tqdm(frames, total=total, unit="frame", disable=not progress,
                          desc="generating"):
            writer.write(compose(frame))
    return writer.frames_written


def video_motion(path, config) -> np.ndarray:
    """The mouth-frame motion ``(T, 59, 2)`` of the person speaking in a video (the DAVS row:
    motion from another face instead of from speech).

    Raises:
        InputError, NoFaceError: an unreadable video, or a face in fewer than half its frames.
    """
    from lipmotion_tf.motion.dataset import mouth_motion
    from lipmotion_tf.motion.extract import track_video
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    with FaceMeshDetector(static_image_mode=False) as detector:
        mesh, found, _ = track_video(Path(path), detector, config.audio.fps)
    return mouth_motion(mesh, found, FRONTAL_TEMPLATE, config.data.rest_fraction)[0]
