"""Dubbing: new speech onto a person's own video.

Two passes over the video, each a stream of frames, so memory does not grow with its length:

1. **Tracking.** mediapipe's face mesh in video mode finds the lips in every frame (at the
   video's own frame rate); the crop boxes are smoothed over time as for training data
   (:meth:`~lipmotion_tf.video.lip_crop.LipCropper.smooth_boxes`). The identity image is
   the lip crop of the frame with the most closed mouth (or the frame the caller names).
2. **Compositing.** The generator makes 25 lip frames per second of the new speech from that
   identity (the any-length path of :class:`~lipmotion_tf.generate.pipeline.LipMotionPipeline`);
   output frame ``j`` shows source frame ``j`` with generated frame ``round(j * 25 / fps)``
   blended in at that frame's box, so the mouth follows the head.

The output lasts as long as the speech, at the video's frame size and rate. A video shorter
than the speech plays forward, then backward, and so on (ping-pong: no jump at the seams);
backward passes read the frames from a temporary JPEG store on disk written during tracking.
Frames without a face pass through unchanged.
"""

from __future__ import annotations

import dataclasses
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION
from lipmotion_tf.errors import InputError, NoFaceError

DUB_FEATHER = 0.1  # narrower than a photo's: the source's own lips must stay covered
# A dub re-encodes a video that was compressed once already. At H.264 CRF 18 (generate's)
# the untouched frame around the mouth came back at 38.6-40.3 dB against the source (an LRW,
# an LRS3 and a GRID clip), at 12 at 40.9-42.0 dB, the file about the source's size.
DUB_CRF = 12


@dataclasses.dataclass
class FaceTrack:
    """Where the lips are in each frame of a video.

    Attributes:
        boxes: ``(T, 3)`` float32 smoothed crop squares ``cx, cy, side`` (filled from the
            nearest frame with a face where none was found).
        face_found: ``(T,)`` bool.
        identity_index: the frame the identity image is cut from.
    """

    boxes: np.ndarray
    face_found: np.ndarray
    identity_index: int

    @property
    def num_frames(self) -> int:
        return len(self.face_found)


def pingpong_index(output_index: int, num_frames: int) -> int:
    """The source frame shown at ``output_index`` when ``num_frames`` play forward, then
    backward, and so on (the first and last frames are not repeated at the turns)."""
    if num_frames < 2:
        return 0
    period = 2 * num_frames - 2
    k = output_index % period
    return k if k < num_frames else period - k


def generated_index(output_index: int, video_fps: float, model_fps: int,
                    num_generated: int) -> int:
    """The generated (``model_fps``) frame nearest in time to output frame ``output_index``."""
    return min(int(output_index * model_fps / video_fps + 0.5), num_generated - 1)


def output_plan(info, num_samples: int, sample_rate: int, model_fps: int):
    """``(fps, seconds, frames, needs_store)`` of a dub: the video's frame rate (the model's
    when the container has none), the speech's length, the output frames, and whether frames
    must be stored for reading back (only when the video must play backward; with a margin,
    as the container's frame count can be an estimate)."""
    fps = info.fps if info.fps > 0 else float(model_fps)
    seconds = num_samples / sample_rate
    frames = max(1, int(seconds * fps + 0.5))
    return fps, seconds, frames, frames + 2 > info.num_frames


