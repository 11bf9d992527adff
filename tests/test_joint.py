"""The joint stage: speech -> motion -> pixels under the paper's losses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "lipmotion_tf" / "assets" / "samples"


def test_similarity_recovers_a_known_transform():
    from lipmotion_tf.motion.joint_data import similarity_2d

    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (19, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -8.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ rotation.T + shift
    found = similarity_2d(points, moved)
    np.testing.assert_allclose(found[:, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(found[:, 2], shift, atol=1e-7)


def test_mouth_region_resamples_each_frame_from_its_own_image():
    from lipmotion_tf.motion.joint_generator import mouth_region

    frames = np.arange(3, dtype=np.float32)[:, None, None, None] * np.ones((3, 32, 32, 3))
    frames[:, 10:20, 4:28] += 10.0  # the box: 10 rows from 10, 24 columns from 4
    region = mouth_region(frames, (10, 4, 10, 24), 8).numpy()
    assert region.shape == (3, 8, 8, 3)
    np.testing.assert_allclose(region[:, 0, 0, 0], [10.0, 11.0, 12.0], atol=1e-3)
    np.testing.assert_allclose(region, np.broadcast_to(region[:, :1, :1], region.shape), atol=1e-3)


def test_soft_polygon_mask_matches_the_hard_one_and_grows_outwards():
    import tensorflow as tf

    from lipmotion_tf.motion.warp import polygon_mask, soft_polygon_mask

    polygon = tf.constant([[[5.3, 4.2], [20.7, 6.1], [18.2, 17.9], [7.1, 15.4]]], tf.float32)
    hard = polygon_mask(polygon, 24, 24, 4).numpy()
    with tf.GradientTape() as tape:
        tape.watch(polygon)
        soft = soft_polygon_mask(polygon, 24, 24, 0.5)
        area = tf.reduce_sum(soft)
    assert np.abs(hard - soft.numpy()).mean() < 0.05
    assert abs(float(area) - hard.sum()) < 0.03 * hard.sum()
    outward = polygon.numpy()[0] - polygon.numpy()[0].mean(axis=0)
    assert np.all(np.sum(tape.gradient(area, polygon).numpy()[0] * outward, axis=1) > 0)


def test_busiest_window_needs_a_face_in_every_frame():
    from lipmotion_tf.motion.joint_data import busiest_window

    opening = np.zeros(30)
    opening[20:26] = [0, 0.3, 0, 0.3, 0, 0.3]
    found = np.ones(30, bool)
    assert busiest_window(opening, found, 8) in range(18, 21)
    found[22] = False
    assert busiest_window(opening, found, 8) not in range(15, 23)
    assert busiest_window(opening, np.zeros(30, bool), 8) is None


def test_joint_generator_renders_the_rest_shape_unmoved_and_passes_gradients():
    """With no voice the motion model gives no displacement and the rendered mouth box is the
    identity's (up to the drawn interior of a closed mouth); with speech the pixel loss
    reaches the motion model's weights through the warp."""
    import tensorflow as tf

    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.joint_generator import JointGenerator, mouth_region
    from lipmotion_tf.motion.pipeline import motion_checkpoint
    from lipmotion_tf.motion.rig_tensors import rig_tensors
    from lipmotion_tf.motion.training import load_motion_generator
    from lipmotion_tf.video.image_io import read_image

    image = read_image(str(SAMPLES / "face.jpg"))
    natural = FaceRig.from_image(image)
    import cv2

    scale = 128 / natural.crop_size
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rig = FaceRig.from_image(small, mesh=natural.mesh * scale, side=128)
    tensors = rig_tensors(rig)
    batch = {key: np.asarray(tensors[key])[None] for key in
             ("controls", "rest", "mouth_scale", "mouth_rotation", "mouth_translation",
              "origin", "colours", "mouth_box")}
    batch["crop"], batch["basis"] = rig.crop()[None], rig.basis[None]
    batch["identity"] = np.zeros((1, 64, 64, 3), np.float32)
    motion, _ = load_motion_generator(motion_checkpoint())
    generator = JointGenerator(motion)
    silent = dict(batch, audio=np.full((1, 32, 128), -100.0, np.float32))
    out = generator(silent)
    assert out["video"].shape == (1, 8, 64, 64, 3) and out["audio_features"].shape[2] == 1
    still = mouth_region(rig.crop()[None], rig.mouth_box, 64).numpy() * 2 - 1
    assert np.abs(out["video"].numpy()[0] - still).mean() < 0.02

    speech = dict(batch, audio=np.random.default_rng(0).normal(-30, 15, (1, 32, 128))
                  .astype(np.float32))
    moving = generator(speech)
    assert float(np.abs(moving["motion"]).max()) > 0.01
    assert float(np.abs(np.diff(moving["video"].numpy(), axis=1)).max()) > 0.05
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(generator(speech, training=True)["video"] - still))
    gradients = tape.gradient(loss, generator.motion.trainable_variables)
    assert all(g is not None for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0


def test_prepare_joint_train_and_generate_in_fresh_processes(tmp_path):
    """A user's chain: prepare-motion, prepare-joint, the joint stage (tiny networks, two
    steps a stage), then generate with the motion model it wrote; and the bad inputs."""
    from lipmotion_tf.testing import write_face_video

    videos = tmp_path / "videos" / "person"
    videos.mkdir(parents=True)
    for name in ("a", "b"):  # both in the training split
        write_face_video(videos / f"{name}.mp4", frames=20, fps=25)
    run = [sys.executable, "-m", "lipmotion_tf.cli.main"]

    def lipmotion(*args):
        return subprocess.run(run + [str(a) for a in args], capture_output=True, text=True)

    motion = tmp_path / "motion"
    done = lipmotion("prepare-motion", tmp_path / "videos", motion, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    joint = tmp_path / "joint"
    done = lipmotion("prepare-joint", motion, tmp_path / "videos", joint, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "joint windows: 2 train, 0 val" in done.stdout
    with np.load(joint / "train.npz") as data:
        assert data["video"].shape == (2, 16, 64, 64, 3) and data["crop"].shape == (2, 128, 128, 3)
        assert data["audio"].shape == (2, 64, 128)
        # The face drifts a pixel a frame; brought into the identity's crop it holds still,
        # but each frame is its own.
        assert np.abs(np.diff(data["video"].astype(np.float32), axis=1)).mean() > 0.01
    done = lipmotion("prepare-joint", motion, tmp_path / "videos", joint)
    assert done.returncode == 2 and "exists" in done.stderr.strip().splitlines()[-1]
    done = lipmotion("prepare-joint", motion, tmp_path / "nowhere", tmp_path / "x")
    assert done.returncode == 2 and "video folder not found" in done.stderr
    assert not (tmp_path / "x").exists()

    run_dir = tmp_path / "run"
    tiny = ["--set", "train.steps_per_epoch=2", "--set", "train.validation_steps=1",
            "--set", "data.batch_size=1", "--set", "train.warmup_epochs=1",
            "--set", "train.gan_epochs=1", "--set", "train.autoencoder_epochs=1",
            "--set", "model.discriminator_channels=8", "--set", "model.flownet_channels=8",
            "--set", "model.correlation_channels=8", "--set", "model.autoencoder_channels=8"]
    done = lipmotion("train", "--config", REPO_ROOT / "training" / "joint.yaml", "--data", joint,
                     "--output", run_dir, "--quiet", *tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run_dir / "motion" / "motion_generator.weights.h5").is_file()
    assert (run_dir / "generator.keras").is_file()
    output = tmp_path / "out.mp4"
    done = lipmotion("generate", "--checkpoint", run_dir / "motion", "--audio",
                     SAMPLES / "speech.flac", "--max-duration", "30", "-o", output)
    assert done.returncode == 0, done.stderr[-2000:]
    assert output.stat().st_size > 0

    # The joint stage refuses --init-from and a crop size its windows do not have.
    for extra, message in ((["--init-from", run_dir / "motion"], "--init-from is for the paper"),
                           (["--set", "model.motion_crop=96", "--set", "data.batch_size=1"],
                            "128-pixel crops")):
        refused = tmp_path / "refused"
        done = lipmotion("train", "--config", REPO_ROOT / "training" / "joint.yaml", "--data",
                         joint, "--output", refused, *extra)
        assert done.returncode == 2, done.stderr[-2000:]
        assert message in done.stderr.strip().splitlines()[-1]
        assert "Traceback" not in done.stderr and not refused.exists()


@pytest.mark.parametrize("value", ["poster", "paper2"])
def test_unknown_generator_is_one_config_error(value):
    from lipmotion_tf.config import ExperimentConfig
    from lipmotion_tf.errors import ConfigError

    config = ExperimentConfig()
    config.model.generator = value
    with pytest.raises(ConfigError, match="model.generator"):
        config.validate()
