"""Speech file + image -> MP4 file, in one of three layouts, with a progress bar."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION, check_max_duration
from lipmotion_tf.errors import InputError, NoFaceError
from lipmotion_tf.generate.compositing import LAYOUTS, FacePaster, side_by_side
from lipmotion_tf.output_files import check_name_length
from lipmotion_tf.video.image_io import MAX_OUTPUT_SIZE, MIN_IMAGE_SIZE


def check_output(output: Path) -> None:
    """Refuses an output path that could not take the video, before any work is done."""
    check_name_length(output)  # first: the file system refuses even to look at such a name
    if output.suffix.lower() != ".mp4":
        raise InputError(f"output must be an .mp4 file, got {output}")
    if output.is_dir():
        raise InputError(f"output {output} is a folder")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {output}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {output}: folder {parent} is not writable")


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same inode (through symlinks and hard links), or,
    when either cannot be examined, the same resolved path."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        try:
            return first.resolve() == second.resolve()
        except (OSError, RuntimeError, ValueError):
            return False


def check_not_an_input(output, *inputs) -> None:
    """Refuses an output path that is one of the inputs, before any work is done.

    Writing the result over its own source would replace the user's only copy of it (the
    output is renamed over the path once complete). Paths are compared as files: a symlink
    or hard link to an input counts as the input. ``None`` inputs are skipped.

    Raises:
        InputError: ``output`` is the same file as one of ``inputs``.
    """
    output = Path(output)
    for source in inputs:
        if source is None:
            continue
        if _same_file(output, Path(source)):
            same = "" if str(source) == str(output) else f" ({source})"
            raise InputError(f"output {output} is also an input{same}: writing it would replace "
                             "the source; choose another output name")


def render_video(
    audio_path,
    image: np.ndarray,
    output,
    checkpoint=None,
    layout: str = "side-by-side",
    is_lip_crop: bool | None = None,
    size: int = 256,
    batch_size: int = 8,
    max_duration: float = DEFAULT_MAX_DURATION,
    ease_in: int | None = None,
    require_gpu: bool = False,
    progress: bool = True,
) -> int:
    """Writes ``output`` (H.264 + AAC) and returns the number of frames written.

    Args:
        audio_path: speech in any format :func:`~lipmotion_tf.audio.loader.load_audio` reads.
        image: RGB uint8 photo with a face, or a lip crop.
        output: the ``.mp4`` to write (replaced atomically when complete).
        checkpoint: generator checkpoint folder; None for the demonstration model.
        layout: ``lips``, ``side-by-side`` or ``face`` (pasted into the photo).
        is_lip_crop: see :meth:`LipMotionPipeline.identity_from_image`.
        size: output height of the ``lips`` and ``side-by-side`` layouts.
        batch_size: windows per generator call.
        max_duration: longest speech accepted, in seconds (``math.inf``: no limit).
        ease_in: frames over which the video eases in from the identity image; None:
            the model's ``data.ease_in``.
        require_gpu: fail unless a GPU is visible.
        progress: show a progress bar.

    Raises:
        InputError, NoFaceError: bad inputs, each named in one line.
    """
    import cv2
    from tqdm import tqdm

    from lipmotion_tf.audio.loader import check_declared_duration, load_audio
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if not MIN_IMAGE_SIZE <= size <= MAX_OUTPUT_SIZE:
        raise InputError(f"size must be from {MIN_IMAGE_SIZE} to {MAX_OUTPUT_SIZE} pixels, "
                         f"got {size}")
    max_duration = check_max_duration(max_duration)
    output = Path(output)
    check_output(output)
    check_not_an_input(output, audio_path)
    check_declared_duration(audio_path, max_duration)  # from the header, before the model loads
    if layout == "face" and is_lip_crop:
        raise InputError("the face layout needs a face photo, not a lip image")

    if require_gpu:
        check_gpu_visible()

    pipeline = LipMotionPipeline.from_checkpoint(checkpoint, batch_size=batch_size,
                                                 max_duration=max_duration, ease_in=ease_in)
    sample_rate = pipeline.config.audio.sample_rate
    # Checked before the output is opened: a refused input leaves an existing video as it was.
    waveform = pipeline.check_speech(load_audio(audio_path, sample_rate, max_duration), sample_rate,
                                     source=str(audio_path))
    if layout == "face":
        try:
            crop, box = pipeline.identity_from_image(image, False)
        except NoFaceError:  # its own message suggests --lip-image, which this layout refuses
            raise NoFaceError("no face found in the image; the face layout needs a photo "
                              "with a face") from None
    else:
        crop, box = pipeline.identity_from_image(image, is_lip_crop)

    if layout == "lips":
        compose = lambda frame: cv2.resize(frame, (size, size), interpolation=cv2.INTER_CUBIC)  # noqa: E731
        width, height = size, size
    elif layout == "side-by-side":
        compose = lambda frame: side_by_side(crop, frame, size)  # noqa: E731
        width, height = 2 * size, size
    else:
        paster = FacePaster(image, box)
        compose = paster.paste
        height, width = image.shape[:2]

    total = pipeline.num_frames(len(waveform))
    with Mp4Writer(output, pipeline.config.audio.fps, width, height, waveform, sample_rate) as writer:
        frames = pipeline.iter_frames(waveform, sample_rate, crop)
        for frame in tqdm(frames, total=total, unit="frame", disable=not progress,
                          desc="generating"):
            writer.write(compose(frame))
    return writer.frames_written


def check_gpu_visible() -> None:
    """Refuses to go on when ``--device gpu`` was asked for and no GPU is visible."""
    import keras

    if keras.config.backend() == "jax":
        return
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        raise InputError("--device gpu was asked for but no GPU is visible")
