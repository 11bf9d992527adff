"""Where training batches come from: one data source class per backend.

Both give ``fit`` what it needs the same way (:meth:`train`, :meth:`validation`,
:meth:`sample`, ``steps_per_epoch``, ``validation_steps``, ``seed_offset``) and check the
data before any network is built:

* :class:`TFBatches` (TensorFlow): ``tf.data`` from prepared TFRecords, extra folders mixed
  in (:func:`~lipmotion_tf.data.pipeline.make_dataset`);
* :class:`NumpyBatches` (JAX, no TensorFlow needed): ``DATA/<split>.npz`` (a device pack or
  a numpy export, :mod:`lipmotion_tf.data.numpy_data`), or exported once into
  ``OUTPUT/numpy`` where TensorFlow is installed;
* :class:`JointBatches` (the joint stage, ``model.generator: motion``): the windows of
  ``lipmotion prepare-joint``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras

from lipmotion_tf.config import ExperimentConfig
from lipmotion_tf.data.manifest import load_manifest
from lipmotion_tf.data.numpy_data import NumpyWindowDataset, export_numpy
from lipmotion_tf.data.pipeline import check_manifest, count_windows, make_dataset
from lipmotion_tf.errors import ConfigError, DataError
from lipmotion_tf.train.autoencoder_stage import video_targets
from lipmotion_tf.train.flow_stage import add_flow_targets, flow_pairs_and_targets


def make_batches(config: ExperimentConfig, data_dir: Path, output_dir: Path, backend: str,
                 extra_dirs: Sequence[Path] = ()):
    """The data source of ``backend`` (``tensorflow`` or ``jax``), checked.

    Raises:
        ConfigError: extra folders under JAX.
        DataError: missing, empty or inconsistent data, or fewer windows than one batch.
    """
    if config.model.generator == "motion":
        if backend != "tensorflow" or extra_dirs:
            raise ConfigError("the joint stage (model.generator: motion) trains under "
                              "TensorFlow on one folder of `lipmotion prepare-joint` windows")
        return JointBatches(config, data_dir)
    if backend == "tensorflow":
        return TFBatches(config, data_dir, extra_dirs)
    if extra_dirs:
        raise ConfigError("extra training data folders need the TensorFlow backend; under "
                          "JAX, mix them into one device pack (`lipmotion pack`)")
    return NumpyBatches(config, data_dir, output_dir)


def _steps(config: ExperimentConfig, data_dir: Path, windows: int) -> int:
    batch_size = config.data.batch_size
    if windows < batch_size:
        raise DataError(f"{data_dir} holds {windows} training windows, fewer than one batch of "
                        f"{batch_size}")
    return config.train.steps_per_epoch or windows // batch_size


class TFBatches:
    """``tf.data`` batches from prepared folders."""

    def __init__(self, config: ExperimentConfig, data_dir: Path, extra_dirs: Sequence[Path] = ()):
        self.config = config
        self.data_dir = Path(data_dir)
        self.extra_dirs = [Path(d) for d in extra_dirs]
        self.seed_offset = 0
        manifest = load_manifest(self.data_dir)
        check_manifest(manifest, "train", config)
        windows = count_windows(self.data_dir, "train", config)
        for extra in self.extra_dirs:
            if not extra.is_dir():
                raise DataError(f"data folder not found: {extra}")
            windows += count_windows(extra, "all", config)  # checks the folder too
        self._has_val = any(c.num_frames >= config.data.window for c in manifest.clips_in("val"))
        # Building the dataset checks the rest (two clips at least, shards present).
        self._train_dataset()
        self.steps_per_epoch = _steps(config, self.data_dir, windows)
        self.validation_steps = config.train.validation_steps or None

    def _train_dataset(self):
        return make_dataset(self.data_dir, "train", self.config, training=True,
                            seed=self.config.seed + self.seed_offset, extra_dirs=self.extra_dirs)

    def train(self, transform: str | None = None):
        """Repeating training data for ``fit`` (``transform``: ``flow`` or ``video``)."""
        return _tf_transform(self._train_dataset().repeat(), transform)

    def validation(self, transform: str | None = None):
        """Validation data, or ``None`` when the data has no validation split."""
        if not self._has_val:
            return None
        return _tf_transform(make_dataset(self.data_dir, "val", self.config, training=False),
                             transform)

    def sample(self) -> dict:
        """One batch as numpy arrays, from the validation split when there is one (for
        previews: the same clips every time)."""
        if self._has_val:
            dataset = make_dataset(self.data_dir, "val", self.config, training=False)
        else:
            dataset = self._train_dataset()
        batch = next(iter(dataset.take(1)))
        return {k: v.numpy() for k, v in batch.items()}


class _PyDatasetBatches:
    """``fit``'s data from two numpy batch sources, ``_train`` and ``_val`` (None: no
    validation split), cycled by :class:`_MappedBatches` with ``workers`` threads."""

    workers = 1

    def train(self, transform: str | None = None):
        """Training data for ``fit``: ``steps_per_epoch`` batches an epoch, cycling."""
        self._train.seed = self.config.seed + self.seed_offset
        return _MappedBatches(self._train, _numpy_transform(transform), self.steps_per_epoch,
                              workers=self.workers)

    def validation(self, transform: str | None = None):
        """Validation data, or ``None`` when the data has no validation split."""
        if self._val is None:
            return None
        return _MappedBatches(self._val, _numpy_transform(transform), len(self._val))

    def sample(self) -> dict:
        """One batch, from the validation split when there is one."""
        return (self._val if self._val is not None else self._train)[0]


class NumpyBatches(_PyDatasetBatches):
    """Numpy batches from ``.npz`` splits, fed to ``fit`` by worker threads."""

    def __init__(self, config: ExperimentConfig, data_dir: Path, output_dir: Path):
        self.config = config
        self.data_dir = Path(data_dir)
        self.output_dir = Path(output_dir)
        self.seed_offset = 0
        batch_size = config.data.batch_size
        self._train = NumpyWindowDataset(self._npz("train"), config, batch_size, config.seed,
                                         training=True)
        val_path = self._npz("val", required=False)
        self._val = (NumpyWindowDataset(val_path, config, batch_size, config.seed, training=False)
                     if val_path is not None else None)
        self.steps_per_epoch = _steps(config, self.data_dir, self._train.num_windows)
        self.validation_steps = config.train.validation_steps or None
        # Augmentation costs milliseconds a window in numpy: threads keep a GPU fed.
        self.workers = max(1, min(8, (os.cpu_count() or 2) // 2))

    def _npz(self, split: str, required: bool = True) -> Path | None:
        for candidate in (self.data_dir / f"{split}.npz", self.data_dir / "numpy" / f"{split}.npz"):
            if candidate.is_file():
                return candidate
        exported = self.output_dir / "numpy" / f"{split}.npz"
        if exported.is_file():
            return exported
        if importlib.util.find_spec("tensorflow") is None:
            if required:
                raise DataError(
                    f"no {split}.npz in {self.data_dir} and TensorFlow is not installed to "
                    "export it: run `lipmotion pack` where it is"
                )
            return None
        manifest = load_manifest(self.data_dir)
        if not required and not any(
            c.num_frames >= self.config.data.window for c in manifest.clips_in(split)
        ):
            return None
        return export_numpy(self.data_dir, split, exported, self.config)



class JointBatches(_PyDatasetBatches):
    """The joint stage's windows: ``DATA/train.npz`` and ``DATA/val.npz`` written by
    ``lipmotion prepare-joint`` (:class:`~lipmotion_tf.motion.joint_data.JointWindows`)."""

    def __init__(self, config: ExperimentConfig, data_dir: Path):
        from lipmotion_tf.motion.joint_data import JointWindows

        self.config = config
        self.seed_offset = 0
        data_dir = Path(data_dir)
        settings = dict(batch_size=config.data.batch_size, seed=config.seed,
                        window=config.data.window, image_size=config.data.image_size)
        self._train = JointWindows(data_dir / "train.npz", training=True, **settings)
        side = self._train.arrays["crop"].shape[1]
        if side != config.model.motion_crop:
            raise DataError(f"{data_dir / 'train.npz'} holds {side}-pixel crops; the "
                            f"configuration asks for {config.model.motion_crop} (model.motion_crop)")
        self._val = None
        val = data_dir / "val.npz"
        if val.is_file():
            with contextlib.suppress(DataError):  # fewer windows than a batch: no validation
                self._val = JointWindows(val, training=False, **settings)
        self.steps_per_epoch = config.train.steps_per_epoch or len(self._train)
        self.validation_steps = config.train.validation_steps or None


def _numpy_transform(kind: str | None) -> Callable:
    if kind == "flow":
        return flow_pairs_and_targets
    if kind == "video":
        return lambda batch: (batch["video"], batch["video"])
    return lambda batch: batch


def _tf_transform(dataset, kind: str | None):
    if kind == "flow":
        return add_flow_targets(dataset)
    if kind == "video":
        return video_targets(dataset)
    return dataset


class _MappedBatches(keras.utils.PyDataset):
    """A numpy batch source mapped by ``fn`` and cycled to ``length`` batches per epoch."""

    def __init__(self, source, fn: Callable, length: int, workers: int = 1):
        super().__init__(workers=workers)
        self.source, self.fn, self.length = source, fn, int(length)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return self.fn(self.source[index % len(self.source)])

    def on_epoch_end(self):
        self.source.on_epoch_end()
