"""Input pipelines: tf.data windows from prepared records, and the numpy export."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from lipmotion_tf.config import load_config
from lipmotion_tf.data import records
from lipmotion_tf.data.manifest import ClipEntry, Manifest
from lipmotion_tf.errors import DataError

SIZE = 16
# Clip lengths in frames: windows of 16 every 8 frames give 4, 2, 1, 3, 1 and none (10 < 16).
LENGTHS = (40, 24, 16, 33, 20, 10)
NUM_WINDOWS = 11


def _config(**overrides):
    items = {"data.image_size": SIZE, "data.batch_size": 4, "data.shuffle_buffer": 64, **overrides}
    return load_config(overrides=[f"{key}={value}" for key, value in items.items()])


def _frames(clip: int, length: int) -> np.ndarray:
    """Frames that say where they come from: red = 20 * (clip + 1), green = 5 * frame."""
    frames = np.random.default_rng(clip).integers(0, 256, (length, SIZE, SIZE, 3), dtype=np.uint8)
    frames[..., 0] = 20 * (clip + 1)
    frames[..., 1] = (5 * np.arange(length, dtype=np.uint8))[:, None, None]
    return frames


def _audio(clip: int, length: int, samples_per_frame: int, rate: int) -> np.ndarray:
    """A different tone per clip with a little noise, as int16 PCM."""
    t = np.arange(length * samples_per_frame) / rate
    noise = 0.01 * np.random.default_rng(100 + clip).standard_normal(t.size)
    signal = 0.3 * np.sin(2 * np.pi * (300 + 150 * clip) * t) + noise
    return np.round(signal * 32767).astype(np.int16)


def write_prepared(root, lengths=LENGTHS, config=None, split="train", shard_count=2,
                   faceless=None) -> None:
    """A prepared folder in the format ``lipmotion prepare`` writes (manifest + shards)."""
    import tensorflow as tf

    config = config or _config()
    (root / "shards").mkdir(parents=True, exist_ok=True)
    entries = []
    writers = [tf.io.TFRecordWriter(str(root / f"shards/{split}-{i:05d}.tfrecord"))
               for i in range(shard_count)]
    for clip, length in enumerate(lengths):
        shard_index = clip * shard_count // len(lengths)  # clips stay in order across shards
        prepared = records.PreparedClip(
            clip_id=f"spk/clip{clip}",
            speaker="spk",
            source=f"spk/clip{clip}.mpg",
            frames=_frames(clip, length),
            audio=_audio(clip, length, config.audio.samples_per_frame, config.audio.sample_rate),
            sample_rate=config.audio.sample_rate,
            boxes=np.zeros((length, 3), np.float32),
            landmarks=np.zeros((length, 40, 2), np.float32),
            face_found=~np.isin(np.arange(length), (faceless or {}).get(clip, [])),
            speech=(np.arange(length) % 3 - 1).astype(np.int8),
            frame_size=(288, 360),
        )
        writers[shard_index].write(records.serialize_clip(prepared))
        entries.append(ClipEntry(prepared.clip_id, "spk", prepared.source, split,
                                 f"shards/{split}-{shard_index:05d}.tfrecord", length, length))
    for writer in writers:
        writer.close()
    Manifest(root, dataclasses.asdict(config.audio), SIZE, 1.3, entries).save()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    write_prepared(root)
    return root


@pytest.fixture(scope="module")
def clip_log_mels():
    """Each clip's whole-clip log-mel computed directly by the layer."""
    from lipmotion_tf.audio.log_mel import LogMelSpectrogram

    config = _config()
    layer = LogMelSpectrogram.from_audio_config(config.audio)
    spf, rate = config.audio.samples_per_frame, config.audio.sample_rate
    return {
        f"spk/clip{clip}": np.asarray(layer(_audio(clip, length, spf, rate) / 32768.0))
        for clip, length in enumerate(LENGTHS)
    }


def _batches(dataset) -> list[dict]:
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


