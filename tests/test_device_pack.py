"""The GPU-machine training pack: the pack, the numpy augmentation, split weights, and a CPU
rehearsal of ``training/device_train.sh`` in a process where TensorFlow cannot be imported
and Keras comes from the wheel set (``training/fetch_device_wheels.sh``, run by ``make
install``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = REPO_ROOT / "training" / "tiny.yaml"
WHEELS = REPO_ROOT / ".whl"


def _config(*overrides):
    from lipmotion_tf.config import load_config

    return load_config(TINY, list(overrides))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from lipmotion_tf.testing import write_prepared

    main = write_prepared(tmp_path_factory.mktemp("main"),
                          splits=(("train", 4), ("val", 2)), frames=40)
    other = write_prepared(tmp_path_factory.mktemp("other"), splits=(("train", 1), ("val", 1)),
                           frames=24, seed=1)
    return main, other


@pytest.fixture(scope="module")
def pack(sources, tmp_path_factory):
    from lipmotion_tf.data.device_pack import write_device_pack

    out = tmp_path_factory.mktemp("pack")
    config = _config("data.source_weights=0.5,0.5")
    summary = write_device_pack(sources, out, config, val_clips=1)
    return out, summary


def test_pack_holds_every_clip_jpeg_coded_with_source_weights(pack):
    from lipmotion_tf.data.numpy_data import NumpyWindowDataset

    out, summary = pack
    assert summary["train_clips"] == [4, 2] and summary["val_clips"] == 1
    assert (out / "pack.json").is_file() and summary["mib"] < 2
    with np.load(out / "train.npz") as content:
        assert "frames" not in content.files and "frames_jpeg" in content.files
        weights, offsets = content["clip_weights"], content["frame_offsets"]
    # The other folder's 2 clips of 24 frames (2 windows each) come first, then the 4 main
    # clips of 40 (4 windows each): half the windows are drawn from each folder.
    assert np.diff(offsets).tolist() == [24, 24, 40, 40, 40, 40]
    windows = np.array([2, 2, 4, 4, 4, 4])
    drawn = weights * windows
    assert drawn[:2].sum() / drawn.sum() == pytest.approx(0.5)

    data = NumpyWindowDataset(out / "train.npz", _config(), batch_size=2)
    batch = data[0]
    assert batch["video"].shape == (2, 16, 64, 64, 3)
    assert batch["video"].min() >= -1 and batch["video"].max() <= 1


def test_pack_frames_survive_jpeg_coding(sources, pack):
    from lipmotion_tf.data.numpy_data import _load_npz
    from lipmotion_tf.data.pipeline import clip_dataset

    out, _ = pack
    decoded = _load_npz(out / "train.npz", _config())["frames"]
    original = next(iter(clip_dataset(sources[1], "all", _config()).as_numpy_iterator()))
    real = original["frames"].astype(float)
    error = np.abs(decoded[:24] - real).mean()
    swapped = np.abs(decoded[:24, ..., ::-1] - real).mean()
    # Random 8x8 colour blocks are JPEG's worst case (chroma is subsampled); real lip crops
    # come back at about 42 dB PSNR at the default quality.
    assert error < 12 and swapped > 3 * error


def test_pack_refuses_a_limit_without_room_and_a_missing_folder(sources, tmp_path):
    from lipmotion_tf.data.device_pack import write_device_pack
    from lipmotion_tf.errors import DataError

    with pytest.raises(DataError, match="fewer than two training clips"):
        write_device_pack(sources[:1], tmp_path / "small", _config(), max_mib=0.3)
    with pytest.raises(DataError, match="data folder not found"):
        write_device_pack([tmp_path / "nowhere"], tmp_path / "p", _config())


def test_numpy_flip_matches_a_mirror_and_still_windows_hold_the_identity():
    from lipmotion_tf.data.augment import AugmentSettings
    from lipmotion_tf.data.augment_numpy import augment_windows_numpy, make_still_windows_numpy

    rng = np.random.default_rng(0)
    identity = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    video = rng.uniform(-1, 1, (3, 4, 16, 16, 3)).astype(np.float32)
    flip_only = AugmentSettings(probability=1.0, permute=0.0, hue=0.0, grey=0.0, contrast=0.0,
                                brightness=0.0, gamma=0.0, flip=1.0, zoom=0.0, shift=0.0)
    new_identity, new_video = augment_windows_numpy(identity, video, rng, flip_only)
    np.testing.assert_allclose(new_identity, identity[:, :, ::-1], atol=1e-5)
    np.testing.assert_allclose(new_video, video[:, :, :, ::-1], atol=1e-5)

    audio = rng.normal(-30, 10, (3, 8, 5)).astype(np.float32)
    quiet = np.full((20, 5), -80.0, np.float32)
    still_audio, still_video = make_still_windows_numpy(audio, video, identity, rng, 0.999,
                                                        quiet)
    assert (still_audio == -80).all()
    np.testing.assert_array_equal(still_video, np.repeat(identity[:, None], 4, axis=1))


def test_generator_weights_split_into_parts_load_back(tmp_path):
    from lipmotion_tf.generate.checkpoint import load_generator, save_generator_npz
    from lipmotion_tf.models.factory import build_generator

    config = _config()
    generator = build_generator(config)
    parts = save_generator_npz(generator, config, tmp_path, dtype="float32", max_part_mib=0.05)
    assert len(parts) > 2 and all(p.stat().st_size < 0.2 * (1 << 20) for p in parts)
    loaded, _ = load_generator(tmp_path)
    for a, b in zip(generator.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Saving again in one file removes the parts of the earlier split.
    assert len(save_generator_npz(generator, config, tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["generator_weights.npz"]


@pytest.mark.slow  # trains on Keras-on-JAX in a fresh process: about 4 CPU-minutes
def test_device_training_rehearsal_without_tensorflow(pack, tmp_path):
    """training/device_train.sh on CPU: TensorFlow, librosa and the other packages the GPU
    machine lacks blocked, Keras from the wheel set; its weights then generate a video with
    TF."""
    if not list(WHEELS.glob("keras-*.whl")):
        pytest.fail("no Keras wheel in .whl: run training/fetch_device_wheels.sh (make install)")
    blocked = tmp_path / "blocked"
    # What the project installs and the GPU machine's image lacks (device KINDS.md).
    for name in ("tensorflow", "librosa", "av", "soundfile", "soxr", "mediapipe",
                 "imageio_ffmpeg", "ai_edge_litert", "tensorflow_serving_api"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is blocked: the GPU machine has none')\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(blocked),
           "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [str(REPO_ROOT / "training" / "device_train.sh"), str(TINY), str(pack[0]), "4", str(out),
         "--set", "train.flow_epochs=0", "--set", "train.autoencoder_epochs=0",
         "--set", "data.augment=true", "--set", "data.still_fraction=0.25",
         "--set", "data.source_weights=0.5,0.5"],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads((out / "throughput.json").read_text())
    assert report["backend"] == "jax" and report["precision"] == "float32"
    assert not report["keras_path"].startswith(str(Path(sys.prefix).resolve()))
    assert report["stages"]["gan"]["windows_per_s"] > 0
    assert "gan" in (out / "losses.csv").read_text()
    assert len(list(out.rglob("*"))) <= 8 and all(
        p.stat().st_size < 16 << 20 for p in out.rglob("*") if p.is_file())

    video = tmp_path / "lips.mp4"
    generated = subprocess.run(
        [sys.executable, "-m", "lipmotion_tf.cli.main", "generate", "--checkpoint",
         str(out / "model"), "--layout", "lips", "--size", "64", "-o", str(video)],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert video.stat().st_size > 1000
