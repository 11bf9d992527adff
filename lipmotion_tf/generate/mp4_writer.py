"""Streaming MP4 output: H.264 video with the input speech muxed in as AAC.

Frames are encoded as they arrive, so memory does not grow with the length of the video. The
file follows :func:`~lipmotion_tf.output_files.write_atomically`: it is written under a
temporary name, read back, and renamed only when complete, so a failed or interrupted run
leaves nothing half-written behind and an existing video untouched.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipmotion_tf.config import SPEECH_SAMPLE_RATE
from lipmotion_tf.errors import InputError
from lipmotion_tf.output_files import write_atomically


class Mp4Writer:
    """Writes RGB uint8 frames and one mono audio track to an MP4 file.

    Args:
        path: output file (``.mp4``).
        fps: video frame rate.
        width: frame width in pixels (rounded up to even, as yuv420p needs).
        height: frame height in pixels (rounded up to even).
        audio: mono float32 waveform in [-1, 1] to mux, or None for a silent video.
        sample_rate: sample rate of ``audio``.
        crf: H.264 quality (lower is better; 18 is visually lossless).

    Raises:
        InputError: ``audio`` is not finite mono speech, the folder cannot be written, or the
            encoder fails.
    """

    def __init__(self, path, fps: int, width: int, height: int, audio: np.ndarray | None = None,
                 sample_rate: int = SPEECH_SAMPLE_RATE, crf: int = 18):
        from lipmotion_tf.audio.validation import check_waveform

        self.path = Path(path)
        self.fps = fps
        self.width = width + width % 2
        self.height = height + height % 2
        # NaN samples make the AAC encoder fail only once every frame is encoded.
        self.audio = None if audio is None or not len(audio) else check_waveform(
            audio, sample_rate, source=f"the speech for {self.path}")
        self.sample_rate = sample_rate
        self.crf = crf
        self._stack: contextlib.ExitStack | None = None
        self._container = None
        self._video = None
        self._audio_stream = None
        self.frames_written = 0

    def __enter__(self) -> "Mp4Writer":
        import av

        parent = self.path.parent
        if not parent.is_dir():
            raise InputError(f"cannot write {self.path}: folder {parent} does not exist")
        with contextlib.ExitStack() as stack:
            temporary = stack.enter_context(write_atomically(self.path, self._verify))
            try:
                self._container = av.open(str(temporary), mode="w", format="mp4")
            except (av.FFmpegError, OSError) as error:
                raise InputError(f"cannot write {self.path}: {error}") from None
            # Closed before the temporary is checked and renamed (the stack unwinds in reverse).
            stack.callback(self._container.close)
            self._video = self._container.add_stream("libx264", rate=self.fps)
            self._video.width = self.width
            self._video.height = self.height
            self._video.pix_fmt = "yuv420p"
            self._video.options = {"crf": str(self.crf), "preset": "medium"}
            # Deterministic output for the same inputs: one encoder thread.
            self._video.thread_count = 1
            if self.audio is not None:
                self._audio_stream = self._container.add_stream("aac", rate=self.sample_rate)
                self._audio_stream.layout = "mono"
            self._stack = stack.pop_all()
        return self

    def write(self, frame: np.ndarray) -> None:
        """Encodes one RGB uint8 frame ``(height, width, 3)`` (padded to even sizes)."""
        import av

        frame = np.asarray(frame, np.uint8)
        pad_h, pad_w = self.height - frame.shape[0], self.width - frame.shape[1]
        if pad_h or pad_w:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._video.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _write_audio(self) -> None:
        import av

        samples = self.audio
        chunk = 1024 * 16
        pts = 0
        for begin in range(0, len(samples), chunk):  # clipped chunk by chunk: no second copy
            piece = np.clip(samples[begin:begin + chunk], -1.0, 1.0)[None, :]
            audio_frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
            audio_frame.sample_rate = self.sample_rate
            audio_frame.pts = pts
            audio_frame.time_base = Fraction(1, self.sample_rate)
            pts += piece.shape[1]
            for packet in self._audio_stream.encode(audio_frame):
                self._container.mux(packet)
        for packet in self._audio_stream.encode(None):
            self._container.mux(packet)

    def _finish(self) -> None:
        import av

        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self._audio_stream is not None:
                self._write_audio()
        except av.FFmpegError as error:
            raise InputError(f"cannot write {self.path}: the encoder failed ({error})") from None

    def _verify(self, temporary: Path) -> None:
        """Reads the finished file back: every frame written must be there, and the sound."""
        import av

        try:
            with av.open(str(temporary)) as container:
                has_audio = bool(container.streams.audio)
                frames = sum(1 for packet in container.demux(video=0) if packet.size)
        except av.FFmpegError as error:
            raise InputError(f"cannot write {self.path}: the encoded file is unreadable "
                             f"({error})") from None
        if frames != self.frames_written or has_audio != (self._audio_stream is not None):
            raise InputError(f"cannot write {self.path}: the encoded file holds {frames} of "
                             f"{self.frames_written} frames")

    def __exit__(self, exc_type, exc, tb) -> None:
        stack, self._stack = self._stack, None
        if exc_type is not None:
            stack.__exit__(exc_type, exc, tb)  # closes and removes the temporary
            return
        with stack:
            self._finish()


def write_frames(path, frames, audio: np.ndarray | None, sample_rate: int, fps: int = 25) -> None:
    """Writes a sequence of equal-sized RGB uint8 frames (and the speech) to ``path``.

    ``.npy`` saves the frames as an array; any other name is written as an MP4.
    """
    path = Path(path)
    if path.suffix == ".npy":
        with write_atomically(path) as temporary:
            np.save(temporary, np.asarray(frames))
        return
    frames = list(frames)
    if not frames:
        raise InputError(f"no frames to write to {path}")
    height, width = frames[0].shape[:2]
    with Mp4Writer(path, fps, width, height, audio=audio, sample_rate=sample_rate) as writer:
        for frame in frames:
            writer.write(frame)
