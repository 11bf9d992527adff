"""The learned mouth interior: the network, its losses, the renderer with it, its training
examples and the CLI chain prepare-motion -> prepare-interior -> train -> generate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from lipmotion_tf.testing import mouth_ring

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "lipmotion_tf" / "assets" / "samples"


def _tiny_interior(size: int = 32):
    from lipmotion_tf.motion.mouth_interior import MouthInterior

    interior = MouthInterior(size=size, width=4, grow=2, name="mouth_interior")
    interior({"region": np.zeros((1, size, size, 3), np.float32),
              "mask": np.zeros((1, size, size, 1), np.float32)})
    return interior


def _blob(size: int, centre, radius: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= radius ** 2).astype(np.float32)


def test_interior_repaints_only_inside_its_widened_mask():
    interior = _tiny_interior()
    rng = np.random.default_rng(0)
    region = rng.uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    mask = np.stack([_blob(32, (16, 16), 4), _blob(32, (10, 20), 3)])[..., None]
    out = np.asarray(interior({"region": region, "mask": mask}))
    blend = np.asarray(interior.blend_mask(mask))[..., 0]
    assert np.array_equal(out[blend == 0], region[blend == 0])
    assert np.abs(out - region)[blend > 0.5].mean() > 1e-3  # an untrained net changes them
    # The blend mask reaches `grow` pixels (and one for the softening) beyond the mask.
    assert blend[0, 16, 16 + 4 + 2] > 0 and blend[0, 16, 16 + 4 + 4] == 0


def test_interior_losses_on_known_cases():
    from lipmotion_tf.motion.interior_losses import masked_gradient_l1, masked_l1

    image = np.zeros((1, 8, 8, 3), np.float32)
    image[:, :, 4:] = 1.0  # a vertical edge
    shifted = np.zeros_like(image)
    shifted[:, :, 5:] = 1.0
    mask = np.ones((1, 8, 8, 1), np.float32)
    assert float(masked_l1(image, image, mask)) == 0.0
    assert float(masked_l1(shifted, image, mask)) == pytest.approx(1 / 8)
    assert float(masked_gradient_l1(shifted, image, mask)) > 0
    # Nothing counts outside the mask.
    far = np.zeros_like(mask)
    far[:, :, :2] = 1.0
    assert float(masked_l1(shifted, image, far)) == 0.0
    assert float(masked_gradient_l1(shifted, image, far)) == 0.0


def test_hinge_losses_count_only_the_weighted_patches():
    from lipmotion_tf.motion.interior_losses import (
        hinge_discriminator_loss,
        hinge_generator_loss,
    )

    real = np.full((1, 2, 2, 1), 2.0, np.float32)
    fake = np.full((1, 2, 2, 1), -2.0, np.float32)
    weight = np.zeros((1, 2, 2, 1), np.float32)
    weight[0, 0, 0] = 1.0
    assert float(hinge_discriminator_loss(real, fake, weight)) == 0.0  # beyond both margins
    fake[0, 1, 1] = 3.0  # a fooled patch that does not count
    assert float(hinge_discriminator_loss(real, fake, weight)) == 0.0
    fake[0, 0, 0] = 0.0
    assert float(hinge_discriminator_loss(real, fake, weight)) == pytest.approx(0.5)
    assert float(hinge_generator_loss(fake, weight)) == pytest.approx(0.0, abs=1e-6)


def test_trainer_with_a_discriminator_trains_both_and_round_trips():
    import keras

    from lipmotion_tf.motion.interior_discriminator import InteriorDiscriminator
    from lipmotion_tf.motion.interior_trainer import InteriorTrainer

    interior = _tiny_interior()
    discriminator = InteriorDiscriminator(4, name="interior_discriminator")
    trainer = InteriorTrainer(interior, discriminator=discriminator, adversarial=0.1)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3),
                    discriminator_optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    region = rng.uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    mask = np.stack([_blob(32, (16, 16), 8)] * 4)[..., None]
    history = trainer.fit({"region": region, "mask": mask}, region[::-1], epochs=2,
                          batch_size=2, verbose=0)
    assert {"adversarial", "discriminator", "l1", "drawn_l1"} <= set(history.history)
    before = [w.copy() for w in discriminator.get_weights()]
    trainer.fit({"region": region, "mask": mask}, region[::-1], epochs=1, batch_size=2,
                verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, discriminator.get_weights()))
    again = InteriorTrainer.from_config(trainer.get_config())
    assert again.discriminator.width == 4 and again.adversarial_weight == 0.1
    with pytest.raises(ValueError, match="discriminator_optimizer"):
        InteriorTrainer(_tiny_interior(), discriminator=InteriorDiscriminator(4)).compile(
            optimizer=keras.optimizers.Adam(1e-3))


def test_tiny_fit_beats_the_drawn_interior():
    """A few steps of the trainer on a made-up mouth (a dark cavity with a light band, drawn
    as flat grey) bring the error in the mask well under the drawn interior's."""
    import keras

    from lipmotion_tf.motion.interior_trainer import InteriorTrainer

    keras.utils.set_random_seed(0)
    interior = _tiny_interior()
    mask = np.stack([_blob(32, (16, 16), 10)] * 8)[..., None]
    rng = np.random.default_rng(0)
    skin = rng.uniform(0.5, 0.9, (8, 1, 1, 3)).astype(np.float32) * np.ones((8, 32, 32, 3),
                                                                                np.float32)
    target = skin * (1 - mask) + 0.1 * mask
    target[:, 8:12] = np.where(mask[:, 8:12] > 0, 0.85, target[:, 8:12])
    region = skin * (1 - mask) + 0.5 * mask
    trainer = InteriorTrainer(interior)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = trainer.fit({"region": region, "mask": mask}, target, epochs=100, batch_size=8,
                          verbose=0)
    assert history.history["l1"][-1] < 0.5 * history.history["drawn_l1"][-1]


