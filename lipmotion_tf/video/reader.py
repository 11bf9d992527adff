"""Video decoding with PyAV, resampled to the model frame rate.

Frames are decoded in a stream (a clip is never held twice in memory) and resampled to a fixed
rate by nearest-timestamp selection: output frame ``j`` shows the source frame whose
presentation time is nearest to ``t0 + j / fps`` (ties go to the earlier frame), where ``t0``
is the first frame's time. A clip of duration ``D`` (last frame's time plus its duration,
minus ``t0``) gives ``round(D * fps)`` frames (halves rounded up), so a 25 fps source comes
back unchanged.

Frames come out upright, as every player shows them: a phone stores a portrait recording as
landscape pixels with a display matrix (rotation side data) saying how to turn them, and the
reader applies that rotation in quarter turns, and the mirroring a display matrix may also
hold (a front camera's selfie video), as FFmpeg's player does (:func:`_orientation`).
``video_info`` reports the displayed size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its container without decoding frames.

    Attributes:
        fps: the source's average frame rate.
        num_frames: source frames (counted from the packets when the container does not say).
        width: displayed frame width in pixels (after the container's rotation).
        height: displayed frame height in pixels (after the container's rotation).
        duration: seconds of video (``num_frames / fps``; the container's estimate when the
            rate is unknown).
        has_audio: whether the file has an audio stream.
        rotation: counter-clockwise degrees (0, 90, 180 or 270) the stored pixels are turned
            by to show them upright; frames from :func:`iter_video` are already turned.
        mirrored: whether the display matrix also mirrors the picture (mirrored back, before
            the turn, in the frames of :func:`iter_video`).
    """

    fps: float
    num_frames: int
    width: int
    height: int
    duration: float
    has_audio: bool
    rotation: int = 0
    mirrored: bool = False


def _open(path: str | Path):
    """Opens a container with a video stream, or raises InputError."""
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"cannot read video {path}: {_describe(error)}") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream")
    return container


