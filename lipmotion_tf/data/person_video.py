"""One person's talking video cut into a part to train on and a part kept out.

The first ``1 - holdout`` of the video (in time) is for training, the rest for measuring what
the training gave: the split is in time, not by random windows, so no held-out frame is next
to a trained one. Each part is written as H.264 + AAC segments of at most ``segment_seconds``
at the model's frame rate, never across two joined videos (the training part as two
segments at least: training draws mismatched speech from another clip), then prepared like
any other clips: the preparation holds one segment in memory at a time, so the video's
length does not matter.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from lipmotion_tf.errors import InputError


@dataclasses.dataclass
class VideoParts:
    """Where the parts of a person's video were written.

    Attributes:
        train: folder of the segments to train on.
        heldout: folder of the segments kept out.
        train_frames: frames (at the model rate) in the training part.
        heldout_frames: frames in the held-out part.
    """

    train: Path
    heldout: Path
    train_frames: int
    heldout_frames: int


def video_list(videos) -> list:
    """One video path or a sequence of them, as a list."""
    return [videos] if isinstance(videos, (str, Path)) else list(videos)


def minimum_frames(window: int, holdout: float) -> int:
    """Shortest video (frames) whose held-out part holds one window and whose training part
    two segments of one window (training draws mismatched speech from another clip)."""
    return max(math.ceil(window / holdout), math.ceil(2 * window / (1.0 - holdout)))


def _segments(first: int, last: int, longest: int, fewest: int = 1) -> list[tuple[int, int]]:
    """``[first, last)`` cut into at least ``fewest`` equal segments of at most ``longest``
    frames."""
    count = max(fewest, math.ceil((last - first) / longest))
    bounds = [first + round(i * (last - first) / count) for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _plan(counts, boundary: int, window: int, longest: int) -> list[tuple[str, int, int]]:
    """``(part, first, last)`` segments of the joined frames: never across the border of two
    videos (their light and framing differ, and a segment's identity frame must look like
    its other frames), at most ``longest`` frames, pieces shorter than ``window`` left out,
    and the training part in two segments at least."""
    plan, start = [], 0
    for count in counts:
        end = start + count
        for part, low, high in (("train", start, min(end, boundary)),
                                ("heldout", max(start, boundary), end)):
            if high - low >= window:
                plan += [(part, a, b) for a, b in _segments(low, high, longest)]
        start = end
    train = [piece for piece in plan if piece[0] == "train"]
    if len(train) == 1 and train[0][2] - train[0][1] >= 2 * window:
        _, low, high = train[0]
        index = plan.index(train[0])
        plan[index:index + 1] = [("train", a, b) for a, b in _segments(low, high, longest, 2)]
    return plan


def _joined_frames(videos, counts, fps):
    """The frames of ``videos`` one after the other, exactly ``counts[i]`` from video ``i``
    (its last frame repeated if it decodes fewer), so the sound stays in step."""
    from lipmotion_tf.video.reader import iter_video

    for video, count in zip(videos, counts):
        frame = None
        for index, frame in enumerate(iter_video(video, fps)):
            if index == count:
                break
            yield frame
        else:
            for _ in range(count - (index + 1 if frame is not None else 0)):
                yield frame


def split_person_video(videos, out_dir, audio_config, window: int = 16, holdout: float = 0.2,
                       segment_seconds: float = 10.0, progress: bool = True) -> VideoParts:
    """Writes ``out_dir/train`` and ``out_dir/heldout`` segments of one video, or of several
    videos of the same person joined in the given order.

    Raises:
        InputError: unreadable video, no sound, videos of different frame sizes, or too short
            for both parts.
    """
    import numpy as np
    from tqdm import tqdm

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.video.reader import video_info

    if not 0.0 < holdout < 1.0:
        raise InputError(f"the held-out share must be between 0 and 1, got {holdout}")
    videos = video_list(videos)
    if not videos:
        raise InputError("no video given")
    fps, spf = audio_config.fps, audio_config.samples_per_frame
    infos = [video_info(video) for video in videos]
    if len({(info.width, info.height) for info in infos}) > 1:
        raise InputError("the videos to join differ in frame size: "
                         + ", ".join(f"{v} {i.width}x{i.height}" for v, i in zip(videos, infos)))
    counts = [max(1, round(info.duration * fps)) for info in infos]
    sounds = []
    for video, count in zip(videos, counts):
        try:
            audio = load_audio(video, audio_config.sample_rate)[:count * spf]
        except InputError as error:
            raise InputError(f"adapt needs the person's own speech: {error}") from None
        sounds.append(np.pad(audio, (0, count * spf - len(audio))))
    audio = np.concatenate(sounds)
    total = sum(counts)
    needed = minimum_frames(window, holdout)
    if total < needed:
        name = videos[0] if len(videos) == 1 else f"the {len(videos)} videos"
        raise InputError(
            f"{name} last {total / fps:.2f} s; adapt needs at least {needed / fps:.1f} s "
            f"(a {window}-frame window in the {holdout:.0%} it keeps out, two in the part "
            "it trains on)")
    boundary = round(total * (1.0 - holdout))
    plan = _plan(counts, boundary, window, max(window, int(segment_seconds * fps)))
    if sum(part == "train" for part, _, _ in plan) < 2 or plan[-1][0] != "heldout":
        raise InputError(f"the videos are too short to keep {holdout:.0%} out: each part needs "
                         f"{window}-frame pieces within one video")
    out_dir = Path(out_dir)
    for part in ("train", "heldout"):
        (out_dir / part).mkdir(parents=True, exist_ok=True)

    frames = _joined_frames(videos, counts, fps)
    position = 0
    with tqdm(total=total, unit="frame", desc="cutting", disable=not progress) as bar:
        for index, (part, first, last) in enumerate(plan):
            for _ in range(position, first):  # a piece too short to use
                next(frames)
            position = last
            with Mp4Writer(out_dir / part / f"segment{index:03d}.mp4", fps, infos[0].width,
                           infos[0].height, audio[first * spf:last * spf],
                           audio_config.sample_rate) as writer:
                for _ in range(first, last):
                    writer.write(next(frames))
                    bar.update(1)
    return VideoParts(train=out_dir / "train", heldout=out_dir / "heldout",
                      train_frames=sum(b - a for part, a, b in plan if part == "train"),
                      heldout_frames=sum(b - a for part, a, b in plan if part == "heldout"))
