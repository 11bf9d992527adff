"""Live speech -> mouth motion: the motion model on speech as it arrives, at a fixed latency.

The motion model is a convolution stack that sees 0.8 s of speech on each side of a frame
(:mod:`.motion_generator`), so it can run on a stream. :class:`MotionStream` cuts the frames
into blocks of ``hop`` frames on a fixed grid; block ``k`` is computed from a window of speech
reaching ``past`` frames before it and ``lookahead`` frames after it, once that much speech
has arrived. The latency is therefore ``(hop + lookahead)`` frames plus the compute, and the
output does not depend on how the speech was cut into chunks.

Each window is normalised on its own (as the model's training windows are, 1.1 s long),
where :meth:`~.pipeline.MotionPipeline.motion` normalises a whole recording; how close the
two are, and what a shorter look-ahead costs, is measured in ``docs/experiments.md``
("Streaming").
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.audio.log_mel_numpy import mel_frames, stft_reach
from lipmotion_tf.errors import InputError


def block_window(block: int, hop: int, past: int, lookahead: int,
                 frames: int | None = None) -> tuple[int, int, int, int]:
    """``(first, last, start, stop)``: block ``block`` is frames ``[first, last)``, computed
    from the speech of frames ``[start, stop)``; ``frames``: the speech's length once known."""
    first, last = block * hop, (block + 1) * hop
    start, stop = max(0, first - past), last + lookahead
    if frames is not None:
        stop, last = min(stop, frames), min(last, frames)
    return first, last, start, stop


def replay(predict, log_mel: np.ndarray, rest: np.ndarray, mel_frames_per_frame: int,
           lookahead: int = 20, past: int = 25, hop: int = 5) -> np.ndarray:
    """What a :class:`MotionStream` gives for a whole recording's log-mel ``(4T, M)``, block
    by block (for measuring a stream on prepared data, which holds log-mel, not samples);
    ``predict(log_mel, rest)`` is the model (:meth:`MotionPipeline.predict`)."""
    m = mel_frames_per_frame
    frames = log_mel.shape[0] // m
    blocks = []
    for block in range(-(-frames // hop)):
        first, last, start, stop = block_window(block, hop, past, lookahead, frames)
        blocks.append(predict(log_mel[start * m:stop * m], rest)[first - start:last - start])
    return np.concatenate(blocks).astype(np.float32)


class MotionStream:
    """Mouth motion for speech pushed a chunk at a time.

    Args:
        pipeline: a :class:`~lipmotion_tf.motion.pipeline.MotionPipeline` (its model, audio
            settings and ``--expressiveness``).
        rest: the person's ``(59, 2)`` rest shape (``FaceRig.rest_motion_input``).
        sample_rate: the rate of the pushed samples (resampled to the model's as they come).
        lookahead: frames of speech heard after a block before it is computed (the model
            reaches 20; fewer lower the latency and the quality).
        past: frames of speech before a block in its window.
        hop: frames per block.

    ``push(samples)`` returns the displacements ``(K, 59, 2)`` of the frames completed by
    these samples (often none); ``close()`` those of the rest once the speech has ended, as
    many in all as :meth:`MotionPipeline.num_frames` gives for the whole speech.
    """

    def __init__(self, pipeline, rest: np.ndarray, sample_rate: int, lookahead: int = 20,
                 past: int = 25, hop: int = 5):
        if not (0 <= lookahead <= 100 and 0 <= past <= 250 and 1 <= hop <= 100):
            raise InputError(f"stream settings out of range: lookahead {lookahead} (0-100), "
                             f"past {past} (0-250), hop {hop} (1-100) frames")
        if not sample_rate or sample_rate <= 0:
            raise InputError(f"sample rate must be positive, got {sample_rate}")
        self.pipeline = pipeline
        self.rest = np.asarray(rest, np.float32)
        self.sample_rate = int(sample_rate)
        self.lookahead, self.past, self.hop = int(lookahead), int(past), int(hop)
        audio = pipeline.config.audio
        self.audio = audio
        self._m, self._hop_length = audio.mel_frames_per_frame, audio.hop_length
        self._context = stft_reach(audio)  # speech a block's log-mel needs past its end
        self._resampler = None
        if self.sample_rate != audio.sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, audio.sample_rate, 1,
                                                  dtype="float32")
        self._buffer = np.zeros(0, np.float32)
        self._offset = 0  # model-rate sample index of the buffer's first sample
        self._block = 0  # the next block to compute
        self._closed = False

    @property
    def latency(self) -> float:
        """Seconds from a frame's moment to when its motion can come out (compute aside)."""
        return (self.hop + self.lookahead) / self.audio.fps

    @property
    def heard(self) -> int:
        """Model-rate samples received so far."""
        return self._offset + self._buffer.size

    def push(self, samples) -> np.ndarray:
        """Adds speech; returns the motion of the frames it completes."""
        if self._closed:
            raise InputError("the stream is closed")
        samples = np.asarray(samples)
        if samples.size:
            from lipmotion_tf.audio.validation import check_waveform

            samples = check_waveform(samples, self.sample_rate, None, "the speech chunk")
            if self._resampler is not None:
                samples = self._resampler.resample_chunk(samples, last=False)
            self._buffer = np.concatenate([self._buffer, samples.astype(np.float32)])
        blocks = []
        while self._ready(self._block):
            blocks.append(self._compute(self._block, final_frames=None))
            self._block += 1
        self._trim()
        return self._joined(blocks)

    def close(self) -> np.ndarray:
        """Ends the speech; returns the motion of every frame not yet given."""
        if self._closed:
            raise InputError("the stream is closed")
        self._closed = True
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            self._buffer = np.concatenate([self._buffer, tail.astype(np.float32)])
        if self.heard == 0:
            raise InputError("the stream received no speech")
        frames = self.pipeline.num_frames(self.heard)
        # As for a whole recording: the speech cut or zero-extended to whole frames.
        end = frames * self.audio.samples_per_frame - self._offset
        self._buffer = (self._buffer[:end] if end <= self._buffer.size
                        else np.pad(self._buffer, (0, end - self._buffer.size)))
        blocks = []
        while self._block * self.hop < frames:
            blocks.append(self._compute(self._block, final_frames=frames))
            self._block += 1
        return self._joined(blocks)

    def _ready(self, block: int) -> bool:
        needed = ((block + 1) * self.hop + self.lookahead) * self._m + self._context
        return self.heard >= needed * self._hop_length

    def _compute(self, block: int, final_frames: int | None) -> np.ndarray:
        first, last, start, stop = block_window(block, self.hop, self.past, self.lookahead,
                                                final_frames)
        log_mel = self._log_mel(start * self._m, stop * self._m, final_frames is not None)
        return self.pipeline.predict(log_mel, self.rest)[first - start:last - start]

    def _log_mel(self, first: int, last: int, final: bool) -> np.ndarray:
        """Mel frames ``[first, last)`` of the speech heard (:func:`mel_frames`)."""
        total = self.heard // self._hop_length if final else None
        return mel_frames(self._buffer, first, last, self.audio, total, self._offset)

    def _trim(self) -> None:
        """Drops the samples no later block needs (memory stays bounded on a long stream)."""
        keep = max(0, (self._block * self.hop - self.past) * self._m - self._context)
        drop = keep * self._hop_length - self._offset
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._offset += drop

    def _joined(self, blocks: list) -> np.ndarray:
        if not blocks:
            return np.zeros((0, *self.rest.shape), np.float32)
        return np.concatenate(blocks).astype(np.float32)