def _describe(error: Exception) -> str:
    """A short reason for an FFmpeg error (its message without the file path)."""
    import av

    if isinstance(error, av.FFmpegError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _orientation(frame) -> tuple[int, bool]:
    """``(turns, mirrored)`` that show a decoded frame upright: mirror it left to right first
    when ``mirrored``, then turn it counter-clockwise by ``turns`` quarter turns (0-3).

    Read from the frame's display matrix (FFmpeg's DISPLAYMATRIX side data, written by
    phones): ``[a b u; c d v; x y w]`` in 16.16 fixed point maps a stored pixel ``(p, q)`` to
    ``(a p + c q, b p + d q)``. A negative determinant is a mirrored picture, which FFmpeg's
    player shows mirrored back; the rest is the rotation FFmpeg's ``av_display_rotation_get``
    gives, rounded to the nearest quarter turn. A ``rotate`` tag in the stream's metadata is
    not read, as FFmpeg itself does not apply one. A matrix that is degenerate or not finite
    is ignored (the frame is shown as stored).
    """
    data = None
    try:
        from av.sidedata.sidedata import Type

        data = frame.side_data.get(Type.DISPLAYMATRIX)
    except (AttributeError, ImportError, KeyError, TypeError, ValueError):
        pass
    if data is None or len(bytes(data)) < 36:
        return 0, False
    a, b, _, c, d = (float(v) / 65536.0 for v in np.frombuffer(bytes(data)[:20], "<i4"))
    mirrored = a * d - b * c < 0
    if mirrored:  # undo the mirror of the x axis: what is left is a rotation
        a, b = -a, -b
    if not (np.hypot(a, b) > 0 and np.isfinite([a, b]).all()):
        return 0, False
    degrees = -np.degrees(np.arctan2(b, a))  # counter-clockwise, as VideoFrame.rotation
    return int(np.round(degrees / 90.0)) % 4, bool(mirrored)


def _upright(image: np.ndarray, orientation: tuple[int, bool]) -> np.ndarray:
    """``image`` mirrored and turned as :func:`_orientation` says, contiguous in memory."""
    turns, mirrored = orientation
    if mirrored:
        image = image[:, ::-1]
    if turns:
        image = np.rot90(image, turns)
    return np.ascontiguousarray(image) if turns or mirrored else image


def _first_frame_orientation(path: str | Path) -> tuple[int, bool]:
    """:func:`_orientation` of a video's first frame (none when it has no frame or the frame
    cannot be decoded).

    The rotation is side data of the decoded frames (PyAV has no reader for the stream's),
    so one frame is decoded; a broken stream is reported by whoever decodes it in full.
    """
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                return _orientation(frame)
        except av.FFmpegError:
            pass
    return 0, False


def video_info(path: str | Path) -> VideoInfo:
    """Describes a video file.

    Raises:
        InputError: the file is missing, unreadable, has no video stream or no frames.
    """
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        num_frames = int(stream.frames or 0)
        if num_frames <= 0:
            try:
                for packet in container.demux(stream):
                    num_frames += 1 if packet.size else 0
            except av.error.EOFError:
                pass  # an empty stream: reported below
            except av.FFmpegError as error:
                raise InputError(f"cannot read video {path}: {_describe(error)}") from None
        if fps > 0:
            duration = num_frames / fps
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        info = VideoInfo(
            fps=fps,
            num_frames=num_frames,
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            duration=duration,
            has_audio=bool(container.streams.audio),
        )
    if info.num_frames <= 0:
        raise InputError(f"{path} holds no video frames")
    turns, mirrored = _first_frame_orientation(path)
    if turns % 2:
        info = dataclasses.replace(info, width=info.height, height=info.width)
    return dataclasses.replace(info, rotation=90 * turns, mirrored=mirrored)


def iter_video(path: str | Path, fps: float = 25.0) -> Iterator[np.ndarray]:
    """Yields the frames of a video as ``(H, W, 3)`` RGB uint8 arrays at ``fps``, upright.

    The container's display matrix (a phone's portrait recording, a mirrored selfie video)
    is applied, so ``H`` and ``W`` are the displayed height and width.

    Args:
        path: a video file in any format FFmpeg reads (mpg, mp4, mov, avi, mkv, webm...).
        fps: output frame rate.

    Raises:
        InputError: the file is missing, unreadable or corrupt, or holds no frames. A stream
            that breaks after some frames raises as well: a clip with a hole is not usable.
    """
    import av

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        default_step = 1.0 / float(rate) if rate else 1.0 / fps

        start = None  # time of the first source frame
        previous = None  # (time, image) of the last source frame seen
        step = default_step
        orientation = None  # how to show the frames upright (see _orientation)
        emitted = 0
        # Output frames chosen but not yet known to fall inside the clip's rounded length.
        pending: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                if frame.time is not None:
                    time = float(frame.time)
                elif previous is not None:
                    time = previous[0] + step
                else:
                    time = 0.0
                if previous is not None and time <= previous[0]:
                    time = previous[0] + step  # broken timestamps: keep decode order
                if frame.duration and frame.time_base is not None:
                    step = float(frame.duration * frame.time_base)
                if orientation is None:  # the first frame's matrix holds for the clip
                    orientation = _orientation(frame)
                image = _upright(frame.to_ndarray(format="rgb24"), orientation)
                if start is None:
                    start = time
                else:
                    # Output times up to the midpoint belong to the previous frame.
                    midpoint = (previous[0] + time) / 2.0
                    while start + (emitted + len(pending)) / fps <= midpoint:
                        pending.append(previous[1])
                    # Output j is inside the clip for sure once (j + 0.5) / fps <= time - start.
                    while pending and (emitted + 0.5) / fps <= time - start:
                        yield pending.pop(0)
                        emitted += 1
                previous = (time, image)
        except av.error.EOFError:
            pass  # a stream that ends early, or holds nothing: judged below
        except av.FFmpegError as error:
            raise InputError(f"cannot decode video {path}: {_describe(error)}") from None
        if previous is None:
            raise InputError(f"{path} holds no video frames")
        total = max(1, _round_half_up((previous[0] + step - start) * fps))
        pending.extend([previous[1]] * max(0, total - emitted - len(pending)))
        yield from pending[: total - emitted]
    finally:
        container.close()


def _round_half_up(value: float) -> int:
    """Rounds x.5 up, with a little slack for timestamps such as 1.4999999."""
    return int(np.floor(value + 0.5 + 1e-6))


def video_frame(path: str | Path, index: int, fps: float = 25.0) -> np.ndarray:
    """Frame ``index`` of a video at ``fps``, decoded up to it (see :func:`iter_video`).

    Raises:
        InputError: as :func:`iter_video`, or the video has no frame ``index``.
    """
    import itertools

    frame = next(itertools.islice(iter_video(path, fps=fps), index, None), None)
    if frame is None:
        raise InputError(f"{path} has no frame {index}")
    return frame


def read_video(path: str | Path, fps: float = 25.0) -> np.ndarray:
    """Decodes a whole video into a ``(T, H, W, 3)`` RGB uint8 array at ``fps``.

    See :func:`iter_video` for the resampling rule and the errors.
    """
    return np.stack(list(iter_video(path, fps=fps)))
