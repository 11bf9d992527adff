"""The prepared-clip record: one ``tf.train.Example`` per clip in sharded TFRecord files.

This module is the contract between ``lipmotion prepare`` (writer) and the input pipelines
(readers). One clip holds, at 25 fps with ``T`` video frames:

==============  =======  ===================================================================
feature         type     content
==============  =======  ===================================================================
clip_id         bytes    unique id, ``<speaker>/<file stem>``
speaker         bytes    speaker (or folder) name
source          bytes    source video path relative to the prepared input folder
num_frames      int64    ``T``
image_size      int64    side ``S`` of the lip crops
frames          bytes    raw uint8 lip crops, ``T x S x S x 3`` RGB, row-major
audio           bytes    int16 little-endian mono PCM at the model rate, exactly
                         ``T * samples_per_frame`` samples (padded or trimmed)
sample_rate     int64    the model sample rate of ``audio``
boxes           float    ``T x 3`` crop squares in source pixels: centre x, centre y, side
landmarks       float    ``T x L x 2`` lip landmarks in source pixels (mediapipe lip set)
face_found      int64    ``T`` flags: 1 where a face was detected, 0 where the nearest good
                         box was used instead
speech          int64    ``T`` flags from word alignments: 1 speech, 0 silence, -1 unknown
frame_size      int64    ``[height, width]`` of the source video
==============  =======  ===================================================================

Raw frames keep decoding out of the input pipeline's critical path (``decode_raw`` is a copy);
400 GRID clips take about 460 MB.
"""

from __future__ import annotations

import dataclasses

import numpy as np

RECORD_SUFFIX = ".tfrecord"


@dataclasses.dataclass
class PreparedClip:
    """One prepared clip in memory (numpy arrays, shapes as in the module docstring)."""

    clip_id: str
    speaker: str
    source: str
    frames: np.ndarray  # (T, S, S, 3) uint8
    audio: np.ndarray  # (T * samples_per_frame,) int16
    sample_rate: int
    boxes: np.ndarray  # (T, 3) float32
    landmarks: np.ndarray  # (T, L, 2) float32
    face_found: np.ndarray  # (T,) bool
    speech: np.ndarray  # (T,) int8 in {-1, 0, 1}
    frame_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def serialize_clip(clip: PreparedClip) -> bytes:
    """Encodes a :class:`PreparedClip` as a serialized ``tf.train.Example``."""
    import tensorflow as tf

    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _ints(values) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values).ravel()))

    def _floats(values) -> tf.train.Feature:
        return tf.train.Feature(
            float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel())
        )

    frames = np.ascontiguousarray(clip.frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[1] != frames.shape[2] or frames.shape[3] != 3:
        raise ValueError(f"frames must be (T, S, S, 3), got {frames.shape}")
    feature = {
        "clip_id": _bytes(clip.clip_id.encode()),
        "speaker": _bytes(clip.speaker.encode()),
        "source": _bytes(clip.source.encode()),
        "num_frames": _ints([clip.num_frames]),
        "image_size": _ints([frames.shape[1]]),
        "frames": _bytes(frames.tobytes()),
        "audio": _bytes(np.asarray(clip.audio, dtype="<i2").tobytes()),
        "sample_rate": _ints([clip.sample_rate]),
        "boxes": _floats(clip.boxes),
        "landmarks": _floats(clip.landmarks),
        "face_found": _ints(np.asarray(clip.face_found, np.int64)),
        "speech": _ints(np.asarray(clip.speech, np.int64)),
        "frame_size": _ints(list(clip.frame_size)),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    # Deterministic map order makes shards byte-identical across processes and reruns.
    return example.SerializeToString(deterministic=True)


def feature_spec() -> dict:
    """The ``tf.io.parse_single_example`` spec of a prepared clip."""
    import tensorflow as tf

    return {
        "clip_id": tf.io.FixedLenFeature([], tf.string),
        "speaker": tf.io.FixedLenFeature([], tf.string),
        "source": tf.io.FixedLenFeature([], tf.string),
        "num_frames": tf.io.FixedLenFeature([], tf.int64),
        "image_size": tf.io.FixedLenFeature([], tf.int64),
        "frames": tf.io.FixedLenFeature([], tf.string),
        "audio": tf.io.FixedLenFeature([], tf.string),
        "sample_rate": tf.io.FixedLenFeature([], tf.int64),
        "boxes": tf.io.VarLenFeature(tf.float32),
        "landmarks": tf.io.VarLenFeature(tf.float32),
        "face_found": tf.io.VarLenFeature(tf.int64),
        "speech": tf.io.VarLenFeature(tf.int64),
        "frame_size": tf.io.FixedLenFeature([2], tf.int64),
    }


def parse_clip(serialized):
    """Parses one serialized clip into tensors (usable inside ``tf.data.Dataset.map``).

    Returns a dict with ``frames`` uint8 ``(T, S, S, 3)``, ``audio`` float32 in [-1, 1]
    ``(T * samples_per_frame,)``, ``boxes`` ``(T, 3)``, ``landmarks`` ``(T, L, 2)``,
    ``face_found`` and ``speech`` ``(T,)`` int64, and the scalar metadata.
    """
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, feature_spec())
    num_frames = tf.cast(parsed["num_frames"], tf.int32)
    size = tf.cast(parsed["image_size"], tf.int32)
    frames = tf.reshape(tf.io.decode_raw(parsed["frames"], tf.uint8), [num_frames, size, size, 3])
    audio = tf.cast(tf.io.decode_raw(parsed["audio"], tf.int16, little_endian=True), tf.float32)
    dense = {k: tf.sparse.to_dense(parsed[k]) for k in ("boxes", "landmarks", "face_found", "speech")}
    return {
        "clip_id": parsed["clip_id"],
        "speaker": parsed["speaker"],
        "source": parsed["source"],
        "num_frames": num_frames,
        "sample_rate": tf.cast(parsed["sample_rate"], tf.int32),
        "frames": frames,
        "audio": audio / 32768.0,
        "boxes": tf.reshape(dense["boxes"], [num_frames, 3]),
        "landmarks": tf.reshape(dense["landmarks"], [num_frames, -1, 2]),
        "face_found": dense["face_found"],
        "speech": dense["speech"],
        "frame_size": parsed["frame_size"],
    }


def clip_from_parsed(parsed: dict) -> PreparedClip:
    """A :class:`PreparedClip` from the numpy values of :func:`parse_clip`'s tensors."""
    return PreparedClip(
        clip_id=parsed["clip_id"].decode(),
        speaker=parsed["speaker"].decode(),
        source=parsed["source"].decode(),
        frames=parsed["frames"],
        audio=np.round(parsed["audio"] * 32768.0).astype(np.int16),
        sample_rate=int(parsed["sample_rate"]),
        boxes=parsed["boxes"],
        landmarks=parsed["landmarks"],
        face_found=parsed["face_found"].astype(bool),
        speech=parsed["speech"].astype(np.int8),
        frame_size=(int(parsed["frame_size"][0]), int(parsed["frame_size"][1])),
    )


def read_clips_numpy(paths) -> "list[PreparedClip]":
    """Reads prepared clips into :class:`PreparedClip` objects (eager TensorFlow)."""
    import tensorflow as tf

    return [
        clip_from_parsed({k: v.numpy() for k, v in parse_clip(record).items()})
        for record in tf.data.TFRecordDataset([str(p) for p in paths])
    ]