def _concat(batches: list[dict]) -> dict:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def _decode(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(clip, frame) indices from frames in [-1, 1] made by :func:`_frames`."""
    pixels = np.round((images[..., 0, 0, :] + 1.0) * 127.5).astype(int)
    return pixels[..., 0] // 20 - 1, pixels[..., 1] // 5


# --- tf.data ------------------------------------------------------------------------------


def test_training_batches_shapes_dtypes_and_ranges(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    dataset = make_dataset(prepared, "train", _config(), training=True, seed=3)
    spec = dataset.element_spec
    assert set(spec) == {"audio", "video", "identity", "mismatch_audio"}
    assert spec["video"].shape == (4, 16, SIZE, SIZE, 3)
    assert spec["audio"].shape == spec["mismatch_audio"].shape == (4, 64, 128)
    batches = _batches(dataset)
    assert len(batches) == NUM_WINDOWS // 4  # the partial batch is dropped
    for batch in batches:
        assert all(v.dtype == np.float32 for v in batch.values())
        assert batch["identity"].shape == (4, SIZE, SIZE, 3)
        for key in ("video", "identity"):
            assert -1.0 <= batch[key].min() and batch[key].max() <= 1.0
        for key in ("audio", "mismatch_audio"):
            assert np.isfinite(batch[key]).all()
            assert -100.0 <= batch[key].min() and batch[key].max() < 60.0


def test_eval_windows_in_order_with_exact_content(prepared, clip_log_mels):
    from lipmotion_tf.data.pipeline import count_windows, make_dataset

    config = _config()
    dataset = make_dataset(prepared, "train", config, training=False, include_metadata=True)
    data = _concat(_batches(dataset))
    assert count_windows(prepared, "train", config) == NUM_WINDOWS
    assert len(data["start"]) == NUM_WINDOWS  # the last partial batch is kept
    expected = [(f"spk/clip{c}", s) for c, n in enumerate(LENGTHS) for s in range(0, n - 15, 8)]
    assert [(i.decode(), s) for i, s in zip(data["clip_id"], data["start"])] == expected
    for index, (clip_id, start) in enumerate(expected):
        clip = int(clip_id[-1])
        clips, frames = _decode(data["video"][index])
        assert (clips == clip).all()
        np.testing.assert_array_equal(frames, start + np.arange(16))
        np.testing.assert_array_equal(_decode(data["identity"][index])[1], 0)  # first frame
        np.testing.assert_allclose(
            data["audio"][index], clip_log_mels[clip_id][4 * start: 4 * start + 64], atol=1e-4
        )
        np.testing.assert_array_equal(data["speech"][index], (start + np.arange(16)) % 3 - 1)
        # Evaluation mismatch: the same position in the next clip.
        partner = data["mismatch_clip_id"][index].decode()
        assert partner == f"spk/clip{(clip + 1) % 5}"
        partner_start = min(start, LENGTHS[int(partner[-1])] - 16)
        np.testing.assert_allclose(
            data["mismatch_audio"][index],
            clip_log_mels[partner][4 * partner_start: 4 * partner_start + 64], atol=1e-4,
        )


def test_audio_matches_librosa_reference(prepared):
    from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy
    from lipmotion_tf.data.pipeline import make_dataset

    config = _config()
    batch = next(iter(make_dataset(prepared, "train", config, training=False)))
    reference = log_mel_numpy(_audio(0, LENGTHS[0], 1764, 44100) / 32768.0, config.audio)
    np.testing.assert_allclose(batch["audio"].numpy()[1], reference[8 * 4: 8 * 4 + 64], atol=2e-3)


def test_training_identity_and_mismatch_rules(prepared, clip_log_mels):
    from lipmotion_tf.data.pipeline import make_dataset

    dataset = make_dataset(prepared, "train", _config(), training=True, seed=5,
                           include_metadata=True)
    identity_frames = set()
    for _ in range(3):  # epochs
        data = _concat(_batches(dataset))
        clips = np.array([int(i.decode()[-1]) for i in data["clip_id"]])
        identity_clip, identity_frame = _decode(data["identity"])
        np.testing.assert_array_equal(identity_clip, clips)  # a frame of the same clip
        assert (identity_frame < np.array(LENGTHS)[clips]).all()
        identity_frames.update(identity_frame.tolist())
        for index, partner in enumerate(data["mismatch_clip_id"]):
            partner = partner.decode()
            assert partner != data["clip_id"][index].decode()
            partner_mel = clip_log_mels[partner]
            starts = range(LENGTHS[int(partner[-1])] - 15)
            windows = [partner_mel[4 * s: 4 * s + 64] for s in starts]
            errors = [np.abs(w - data["mismatch_audio"][index]).max() for w in windows]
            assert min(errors) < 1e-4  # a frame-aligned window of the named clip
    assert len(identity_frames) > 3  # identities are drawn, not fixed


def test_same_seed_same_batches(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    config = _config()

    def two_epochs(seed):
        dataset = make_dataset(prepared, "train", config, training=True, seed=seed)
        return [_batches(dataset) for _ in range(2)]

    first, second, other = two_epochs(11), two_epochs(11), two_epochs(12)
    for epoch_a, epoch_b in zip(first, second):
        for batch_a, batch_b in zip(epoch_a, epoch_b):
            for key in batch_a:
                np.testing.assert_array_equal(batch_a[key], batch_b[key])
    assert any(not np.array_equal(a["video"], b["video"]) for a, b in zip(first[0], first[1]))
    assert any(not np.array_equal(a["video"], b["video"]) for a, b in zip(first[0], other[0]))


def test_seed_defaults_to_config_seed(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    config = _config(seed=21)
    implicit = _batches(make_dataset(prepared, "train", config, training=True))
    explicit = _batches(make_dataset(prepared, "train", config, training=True, seed=21))
    np.testing.assert_array_equal(implicit[0]["video"], explicit[0]["video"])


def test_uncached_pipeline_gives_the_same_eval_windows(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    cached = _concat(_batches(make_dataset(prepared, "train", _config(), training=False)))
    uncached = _concat(_batches(
        make_dataset(prepared, "train", _config(**{"data.cache": False}), training=False)))
    for key in cached:
        np.testing.assert_array_equal(cached[key], uncached[key])
    assert len(_batches(make_dataset(prepared, "train", _config(**{"data.cache": False}),
                                     training=True))) == NUM_WINDOWS // 4


def test_single_clip_eval_mismatch_uses_another_window(tmp_path):
    from lipmotion_tf.data.pipeline import make_dataset

    write_prepared(tmp_path, lengths=(40,), shard_count=1)
    data = _concat(_batches(make_dataset(tmp_path, "train", _config(), training=False,
                                         include_metadata=True)))
    assert len(data["start"]) == 4
    for index in range(4):
        assert not np.allclose(data["audio"][index], data["mismatch_audio"][index])
    with pytest.raises(DataError, match="at least 2"):
        make_dataset(tmp_path, "train", _config(), training=True)


def test_missing_data_errors(tmp_path):
    from lipmotion_tf.data.pipeline import make_dataset

    with pytest.raises(DataError, match="not found"):
        make_dataset(tmp_path / "absent", "train", _config(), training=True)
    with pytest.raises(DataError, match="manifest.json"):
        make_dataset(tmp_path, "train", _config(), training=True)


def test_empty_split_and_unknown_split(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    with pytest.raises(DataError, match="'val'.*no clips"):
        make_dataset(prepared, "val", _config(), training=False)
    with pytest.raises(DataError, match="unknown split"):
        make_dataset(prepared, "dev", _config(), training=False)


def test_settings_mismatch_errors(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    with pytest.raises(DataError, match="16-pixel crops.*image_size is 32"):
        make_dataset(prepared, "train", _config(**{"data.image_size": 32}), training=True)
    with pytest.raises(DataError, match="audio.sample_rate=44100"):
        make_dataset(prepared, "train", _config(**{"audio.sample_rate": 16000,
                                                   "audio.hop_length": 160,
                                                   "audio.fmax": 8000}), training=True)


def test_short_clips_and_small_splits_are_data_errors(tmp_path):
    from lipmotion_tf.data.pipeline import make_dataset

    write_prepared(tmp_path / "short", lengths=(10, 12), shard_count=1)
    with pytest.raises(DataError, match="16 frames of one window"):
        make_dataset(tmp_path / "short", "train", _config(), training=False)
    write_prepared(tmp_path / "small", lengths=(16, 20), shard_count=1)
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(tmp_path / "small", "train", _config(), training=True)


def test_missing_shard_is_data_error(tmp_path):
    from lipmotion_tf.data.pipeline import make_dataset

    write_prepared(tmp_path, shard_count=2)
    (tmp_path / "shards" / "train-00001.tfrecord").unlink()
    with pytest.raises(DataError, match="missing.*train-00001"):
        make_dataset(tmp_path, "train", _config(), training=True)


# --- numpy export -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(prepared, tmp_path_factory):
    from lipmotion_tf.data.numpy_data import export_numpy

    path = tmp_path_factory.mktemp("numpy") / "train.npz"
    assert export_numpy(prepared, "train", path, _config()) == path
    return path


def test_export_numpy_layout(exported):
    assert not list(exported.parent.glob("*.partial*"))
    with np.load(exported, allow_pickle=False) as content:
        assert content["frames"].dtype == np.uint8
        assert content["frames"].shape == (sum(LENGTHS[:5]), SIZE, SIZE, 3)
        assert content["log_mel"].dtype == np.float16
        assert content["log_mel"].shape == (4 * sum(LENGTHS[:5]), 128)
        assert list(content["clip_ids"]) == [f"spk/clip{c}" for c in range(5)]
        np.testing.assert_array_equal(content["frame_offsets"], np.cumsum((0,) + LENGTHS[:5]))
        assert json.loads(str(content["audio_config"]))["sample_rate"] == 44100


def test_numpy_windows_equal_tf_windows(prepared, exported):
    from lipmotion_tf.data.numpy_data import NumpyWindowDataset
    from lipmotion_tf.data.pipeline import make_dataset

    config = _config()
    tf_data = _concat(_batches(make_dataset(prepared, "train", config, training=False,
                                            include_metadata=True)))
    numpy_dataset = NumpyWindowDataset(exported, config, batch_size=4, training=False,
                                       include_metadata=True)
    assert len(numpy_dataset) == 3
    np_data = _concat(list(numpy_dataset))
    for key in ("clip_id", "mismatch_clip_id"):
        np.testing.assert_array_equal(np_data[key], [i.decode() for i in tf_data[key]])
    for key in ("start", "speech"):
        np.testing.assert_array_equal(np_data[key], tf_data[key])
    for key in ("video", "identity"):  # evaluation identities are not random
        np.testing.assert_allclose(np_data[key], tf_data[key], atol=1e-6)
    for key in ("audio", "mismatch_audio"):  # float16 storage: within half a float16 step
        np.testing.assert_allclose(np_data[key], tf_data[key], atol=0.04)
        assert np_data[key].dtype == np.float32


def test_numpy_training_batches(exported):
    import keras

    from lipmotion_tf.data.numpy_data import NumpyWindowDataset

    config = _config()
    dataset = NumpyWindowDataset(exported, config, seed=2, training=True, include_metadata=True)
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == NUM_WINDOWS // 4
    epoch0 = list(dataset)
    assert len(epoch0) == len(dataset)
    batch = epoch0[0]
    assert batch["video"].shape == (4, 16, SIZE, SIZE, 3)
    assert batch["audio"].shape == batch["mismatch_audio"].shape == (4, 64, 128)
    data = _concat(epoch0)
    clips = np.array([int(i[-1]) for i in data["clip_id"]])
    np.testing.assert_array_equal(_decode(data["identity"])[0], clips)
    assert (data["mismatch_clip_id"] != data["clip_id"]).all()
    video_clips, video_frames = _decode(data["video"])
    assert (video_clips == clips[:, None]).all()
    np.testing.assert_array_equal(video_frames, data["start"][:, None] + np.arange(16))

    again = NumpyWindowDataset(exported, config, seed=2, training=True)
    for key in ("video", "identity", "audio", "mismatch_audio"):
        np.testing.assert_array_equal(again[1][key], epoch0[1][key])
    dataset.on_epoch_end()
    assert not np.array_equal(
        np.concatenate([b["start"] for b in dataset]), data["start"]
    ) or not np.array_equal(np.concatenate([b["clip_id"] for b in dataset]), data["clip_id"])
    with pytest.raises(IndexError):
        dataset[len(dataset)]


def test_numpy_dataset_errors(exported, tmp_path):
    from lipmotion_tf.data.numpy_data import NumpyWindowDataset

    with pytest.raises(DataError, match="not found"):
        NumpyWindowDataset(tmp_path / "absent.npz", _config())
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="broken.npz"):
        NumpyWindowDataset(broken, _config())
    with pytest.raises(DataError, match="image_size"):
        NumpyWindowDataset(exported, _config(**{"data.image_size": 32}))
    with pytest.raises(DataError, match="fewer than one batch"):
        NumpyWindowDataset(exported, _config(), batch_size=64, training=True)


def test_numpy_data_imports_without_tensorflow():
    code = (
        "import sys; import lipmotion_tf.data.numpy_data; "
        "sys.exit(int('tensorflow' in sys.modules))"
    )
    env = {"KERAS_BACKEND": "jax", "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_training_windows_skip_frames_without_a_face(tmp_path):
    from lipmotion_tf.data.numpy_data import NumpyWindowDataset, export_numpy
    from lipmotion_tf.data.pipeline import make_dataset

    config = _config(**{"data.batch_size": 1})  # nothing dropped by drop_remainder
    # Clip 0 (40 frames: windows at 0, 8, 16, 24) lost its face on frame 20.
    write_prepared(tmp_path, faceless={0: [20]})
    seen = set()
    for batch in make_dataset(tmp_path, "train", config, training=True, include_metadata=True):
        seen.update(zip(batch["clip_id"].numpy().astype(str), batch["start"].numpy()))
    assert ("spk/clip0", 0) in seen
    assert not {("spk/clip0", 8), ("spk/clip0", 16)} & seen

    npz = export_numpy(tmp_path, "train", tmp_path / "train.npz", config)
    data = NumpyWindowDataset(npz, config, batch_size=1, include_metadata=True)
    starts = {(b["clip_id"][0], int(b["start"][0])) for b in (data[i] for i in range(len(data)))}
    assert ("spk/clip0", 0) in starts
    assert not {("spk/clip0", 8), ("spk/clip0", 16)} & starts


# --- appearance augmentation ----------------------------------------------------------------


def test_augmentation_changes_identity_and_frames_alike():
    import tensorflow as tf

    from lipmotion_tf.data.augment import AugmentSettings, augment_windows

    rng = np.random.default_rng(0)
    still = rng.uniform(-0.8, 0.8, (16, 1, 32, 32, 3)).astype(np.float32)
    video = np.repeat(still, 4, axis=1)  # every frame equals the identity image
    identity = still[:, 0]
    seed = tf.constant(7, tf.int64)
    new_identity, new_video = (t.numpy() for t in augment_windows(identity, video, seed))
    # One transform per window: the identity and its frames change in exactly the same way.
    np.testing.assert_allclose(new_video, np.repeat(new_identity[:, None], 4, axis=1), atol=1e-6)
    assert new_identity.min() >= -1.0 and new_identity.max() <= 1.0
    changed = np.abs(new_identity - identity).max(axis=(1, 2, 3)) > 1e-3
    assert 0 < changed.sum() < 16  # some windows changed, some kept (probability 0.8)
    # Same seed, same transforms; another seed, others.
    again = augment_windows(identity, video, seed)[0].numpy()
    np.testing.assert_array_equal(again, new_identity)
    other = augment_windows(identity, video, tf.constant(8, tf.int64))[0].numpy()
    assert np.abs(other - new_identity).max() > 1e-2
    # Nothing happens with probability 0.
    none = AugmentSettings(probability=0.0)
    np.testing.assert_array_equal(augment_windows(identity, video, seed, none)[0].numpy(),
                                  identity)


def test_augmented_training_batches_keep_audio_and_ranges(prepared):
    from lipmotion_tf.data.pipeline import make_dataset

    plain = _batches(make_dataset(prepared, "train", _config(), training=True, seed=3))
    augmented = _batches(make_dataset(prepared, "train", _config(**{"data.augment": "true"}),
                                      training=True, seed=3))
    assert any(np.abs(a["video"] - p["video"]).max() > 1e-3 for a, p in zip(augmented, plain))
    for a, p in zip(augmented, plain):
        np.testing.assert_array_equal(a["audio"], p["audio"])
        assert -1.0 <= a["video"].min() and a["video"].max() <= 1.0
