"""Judging speech against mouth motion with a trained expert: embeddings of any length, the
shift search, and the accuracy of finding a known shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.sync.offset import (MAX_OFFSET, SyncScore, delay_log_mel, score_embeddings,
                                      window_validity)

#: Frames embedded at a time, so that an hour of video needs no more memory than a minute;
#: the speech is normalised over each chunk (40 s), as the expert's training sequences are.
CHUNK_FRAMES = 1000


class SyncJudge:
    """A trained :class:`~lipmotion_tf.sync.expert.SyncExpert` and what it measures.

    Args:
        expert: the expert.
        config: its :class:`~lipmotion_tf.sync.config.SyncExperimentConfig`.
    """

    def __init__(self, expert, config):
        self.expert = expert
        self.config = config
        self.window = expert.window
        self.mel_frames_per_frame = expert.mel_frames_per_frame

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None) -> "SyncJudge":
        """The expert of a run folder (default: the one shipped in the package)."""
        from lipmotion_tf.sync.checkpoint import load_sync_expert, sync_checkpoint

        return cls(*load_sync_expert(path or sync_checkpoint()))

    def _chunks(self, frames: int):
        """``(start, end)`` frame spans of at most :data:`CHUNK_FRAMES` windows each."""
        w = self.window
        if frames < w:
            raise ValueError(f"{frames} frames, fewer than the {w} of one window: too short "
                             "to judge")
        return [(start, min(frames, start + CHUNK_FRAMES + w - 1))
                for start in range(0, frames - w + 1, CHUNK_FRAMES)]

    def speech_embeddings(self, log_mel: np.ndarray, frames: int) -> np.ndarray:
        """``(4T, M)`` log-mel of ``T`` frames -> ``(T - window + 1, D)``."""
        m = self.mel_frames_per_frame
        return np.concatenate([
            np.asarray(self.expert.speech_embeddings(
                log_mel[None, m * start:m * end].astype(np.float32))[0])
            for start, end in self._chunks(frames)])

    def mouth_embeddings(self, motion: np.ndarray) -> np.ndarray:
        """``(T, P, 2)`` motion -> ``(T - window + 1, D)``."""
        return np.concatenate([
            np.asarray(self.expert.mouth_embeddings(motion[None, start:end].astype(np.float32))[0])
            for start, end in self._chunks(len(motion))])

    def score(self, log_mel: np.ndarray, motion: np.ndarray, found: np.ndarray | None = None,
              max_offset: int = MAX_OFFSET) -> SyncScore:
        """The shift search of one video's speech and mouth motion (frames without a face,
        ``found`` False, are left out)."""
        valid = None if found is None else window_validity(found, self.window)
        return score_embeddings(self.speech_embeddings(log_mel, len(motion)),
                                self.mouth_embeddings(motion), valid, max_offset)

    def shift_trials(self, log_mel: np.ndarray, motion: np.ndarray, shifts,
                     found: np.ndarray | None = None, max_offset: int = MAX_OFFSET) -> list:
        """The offset found with the sound delayed by each of ``shifts`` frames (negative:
        early): ``[(shift, offset found), ...]``; the mouth is embedded once."""
        mouth = self.mouth_embeddings(motion)
        valid = None if found is None else window_validity(found, self.window)
        m = self.mel_frames_per_frame
        return [(int(shift), score_embeddings(
                    self.speech_embeddings(delay_log_mel(log_mel, shift, m), len(motion)),
                    mouth, valid, max_offset).offset)
                for shift in shifts]
