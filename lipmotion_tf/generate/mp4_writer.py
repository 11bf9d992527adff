"""Streaming MP4 output: H.264 video with the input speech muxed in as AAC.

Frames are encoded as they arrive, so memory does not grow with the length of the video. The
file is written under a temporary name and renamed when complete: a failed or interrupted run
leaves nothing half-written behind.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError


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
    """

    def __init__(self, path, fps: int, width: int, height: int, audio: np.ndarray | None = None,
                 sample_rate: int = 44100, crf: int = 18):
        self.path = Path(path)
        self.fps = fps
        self.width = width + width % 2
        self.height = height + height % 2
        self.audio = audio
        self.sample_rate = sample_rate
        self.crf = crf
        self._tmp = self.path.with_name(f".{self.path.name}.partial.mp4")
        self._container = None
        self._video = None
        self.frames_written = 0

    def __enter__(self) -> "Mp4Writer":
        import av

        parent = self.path.parent
        if not parent.is_dir():
            raise InputError(f"cannot write {self.path}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise InputError(f"cannot write {self.path}: folder {parent} is not writable")
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
        except OSError as error:
            raise InputError(f"cannot write {self.path}: {error}") from None
        self._video = self._container.add_stream("libx264", rate=self.fps)
        self._video.width = self.width
        self._video.height = self.height
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(self.crf), "preset": "medium"}
        # Deterministic output for the same inputs: one encoder thread.
        self._video.thread_count = 1
        self._audio_stream = None
        if self.audio is not None and len(self.audio):
            self._audio_stream = self._container.add_stream("aac", rate=self.sample_rate)
            self._audio_stream.layout = "mono"
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

        samples = np.clip(np.asarray(self.audio, np.float32), -1.0, 1.0)
        chunk = 1024 * 16
        pts = 0
        for begin in range(0, len(samples), chunk):
            piece = samples[begin:begin + chunk][None, :]
            audio_frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
            audio_frame.sample_rate = self.sample_rate
            audio_frame.pts = pts
            audio_frame.time_base = Fraction(1, self.sample_rate)
            pts += piece.shape[1]
            for packet in self._audio_stream.encode(audio_frame):
                self._container.mux(packet)
        for packet in self._audio_stream.encode(None):
            self._container.mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for packet in self._video.encode(None):
                    self._container.mux(packet)
                if self._audio_stream is not None:
                    self._write_audio()
            self._container.close()
        finally:
            if exc_type is None:
                os.replace(self._tmp, self.path)
            elif self._tmp.exists():
                self._tmp.unlink()


def write_frames(path, frames, audio: np.ndarray | None, sample_rate: int, fps: int = 25) -> None:
    """Writes a sequence of equal-sized RGB uint8 frames (and the speech) to ``path``.

    ``.npy`` saves the frames as an array; any other name is written as an MP4.
    """
    path = Path(path)
    if path.suffix == ".npy":
        np.save(path, np.asarray(frames))
        return
    frames = list(frames)
    if not frames:
        raise InputError(f"no frames to write to {path}")
    height, width = frames[0].shape[:2]
    with Mp4Writer(path, fps, width, height, audio=audio, sample_rate=sample_rate) as writer:
        for frame in frames:
            writer.write(frame)
