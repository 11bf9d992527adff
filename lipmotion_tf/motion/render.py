"""Speech file + face photo -> MP4 with the motion-first pipeline (``generate --model motion``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION
from lipmotion_tf.errors import InputError
from lipmotion_tf.generate.compositing import side_by_side
from lipmotion_tf.generate.render import check_output

LAYOUTS = ("face", "lips", "side-by-side")


def render_motion_video(audio_path, image: np.ndarray, output, checkpoint=None,
                        layout: str = "face", size: int = 256, batch_size: int = 8,
                        max_duration: float = DEFAULT_MAX_DURATION, progress: bool = True,
                        source: str = "the image") -> int:
    """Writes ``output`` (H.264 + AAC) and returns the number of frames written.

    Layouts: ``face`` the whole photo at its own size (default); ``lips`` the rendered mouth
    region at ``size`` pixels; ``side-by-side`` the photo's mouth region next to the rendered one.

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
    pipeline = MotionPipeline.from_checkpoint(checkpoint, batch_size=batch_size,
                                              max_duration=max_duration)
    sample_rate = pipeline.config.audio.sample_rate
    waveform = pipeline.check_speech(load_audio(audio_path, sample_rate), sample_rate,
                                     source=str(audio_path))
    rig = FaceRig.from_image(image, source=source)
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
    total = pipeline.num_frames(len(waveform))
    with Mp4Writer(output, pipeline.fps, width, height, waveform, sample_rate) as writer:
        frames = pipeline.iter_frames(waveform, sample_rate, rig)
        for frame in tqdm(frames, total=total, unit="frame", disable=not progress,
                          desc="generating"):
            writer.write(compose(frame))
    return writer.frames_written