def test_renderer_with_interior_changes_only_the_mouth_and_round_trips():
    from lipmotion_tf.motion.renderer import MotionRenderer
    from lipmotion_tf.motion.representation import NUM_MOTION_POINTS

    side, box = 64, (20, 16, 30, 32)
    inner = mouth_ring(32.0, 38.0, 10.0, 8.0)
    teeth = np.concatenate([inner[:, :11], inner[:, 10::-1] + np.array([0.0, 2.0])], axis=1)
    controls = NUM_MOTION_POINTS  # the renderer reads the inner lips' displacement among them
    inputs = {"crop": np.random.default_rng(1).uniform(0, 1, (1, side, side, 3)).astype(
                  np.float32),
              "basis": np.zeros((32 * 32, controls), np.float32),
              "displacement": np.zeros((1, controls, 2), np.float32),
              "inner_lip": inner, "teeth": teeth,
              "colours": np.array([[[0.1, 0.05, 0.05], [0.9, 0.9, 0.85]]], np.float32)}
    drawn = np.asarray(MotionRenderer(side, box, grid_size=32)(inputs))
    renderer = MotionRenderer(side, box, grid_size=32, interior=_tiny_interior())
    learned = np.asarray(renderer(inputs))
    changed = np.abs(learned - drawn).max(axis=-1)[0] > 0
    assert changed.any()
    rows, cols = np.nonzero(changed)
    assert rows.min() >= box[0] and rows.max() < box[0] + box[2]
    assert cols.min() >= box[1] and cols.max() < box[1] + box[3]
    # Far from the inner lips (9 px and more) nothing changes, even inside the box.
    assert not changed[box[0]:box[0] + 4].any()
    again = MotionRenderer.from_config(renderer.get_config())
    assert again.interior.get_config()["width"] == 4
    again(inputs)
    again.interior.set_weights(renderer.interior.get_weights())
    np.testing.assert_array_equal(np.asarray(again(inputs)), learned)


