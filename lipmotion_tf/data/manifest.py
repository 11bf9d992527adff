"""The manifest of a prepared-data folder: which clips are in which shard and split.

Layout written by ``lipmotion prepare OUT_DIR``::

    OUT_DIR/manifest.json       this manifest (written last, atomically)
    OUT_DIR/failures.json       inputs that could not be prepared, with the reason
    OUT_DIR/shards/<split>-<index>.tfrecord

The manifest records the audio settings and crop size the data was made with, so a pipeline
can refuse data that does not match its configuration.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lipmotion_tf.errors import DataError
from lipmotion_tf.output_files import write_atomically

MANIFEST_NAME = "manifest.json"
FAILURES_NAME = "failures.json"
SHARD_DIR = "shards"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class ClipEntry:
    """One prepared clip as listed in the manifest."""

    clip_id: str
    speaker: str
    source: str
    split: str
    shard: str  # path relative to the prepared folder
    num_frames: int
    faces_found: int  # frames with a detected face


@dataclasses.dataclass
class Manifest:
    """A prepared-data folder's manifest.

    Attributes:
        root: the prepared folder.
        audio: the :class:`~lipmotion_tf.config.AudioConfig` fields used.
        image_size: side of the lip crops.
        crop_scale: crop side relative to the mouth's bounding box.
        clips: every prepared clip, sorted by clip id.
    """

    root: Path
    audio: dict[str, Any]
    image_size: int
    crop_scale: float
    clips: list[ClipEntry]
    format_version: int = FORMAT_VERSION

    def shards(self, split: str) -> list[Path]:
        """Shard files of ``split`` (``train``, ``val``, ``test`` or ``all``), sorted."""
        if split != "all" and split not in SPLITS:
            raise DataError(f"unknown split '{split}' (choose from {', '.join(SPLITS)}, all)")
        names = sorted({c.shard for c in self.clips if split == "all" or c.split == split})
        return [self.root / name for name in names]

    def clips_in(self, split: str) -> list[ClipEntry]:
        return [c for c in self.clips if split == "all" or c.split == split]

    def to_json(self) -> dict[str, Any]:
        content = dataclasses.asdict(self)
        content.pop("root")
        return content

    def save(self) -> None:
        """Writes ``manifest.json`` atomically (a reader never sees half a file)."""
        with write_atomically(self.root / MANIFEST_NAME) as temporary:
            temporary.write_text(json.dumps(self.to_json(), indent=1))


def load_manifest(root: str | Path) -> Manifest:
    """Reads the manifest of a prepared folder.

    Raises:
        DataError: the folder or its manifest is missing, unreadable or lists no clips.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"prepared data folder not found: {root}")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{root} has no {MANIFEST_NAME}: run `lipmotion prepare VIDEO_DIR {root}` first")
    try:
        content = json.loads(path.read_text())
        clips = [ClipEntry(**c) for c in content.pop("clips")]
        manifest = Manifest(root=root, clips=clips, **content)
    except (ValueError, TypeError, KeyError) as error:
        raise DataError(f"{path} is not a valid manifest ({error})") from None
    if not manifest.clips:
        raise DataError(f"{root} holds no prepared clips (see {root / FAILURES_NAME})")
    return manifest