class FrameStore:
    """Frames written once in order and read back in any order, as JPEG files on disk.

    Args:
        folder: an existing, empty folder (removed by the caller).
        quality: JPEG quality.
    """

    def __init__(self, folder: Path, quality: int = 95):
        self.folder = Path(folder)
        self.quality = int(quality)
        self.count = 0

    def append(self, frame: np.ndarray) -> None:
        import cv2

        path = self.folder / f"{self.count:07d}.jpg"
        if not cv2.imwrite(str(path), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
            raise InputError(f"cannot store video frames in {self.folder} (disk full?)")
        self.count += 1

    def __getitem__(self, index: int) -> np.ndarray:
        import cv2

        return cv2.imread(str(self.folder / f"{index:07d}.jpg"))[..., ::-1]


def recorded(frames, store: FrameStore | None = None, progress=None):
    """``frames`` passed on unchanged, each kept in ``store`` (when given) and counted by
    ``progress`` (called with no arguments) on the way."""
    for frame in frames:
        if store is not None:
            store.append(frame)
        if progress is not None:
            progress()
        yield frame


def output_frames(video_path, fps: float, num_output: int, num_source: int,
                  store: FrameStore | None):
    """``(source index, source frame)`` of each output frame of a dub: the video in order
    (decoded again), then ping-pong from ``store``. Ends early when the video has fewer frames
    than the container announced and nothing was stored."""
    from lipmotion_tf.video.reader import iter_video

    source = iter_video(video_path, fps)
    for j in range(num_output):
        if j >= num_source and store is None:
            return
        index = pingpong_index(j, num_source)
        yield index, (next(source) if j < num_source else store[index])


def track_face(frames, cropper, identity_frame: int | None = None, store: FrameStore | None = None,
               progress=None) -> FaceTrack:
    """Tracks the lips through ``frames`` and chooses the identity frame.

    Args:
        frames: RGB uint8 frames of one video, in order (any iterable).
        cropper: a :class:`~lipmotion_tf.video.lip_crop.LipCropper`.
        identity_frame: the frame to take the identity from; None picks the frame with a face
            whose mouth is the most closed (the earliest on a tie).
        store: where to keep every frame for a second, out-of-order pass (optional).
        progress: called with no arguments after each frame.

    Raises:
        NoFaceError: no frame has a face, or the named identity frame has none.
        InputError: no frames, or ``identity_frame`` outside the video.
    """
    from lipmotion_tf.video.face_mesh import mouth_opening

    landmarks, face_found = cropper.track_lips(recorded(frames, store, progress))
    if identity_frame is not None and not 0 <= identity_frame < len(face_found):
        raise InputError(f"--identity-frame {identity_frame}: the video has {len(face_found)} "
                         f"frames (0 to {len(face_found) - 1})")
    boxes, _ = cropper.smooth_boxes(landmarks, face_found)  # NoFaceError without any face
    if identity_frame is None:
        identity_frame = int(np.nanargmin(mouth_opening(landmarks)))  # NaN: no face
    elif not face_found[identity_frame]:
        raise NoFaceError(f"--identity-frame {identity_frame}: no face found in that frame")
    return FaceTrack(boxes=boxes, face_found=face_found, identity_index=identity_frame)


@dataclasses.dataclass
class DubResult:
    """What :func:`dub_video` wrote."""

    frames_written: int
    fps: float
    seconds: float
    source_frames: int
    faceless_frames: int
    identity_index: int

    def summary(self, output) -> str:
        return (f"wrote {output}: {self.frames_written} frames at {self.fps:g} fps "
                f"({self.seconds:.2f} s) from {self.source_frames} source frames, identity "
                f"from frame {self.identity_index}, {self.faceless_frames} frames without a "
                "face passed through")


def dub_video(
    video_path,
    audio_path,
    output,
    checkpoint=None,
    identity_frame: int | None = None,
    batch_size: int = 8,
    max_duration: float = DEFAULT_MAX_DURATION,
    ease_in: int = 0,
    feather: float = DUB_FEATHER,
    still: bool = False,
    require_gpu: bool = False,
    progress: bool = True,
) -> DubResult:
    """Writes ``output``: the video at ``video_path`` with its mouth saying ``audio_path``.

    Args:
        video_path: a video with a face (any format FFmpeg reads).
        audio_path: the new speech (audio file, or the sound of a video).
        output: the ``.mp4`` to write (replaced atomically when complete).
        checkpoint: generator checkpoint folder; None for the shipped model.
        identity_frame: source frame to take the identity from (None: the most closed mouth).
        batch_size: windows per generator call.
        max_duration: longest speech accepted, in seconds.
        ease_in: frames over which the video eases in from the identity image; 0 by
            default, whatever the model's ``data.ease_in``: a dub continues a moving face
            rather than opening on a photo (on the 9 clips of ``benchmarks/dub_quality.py``
            an ease-in of 4 frames lowered the sync from 0.437 to 0.391 with the model
            shipped before).
        feather: soft edge of the pasted mouth, as a fraction of the crop side.
        still: paste the identity crop unchanged instead of generated lips (the baseline the
            generator is measured against).
        require_gpu: fail unless a GPU is visible.
        progress: show progress bars.

    Raises:
        InputError, NoFaceError: bad inputs, each named in one line, before anything is
            written.
    """
    from tqdm import tqdm

    from lipmotion_tf.audio.loader import check_declared_duration, load_audio
    from lipmotion_tf.generate.compositing import MouthCompositor
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.generate.pipeline import LipMotionPipeline
    from lipmotion_tf.generate.render import (check_gpu_visible, check_not_an_input,
                                              check_output)
    from lipmotion_tf.video.lip_crop import LipCropper, crop_box
    from lipmotion_tf.video.reader import iter_video, video_frame, video_info

    output = Path(output)
    check_output(output)
    check_not_an_input(output, video_path, audio_path)
    check_declared_duration(audio_path, max_duration)  # from the header, before the model loads
    info = video_info(video_path)
    if require_gpu:
        check_gpu_visible()
    pipeline = LipMotionPipeline.from_checkpoint(checkpoint, batch_size=batch_size,
                                                 max_duration=max_duration,
                                                 ease_in=ease_in)
    config = pipeline.config
    rate = config.audio.sample_rate
    waveform = pipeline.check_speech(load_audio(audio_path, rate, max_duration), rate,
                                     source=str(audio_path))
    fps, seconds, num_output, needs_store = output_plan(info, len(waveform), rate,
                                                        config.audio.fps)

    cropper = LipCropper(image_size=config.data.image_size, crop_scale=config.data.crop_scale)
    with tempfile.TemporaryDirectory(prefix="lipmotion-dub-") as folder:
        store = FrameStore(Path(folder)) if needs_store else None
        with tqdm(total=info.num_frames, unit="frame", desc="tracking",
                  disable=not progress) as bar:
            track = track_face(iter_video(video_path, fps), cropper, identity_frame, store,
                               bar.update)
        frame = (store[track.identity_index] if store is not None
                 else video_frame(video_path, track.identity_index, fps))
        identity = crop_box(frame, track.boxes[track.identity_index], config.data.image_size,
                            cropper.border)
        num_generated = pipeline.num_frames(len(waveform))
        crops = (iter([identity] * num_generated) if still
                 else pipeline.iter_frames(waveform, rate, identity))
        compositor = MouthCompositor(feather, reference=identity)
        height, width = frame.shape[:2]
        crop, crop_index = None, -1
        faceless = 0
        frames = output_frames(video_path, fps, num_output, track.num_frames, store)
        with Mp4Writer(output, Fraction(fps).limit_denominator(1001), width, height, waveform,
                       rate, crf=DUB_CRF) as writer:
            for j, (index, image) in enumerate(tqdm(frames, total=num_output, unit="frame",
                                                    desc="dubbing", disable=not progress)):
                wanted = generated_index(j, fps, config.audio.fps, num_generated)
                while crop_index < wanted:
                    crop, crop_index = next(crops), crop_index + 1
                if track.face_found[index]:
                    image = compositor.paste(image, track.boxes[index], crop)
                else:
                    faceless += 1
                writer.write(image)
    return DubResult(frames_written=writer.frames_written, fps=fps, seconds=seconds,
                     source_frames=track.num_frames, faceless_frames=faceless,
                     identity_index=track.identity_index)