def test_prepare_interior_train_and_generate_in_fresh_processes(tiny_motion_checkpoint,
                                                                 tmp_path):
    """A user's chain on a made-up talking-head video: prepare-motion, prepare-interior,
    train the interior (tiny), put it in a motion model folder, generate with it; and
    prepare-interior's bad inputs as one line, exit 2."""
    from lipmotion_tf.testing import write_face_video

    videos = tmp_path / "videos" / "person"
    videos.mkdir(parents=True)
    write_face_video(videos / "talk.mp4", frames=20, fps=25)
    run = [sys.executable, "-m", "lipmotion_tf.cli.main"]

    def lipmotion(*args):
        return subprocess.run(run + [str(a) for a in args], capture_output=True, text=True)

    motion = tmp_path / "motion"
    done = lipmotion("prepare-motion", tmp_path / "videos", motion, "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    examples = tmp_path / "interior.npz"
    done = lipmotion("prepare-interior", motion, tmp_path / "videos", examples,
                     "--frames-per-clip", "3", "--box-size", "32", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "interior examples: 3 from 1 clips" in done.stdout
    with np.load(examples) as data:
        assert data["region"].shape == (3, 32, 32, 3) and data["mask"].shape == (3, 32, 32, 1)
        assert data["target"].dtype == np.uint8
    done = lipmotion("prepare-interior", motion, tmp_path / "videos", examples)
    assert done.returncode == 2 and "exists" in done.stderr.strip().splitlines()[-1]
    done = lipmotion("prepare-interior", motion, tmp_path / "nowhere", tmp_path / "x.npz")
    assert done.returncode == 2 and "video folder not found" in done.stderr
    assert not (tmp_path / "x.npz").exists()

    run_dir = tmp_path / "run"
    done = lipmotion("train", "--config", REPO_ROOT / "training" / "interior.yaml",
                     "--data", examples, "--output", run_dir, "--quiet",
                     "--set", "train.epochs=1", "--set", "train.steps_per_epoch=2",
                     "--set", "model.size=32", "--set", "model.width=4",
                     "--set", "data.batch_size=2", "--set", "data.val_fraction=0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PSNR in the mouth" in done.stdout
    # --init-from a folder without an interior: one line, exit 2, no run folder left.
    refused = tmp_path / "refused"
    done = lipmotion("train", "--config", REPO_ROOT / "training" / "interior.yaml",
                     "--data", examples, "--output", refused, "--init-from", tmp_path,
                     "--set", "model.size=32", "--set", "data.val_fraction=0")
    assert done.returncode == 2 and "no mouth_interior.weights.h5" in done.stderr
    assert not refused.exists()

    model = tmp_path / "model"
    shutil.copytree(tiny_motion_checkpoint, model)
    shutil.copy(run_dir / "mouth_interior.weights.h5", model)
    config = yaml.safe_load((model / "config.yaml").read_text())
    config["interior"] = yaml.safe_load((run_dir / "config.yaml").read_text())["model"]
    (model / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    output = tmp_path / "out.mp4"
    done = lipmotion("generate", "--checkpoint", model, "--audio", SAMPLES / "speech.flac",
                     "--max-duration", "30", "-o", output)
    assert done.returncode == 0, done.stderr[-2000:]
    assert output.stat().st_size > 0
    # Weights that do not fit the folder's interior section: one line, exit 2.
    config["interior"]["width"] = 8
    (model / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    done = lipmotion("generate", "--checkpoint", model, "-o", tmp_path / "bad.mp4")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "does not fit the interior section" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr and not (tmp_path / "bad.mp4").exists()


def test_examples_follow_the_renderers_drawing(shared_data):
    """An example from a real GRID frame: outside the blend mask the input is the frame
    itself, and inside the inner lips it is the drawn interior."""
    from lipmotion_tf.motion import interior_data
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.reader import iter_video

    clip = sorted((shared_data / "grid" / "s1").glob("*.mpg"))[0]
    with FaceMeshDetector(static_image_mode=True) as detector:
        for index, frame in enumerate(iter_video(clip)):  # the first clearly open mouth
            mesh = detector.detect(frame, depth=True) if index % 4 == 0 else None
            if mesh is not None:
                points = mesh[list(rep.MOTION_INDICES), :2].astype(np.float32)
                if interior_data.openings(points[None])[0][0] > 0.15:
                    break
    colours = np.array([[0.1, 0.05, 0.05], [0.9, 0.9, 0.85]], np.float32)
    example = interior_data.frame_example(frame, points, colours, np.random.default_rng(0),
                                          interior_data.example_function(64))
    region, mask, target = (example[k].astype(np.float32) for k in ("region", "mask", "target"))
    outside = mask[..., 0] == 0
    assert np.abs(region - target)[outside].max() <= 1.0  # rounding only
    inside = mask[..., 0] > 250
    assert inside.sum() > 10
    assert np.abs(region - target)[inside].mean() > 5.0


def test_interior_option_errors_are_one_line(tiny_motion_checkpoint, tmp_path, capsys):
    """--interior learned on a folder without one, and --interior with the paper model."""
    from lipmotion_tf.cli.main import main

    output = tmp_path / "out.mp4"
    for args, words in (
            (["generate", "--checkpoint", str(tiny_motion_checkpoint), "--interior", "learned"],
             "has no learned mouth interior"),
            (["generate", "--model", "paper", "--interior", "drawn"], "--interior is for"),
            (["export", "tflite", "--checkpoint", str(tiny_motion_checkpoint),
              "--interior", "drawn"], "--part renderer")):
        code = main(args + ["-o", str(output)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0], (args, err)
        assert not output.exists()
