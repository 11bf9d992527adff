"""Prepared data without TensorFlow: one ``.npz`` file and a numpy batch iterator.

Keras on JAX (the GPU machine has no TensorFlow) cannot read TFRecords, so
:func:`export_numpy` converts one split once, with TensorFlow, into a single uncompressed
``.npz`` that ``numpy.load`` reads anywhere:

=============  ====================  ===================================================
array          shape / dtype         content
=============  ====================  ===================================================
frames         (sum T, S, S, 3) u8   every clip's lip frames, clip after clip
log_mel        (sum T*m, M) f16      every clip's whole-clip log-mel (dB), clip after clip
frame_offsets  (N + 1,) int64        clip ``c`` owns frames ``[off[c], off[c+1])`` and
                                     mel frames ``[m*off[c], m*off[c+1])``
clip_ids       (N,) unicode          clip ids, in record order
speech         (sum T,) int8         per-frame speech flags (1, 0, -1 unknown)
face_found     (sum T,) int8         1 where the face was detected in the frame
audio_config   () unicode            JSON of the AudioConfig the log-mel was made with
image_size     () int64              ``S``
format_version () int64              1
=============  ====================  ===================================================

The log-mel is :class:`~lipmotion_tf.audio.log_mel.LogMelSpectrogram`'s output (the same as
the ``tf.data`` pipeline), stored in float16 (a 0.03 dB step at 60 dB, far below what the
networks resolve). Only clips with at least one window (``data.window`` frames) are kept.

A device pack (:mod:`lipmotion_tf.data.device_pack`) stores the frames JPEG-coded instead
(``frames_jpeg`` bytes and ``jpeg_offsets``, decoded when loaded), and may add
``clip_weights`` (training draws windows in proportion to their clip's weight) and
``quiet_log_mel`` (the still windows' audio, so that no audio library is needed).

:class:`NumpyWindowDataset` yields the same batch dicts as
:func:`~lipmotion_tf.data.pipeline.make_dataset`, with the same windows, identity and
mismatch rules (its random draws differ).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.data.augment_numpy import augment_windows_numpy, make_still_windows_numpy
from lipmotion_tf.data.pipeline import window_starts
from lipmotion_tf.data.still_windows import quiet_log_mel
from lipmotion_tf.errors import DataError
from lipmotion_tf.output_files import write_atomically

NUMPY_FORMAT_VERSION = 2
_ARRAYS = ("log_mel", "frame_offsets", "clip_ids", "speech", "face_found", "audio_config",
           "image_size")
_OPTIONAL = ("frames", "frames_jpeg", "jpeg_offsets", "clip_weights", "quiet_log_mel")


def export_numpy(prepared_dir: str | Path, split: str, out_path: str | Path, config) -> Path:
    """Writes ``split`` of a prepared folder to one ``.npz`` (atomically), using TensorFlow.

    Args:
        prepared_dir: folder written by ``lipmotion prepare``.
        split: ``train``, ``val``, ``test`` or ``all``.
        out_path: the ``.npz`` file to write.
        config: the :class:`~lipmotion_tf.config.ExperimentConfig` (audio front end,
            crop size, window length).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: the prepared data is missing, inconsistent with ``config`` or empty.
    """
    import dataclasses

    from lipmotion_tf.data.pipeline import clip_dataset

    out_path = Path(out_path)
    frames, log_mels, clip_ids, speech, faces, offsets = [], [], [], [], [], [0]
    for clip in clip_dataset(prepared_dir, split, config).as_numpy_iterator():
        frames.append(clip["frames"])
        log_mels.append(clip["log_mel"].astype(np.float16))
        clip_ids.append(clip["clip_id"].decode())
        speech.append(clip["speech"].astype(np.int8))
        faces.append(clip["face_found"].astype(np.int8))
        offsets.append(offsets[-1] + int(clip["num_frames"]))
    if not frames:
        raise DataError(f"split '{split}' of {prepared_dir} holds no clip with a whole window")
    arrays = {
        "frames": np.concatenate(frames),
        "log_mel": np.concatenate(log_mels),
        "frame_offsets": np.asarray(offsets, np.int64),
        "clip_ids": np.asarray(clip_ids, dtype=str),
        "speech": np.concatenate(speech),
        "face_found": np.concatenate(faces),
        "audio_config": np.asarray(json.dumps(dataclasses.asdict(config.audio))),
        "image_size": np.asarray(config.data.image_size, np.int64),
        "format_version": np.asarray(NUMPY_FORMAT_VERSION, np.int64),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with write_atomically(out_path) as temporary:
        np.savez(temporary, **arrays)
    return out_path


def _load_npz(npz_path: Path, config) -> dict[str, np.ndarray]:
    """Reads and checks an exported split."""
    import dataclasses
    import zipfile

    if not npz_path.is_file():
        raise DataError(f"numpy data file not found: {npz_path}")
    try:
        with np.load(npz_path, allow_pickle=False) as content:
            missing = [name for name in _ARRAYS if name not in content.files]
            if missing:
                raise DataError(f"{npz_path} is not an exported split (no '{missing[0]}' array)")
            arrays = {name: content[name] for name in _ARRAYS + _OPTIONAL
                      if name in content.files}
            version = int(content["format_version"]) if "format_version" in content.files else 0
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {npz_path}: {error}") from None
    if "frames" not in arrays:
        if "frames_jpeg" not in arrays or "jpeg_offsets" not in arrays:
            raise DataError(f"{npz_path} is not an exported split (no 'frames' array)")
        arrays["frames"] = decode_jpeg_frames(arrays.pop("frames_jpeg"),
                                              arrays.pop("jpeg_offsets"))
    if version != NUMPY_FORMAT_VERSION:
        raise DataError(
            f"{npz_path} has numpy format version {version}, this code reads "
            f"{NUMPY_FORMAT_VERSION}: export it again"
        )
    saved_audio = json.loads(str(arrays["audio_config"]))
    expected = dataclasses.asdict(config.audio)
    for key, value in saved_audio.items():
        if key in expected and expected[key] != value:
            raise DataError(
                f"{npz_path} was made with audio.{key}={value} but the config has {expected[key]}"
            )
    if int(arrays["image_size"]) != config.data.image_size:
        raise DataError(
            f"{npz_path} holds {int(arrays['image_size'])}-pixel crops but data.image_size is "
            f"{config.data.image_size}"
        )
    return arrays


def decode_jpeg_frames(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(N, S, S, 3)`` uint8 RGB frames from concatenated JPEG bytes and ``N + 1`` offsets."""
    import cv2

    frames = [cv2.imdecode(data[begin:end], cv2.IMREAD_COLOR)
              for begin, end in zip(offsets[:-1], offsets[1:])]
    if any(frame is None for frame in frames):
        raise DataError("a JPEG frame of the pack cannot be decoded")
    return np.stack(frames)[..., ::-1].copy()  # OpenCV decodes to BGR


