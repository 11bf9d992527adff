"""A device pack: prepared training data small enough to travel to a machine without TensorFlow.

The GPU machine this project can borrow has JAX but no TensorFlow, and at most 64 MiB of
files travel to it. A pack is a folder of two ``.npz`` files in the numpy format of
:mod:`lipmotion_tf.data.numpy_data`, with the frames JPEG-coded (a 64-pixel lip crop takes
about 2 KB instead of 12 KB):

* ``train.npz``: the extra folders' clips (every split: they are the few other people),
  then the first folder's training clips until the size limit is reached; ``clip_weights``
  makes training draw each folder's windows in the proportions ``data.source_weights``,
  and ``quiet_log_mel`` holds the still windows' audio;
* ``val.npz``: the first folder's validation clips (the first ``val_clips``);
* ``pack.json``: what went in (clips per folder, windows, bytes).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lipmotion_tf.data.numpy_data import NUMPY_FORMAT_VERSION
from lipmotion_tf.data.still_windows import quiet_log_mel
from lipmotion_tf.errors import DataError
from lipmotion_tf.output_files import ensure_writable_folder, write_atomically

MIB = 1 << 20


def _encode_frames(clip: dict, quality: int) -> list[bytes]:
    """The clip's RGB frames as JPEG files (OpenCV codes BGR)."""
    import cv2

    coded = []
    for frame in clip["frames"]:
        ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise DataError(f"cannot JPEG-code a frame of {clip['clip_id'].decode()}")
        coded.append(data.tobytes())
    return coded


def _clips(prepared_dir: Path, split: str, config, window: int):
    from lipmotion_tf.data.pipeline import clip_dataset

    for clip in clip_dataset(prepared_dir, split, config).as_numpy_iterator():
        if int(clip["num_frames"]) >= window:
            yield clip


class _SplitWriter:
    """Collects JPEG-coded clips of one split and writes them as one ``.npz``."""

    def __init__(self, config):
        self.config = config
        self.jpeg, self.jpeg_offsets = [], [0]
        self.log_mel, self.clip_ids, self.speech, self.faces = [], [], [], []
        self.frame_offsets, self.sources = [0], []
        self.bytes = 0

    def clip_bytes(self, coded: list[bytes], clip: dict) -> int:
        return sum(map(len, coded)) + clip["log_mel"].size * 2 + 3 * len(coded)

    def add(self, coded: list[bytes], clip: dict, source: int) -> None:
        for data in coded:
            self.jpeg.append(np.frombuffer(data, np.uint8))
            self.jpeg_offsets.append(self.jpeg_offsets[-1] + len(data))
        self.log_mel.append(clip["log_mel"].astype(np.float16))
        self.clip_ids.append(clip["clip_id"].decode())
        self.speech.append(clip["speech"].astype(np.int8))
        self.faces.append(clip["face_found"].astype(np.int8))
        self.frame_offsets.append(self.frame_offsets[-1] + len(coded))
        self.sources.append(source)
        self.bytes += self.clip_bytes(coded, clip)

    def write(self, path: Path, extra: dict | None = None) -> int:
        arrays = {
            "frames_jpeg": np.concatenate(self.jpeg),
            "jpeg_offsets": np.asarray(self.jpeg_offsets, np.int64),
            "log_mel": np.concatenate(self.log_mel),
            "frame_offsets": np.asarray(self.frame_offsets, np.int64),
            "clip_ids": np.asarray(self.clip_ids, dtype=str),
            "speech": np.concatenate(self.speech),
            "face_found": np.concatenate(self.faces),
            "audio_config": np.asarray(json.dumps(dataclasses.asdict(self.config.audio))),
            "image_size": np.asarray(self.config.data.image_size, np.int64),
            "format_version": np.asarray(NUMPY_FORMAT_VERSION, np.int64),
            **(extra or {}),
        }
        with write_atomically(path) as temporary:
            np.savez(temporary, **arrays)
        return path.stat().st_size


def _windows(length: int, window: int, hop: int) -> int:
    return (length - window) // hop + 1


