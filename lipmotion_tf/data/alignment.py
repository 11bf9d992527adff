"""GRID word alignments and the per-frame speech flags derived from them.

A GRID ``.align`` file holds one ``start end word`` line per word, in units of 1/1000 of a
video frame (a 75-frame clip spans 0 to 75000); ``sil`` (and ``sp`` in some releases) marks
silence. Frame ``t`` spans ``[1000 t, 1000 (t + 1))``; it is flagged speech (1) when words
cover more of it than silence does, silence (0) otherwise, and unknown (-1) when no line of
the alignment touches it. Flags let evaluation check that the mouth stays closed in silence.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

ALIGN_SUFFIX = ".align"
UNITS_PER_FRAME = 1000
SILENCE_WORDS = frozenset({"sil", "sp"})


@dataclasses.dataclass(frozen=True)
class AlignedWord:
    """One line of an alignment: ``[start, end)`` in 1/1000 frames, and the word."""

    start: int
    end: int
    word: str

    @property
    def is_silence(self) -> bool:
        return self.word.lower() in SILENCE_WORDS


def parse_alignment(path: str | Path) -> list[AlignedWord]:
    """Reads a GRID ``.align`` file.

    Raises:
        InputError: the file is missing or a line is not ``start end word`` with
            ``0 <= start <= end`` (the message names the file and line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read alignment {path}: {error}") from None
    words = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 3:
                raise ValueError
            start, end = int(parts[0]), int(parts[1])
            if not 0 <= start <= end:
                raise ValueError
        except ValueError:
            raise InputError(
                f"{path}:{number}: expected 'start end word' with 0 <= start <= end, "
                f"got {line.strip()!r}"
            ) from None
        words.append(AlignedWord(start, end, parts[2]))
    return words


def speech_flags(words: list[AlignedWord], num_frames: int) -> np.ndarray:
    """Per-frame flags ``(num_frames,)`` int8: 1 speech, 0 silence, -1 not covered."""
    starts = np.arange(num_frames, dtype=np.int64) * UNITS_PER_FRAME
    ends = starts + UNITS_PER_FRAME
    speech = np.zeros(num_frames, dtype=np.int64)
    silence = np.zeros(num_frames, dtype=np.int64)
    for word in words:
        overlap = np.clip(np.minimum(ends, word.end) - np.maximum(starts, word.start), 0, None)
        if word.is_silence:
            silence += overlap
        else:
            speech += overlap
    flags = np.where(speech > silence, 1, 0)
    flags[(speech == 0) & (silence == 0)] = -1
    return flags.astype(np.int8)


def find_alignment(video_path: str | Path) -> Path | None:
    """The alignment of a video, or ``None``.

    Looks for ``<stem>.align`` beside the video (the layout of ``grid/speakers/sN``) and in
    ``<root>/align/<speaker>/`` for a video ``<root>/<speaker>/<stem>.<ext>`` (the layout of
    ``grid/s1`` with ``grid/align/s1``).
    """
    video_path = Path(video_path)
    candidates = [
        video_path.with_suffix(ALIGN_SUFFIX),
        video_path.parent.parent / "align" / video_path.parent.name / f"{video_path.stem}{ALIGN_SUFFIX}",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def speech_flags_for_video(video_path: str | Path, num_frames: int) -> np.ndarray:
    """Speech flags of a video's frames from its alignment; -1 everywhere when it has none.

    Raises:
        InputError: the alignment exists but is malformed.
    """
    path = find_alignment(video_path)
    if path is None:
        return np.full(num_frames, -1, dtype=np.int8)
    return speech_flags(parse_alignment(path), num_frames)