class NumpyWindowDataset(keras.utils.PyDataset):
    """Batches of windows from an exported ``.npz``, in plain numpy (no TensorFlow).

    Iterating gives one epoch of batch dicts (``audio``, ``video``, ``identity``,
    ``mismatch_audio``, plus ``clip_id``, ``start``, ``speech`` and ``mismatch_clip_id`` with
    ``include_metadata``), exactly as :func:`~lipmotion_tf.data.pipeline.make_dataset`
    describes, with its training options ``data.augment`` and ``data.still_fraction``
    (:mod:`lipmotion_tf.data.augment_numpy`). It is a :class:`keras.utils.PyDataset`, so
    ``model.fit`` takes it directly
    (on any backend) and calls :meth:`on_epoch_end`, which moves to the next epoch's order.
    Batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``, so workers may fetch batches
    in any order.

    Args:
        npz_path: file written by :func:`export_numpy`.
        config: the :class:`~lipmotion_tf.config.ExperimentConfig` (window, hop, audio).
        batch_size: windows per batch (``None``: ``config.data.batch_size``).
        seed: seed of the order, identities and mismatches (``None``: ``config.seed``).
        training: shuffle, draw random identities and mismatches, drop the last partial batch.
        include_metadata: add the metadata keys.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for Keras.

    Raises:
        DataError: unreadable file, data made with other settings, or (training) fewer
            windows than one batch or fewer than two clips.
    """

    def __init__(
        self,
        npz_path: str | Path,
        config,
        batch_size: int | None = None,
        seed: int | None = None,
        training: bool = True,
        include_metadata: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.npz_path = Path(npz_path)
        self.batch_size = int(batch_size or config.data.batch_size)
        self.seed = int(config.seed if seed is None else seed)
        self.training = bool(training)
        self.include_metadata = bool(include_metadata)
        self.window = config.data.window
        self.mel_per_frame = config.audio.mel_frames_per_frame
        self.epoch = 0
        self.augment = self.training and config.data.augment
        self.still_fraction = config.data.still_fraction if self.training else 0.0

        arrays = _load_npz(self.npz_path, config)
        self._frames = arrays["frames"]
        self._log_mel = arrays["log_mel"]
        self._offsets = arrays["frame_offsets"]
        self._clip_ids = arrays["clip_ids"]
        self._speech = arrays["speech"]
        face_found = arrays["face_found"] > 0
        lengths = np.diff(self._offsets)
        # (clip index, start frame) of every window, in clip order. Training skips windows
        # holding a frame without a detected face, as the tf.data pipeline does.
        windows = [
            (clip, start)
            for clip, length in enumerate(lengths)
            for start in window_starts(int(length), self.window, config.data.hop)
            if not self.training
            or face_found[self._offsets[clip] + start: self._offsets[clip] + start + self.window].all()
        ]
        self._good_frames = [
            np.flatnonzero(face_found[begin:end]) if face_found[begin:end].any()
            else np.arange(end - begin)
            for begin, end in zip(self._offsets[:-1], self._offsets[1:])
        ]
        if not windows:
            raise DataError(f"{self.npz_path} holds no clip with a whole window")
        self._windows = np.asarray(windows, np.int64)
        self._lengths = lengths
        self._window_p = None
        if self.training and "clip_weights" in arrays:
            weights = arrays["clip_weights"].astype(np.float64)[self._windows[:, 0]]
            self._window_p = weights / weights.sum()
        self._quiet = None
        if self.still_fraction > 0:
            self._quiet = arrays.get("quiet_log_mel")
            if self._quiet is None:
                self._quiet = quiet_log_mel(config.audio, self.seed)
            self._quiet = self._quiet.astype(np.float32)
        if self.training and len(lengths) < 2:
            raise DataError(
                f"{self.npz_path} holds one clip; training needs at least 2 (the mismatched "
                "audio comes from another clip)"
            )
        if self.training and len(windows) < self.batch_size:
            raise DataError(
                f"{self.npz_path} holds {len(windows)} windows, fewer than one batch of "
                f"{self.batch_size}"
            )

    @property
    def num_windows(self) -> int:
        return len(self._windows)

    def __len__(self) -> int:
        if self.training:
            return self.num_windows // self.batch_size
        return -(-self.num_windows // self.batch_size)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def _order(self) -> np.ndarray:
        if not self.training:
            return np.arange(self.num_windows)
        rng = np.random.default_rng([self.seed, self.epoch])
        if self._window_p is not None:  # weighted sources: draw with replacement
            return rng.choice(self.num_windows, self.num_windows, p=self._window_p)
        return rng.permutation(self.num_windows)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (epoch of {len(self)} batches)")
        chosen = self._order()[index * self.batch_size : (index + 1) * self.batch_size]
        clips, starts = self._windows[chosen, 0], self._windows[chosen, 1]
        count = len(chosen)
        num_clips = len(self._lengths)
        if self.training:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            identity = np.array([
                self._good_frames[clip][rng.integers(len(self._good_frames[clip]))]
                for clip in clips
            ])
            partners = (clips + rng.integers(1, num_clips, size=count)) % num_clips
            partner_windows = self._lengths[partners] - self.window + 1
            partner_starts = rng.integers(0, partner_windows)
        else:
            identity = np.zeros(count, np.int64)
            partners = (clips + 1) % num_clips
            partner_windows = self._lengths[partners] - self.window + 1
            shift = np.where(partners == clips, np.maximum(partner_windows // 2, 1), 0)
            partner_starts = (np.minimum(starts, partner_windows - 1) + shift) % partner_windows

        first = self._offsets[clips] + starts
        frame_index = first[:, None] + np.arange(self.window)[None, :]
        batch = {
            "audio": self._mel_windows(self._offsets[clips] + starts),
            "video": _to_unit_range(self._frames[frame_index]),
            "identity": _to_unit_range(self._frames[self._offsets[clips] + identity]),
            "mismatch_audio": self._mel_windows(self._offsets[partners] + partner_starts),
        }
        if self.augment or self.still_fraction > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        if self.augment:
            batch["identity"], batch["video"] = augment_windows_numpy(
                batch["identity"], batch["video"], rng)
        if self.still_fraction > 0:
            batch["audio"], batch["video"] = make_still_windows_numpy(
                batch["audio"], batch["video"], batch["identity"], rng, self.still_fraction,
                self._quiet)
        if self.include_metadata:
            batch["clip_id"] = self._clip_ids[clips]
            batch["start"] = starts.astype(np.int32)
            batch["speech"] = self._speech[frame_index].astype(np.int32)
            batch["mismatch_clip_id"] = self._clip_ids[partners]
        return batch

    def _mel_windows(self, first_frames: np.ndarray) -> np.ndarray:
        """``(count, W*m, M)`` float32 log-mel windows starting at absolute frame indices."""
        span = self.window * self.mel_per_frame
        index = self.mel_per_frame * first_frames[:, None] + np.arange(span)[None, :]
        return self._log_mel[index].astype(np.float32)


def _to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] to float32 [-1, 1], as the tf.data pipeline."""
    return images.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
