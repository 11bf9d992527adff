"""Deterministic train/val/test assignment of clips.

A clip's split depends on its id only (the SHA-1 of the id mapped to [0, 1)), never on which
other clips exist or the order they were found in: adding clips, preparing a subset or running
on another machine leaves every clip in the same split.
"""

from __future__ import annotations

import hashlib

from lipmotion_tf.config import DataConfig


def clip_fraction(clip_id: str) -> float:
    """A uniform number in [0, 1) fixed by the clip id (first 8 bytes of its SHA-1)."""
    digest = hashlib.sha1(clip_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_split(clip_id: str, val_fraction: float, test_fraction: float) -> str:
    """``test`` for the lowest ``test_fraction`` of hashes, then ``val``, else ``train``."""
    value = clip_fraction(clip_id)
    if value < test_fraction:
        return "test"
    if value < test_fraction + val_fraction:
        return "val"
    return "train"


def split_clips(clip_ids, config: DataConfig) -> dict[str, list[str]]:
    """Groups clip ids by split (``train``, ``val``, ``test``), each list sorted."""
    groups: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for clip_id in sorted(clip_ids):
        groups[assign_split(clip_id, config.val_fraction, config.test_fraction)].append(clip_id)
    return groups