def write_device_pack(
    prepared_dirs: Sequence[str | Path],
    out_dir: str | Path,
    config,
    max_mib: float = 40.0,
    quality: int = 92,
    val_clips: int = 8,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    """Writes a device pack of prepared folders (see the module docstring).

    Args:
        prepared_dirs: folders written by ``lipmotion prepare``; the first gives the
            training and validation splits, the others add all their clips.
        out_dir: the pack folder (created; ``train.npz``, ``val.npz``, ``pack.json``).
        config: the :class:`~lipmotion_tf.config.ExperimentConfig` (crop size, window,
            audio front end, ``data.source_weights``).
        max_mib: size limit of the whole pack; the first folder's training clips stop
            where the next would pass it.
        quality: JPEG quality of the frames (1-100).
        val_clips: validation clips kept (validation needs few; they cost room).
        progress: receives one line per folder.

    Returns:
        The summary also written to ``pack.json``.

    Raises:
        DataError: a folder is missing or inconsistent, or the limit leaves no room for two
            training clips.
    """
    if not prepared_dirs:
        raise DataError("a device pack needs at least one prepared folder")
    dirs = [Path(d) for d in prepared_dirs]
    for folder in dirs:
        if not folder.is_dir():
            raise DataError(f"data folder not found: {folder}")
    if not 1 <= quality <= 100:
        raise DataError(f"the JPEG quality must be 1-100, got {quality}")
    if not 0 < max_mib < float("inf"):
        raise DataError(f"the size limit must be a finite number of MiB > 0, got {max_mib}")
    weights = list(config.data.source_weights) or [1.0] * len(dirs)
    if len(weights) != len(dirs):
        raise DataError(f"data.source_weights has {len(weights)} entries for {len(dirs)} "
                        "data folders")
    out_dir = Path(out_dir)
    ensure_writable_folder(out_dir, "pack folder")
    window, hop = config.data.window, config.data.hop
    limit = int(max_mib * MIB)

    val = _SplitWriter(config)
    for clip in _clips(dirs[0], "val", config, window):
        if len(val.clip_ids) >= val_clips:
            break
        val.add(_encode_frames(clip, quality), clip, source=0)
    quiet = quiet_log_mel(config.audio, config.seed).astype(np.float16)
    train = _SplitWriter(config)
    room = limit - val.bytes - quiet.nbytes - MIB // 4  # headers, ids, offsets
    full = False
    for source in [*range(1, len(dirs)), 0]:
        split = "train" if source == 0 else "all"
        for clip in _clips(dirs[source], split, config, window):
            coded = _encode_frames(clip, quality)
            if train.bytes + train.clip_bytes(coded, clip) > room:
                full = True
                break
            train.add(coded, clip, source)
        progress(f"{dirs[source]}: {train.sources.count(source)} clips"
                 + (" (size limit reached)" if full and source == 0 else ""))
    if len(train.clip_ids) < 2:
        raise DataError(f"a {max_mib:g} MiB pack holds fewer than two training clips")

    lengths = np.diff(train.frame_offsets)
    sources = np.asarray(train.sources)
    windows = np.array([_windows(n, window, hop) for n in lengths], np.float64)
    clip_weights = np.zeros(len(lengths), np.float32)
    for source, weight in enumerate(weights):
        mine = sources == source
        if mine.any():
            clip_weights[mine] = weight / windows[mine].sum()
    sizes = {"train.npz": train.write(out_dir / "train.npz",
                                      {"clip_weights": clip_weights, "quiet_log_mel": quiet})}
    if val.clip_ids:
        sizes["val.npz"] = val.write(out_dir / "val.npz")
    summary = {
        "folders": [str(d) for d in dirs],
        "source_weights": weights,
        "train_clips": [int((sources == s).sum()) for s in range(len(dirs))],
        "train_windows": int(windows.sum()),
        "val_clips": len(val.clip_ids),
        "jpeg_quality": quality,
        "bytes": sizes,
        "mib": round(sum(sizes.values()) / MIB, 2),
    }
    (out_dir / "pack.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
