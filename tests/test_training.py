"""Training under ``fit``: stages, the runner, resuming, errors, distribution and JAX."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.config import AudioConfig, load_config
from lipmotion_tf.errors import ConfigError, DataError, TrainingError
from lipmotion_tf.testing import write_prepared
from lipmotion_tf.train import runner
from lipmotion_tf.train.ablations import ABLATIONS, ablation_overrides
from lipmotion_tf.train.batches import make_batches

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = REPO_ROOT / "training" / "tiny.yaml"

# ------------------------------------------------------------------------------ data


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return write_prepared(tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="module")
def warmup_run(prepared, tmp_path_factory):
    """One warm-up run shared by the tests that read a run (a GAN run is the slowest set-up):
    3 epochs of 3 steps with the generator's weight average, the newest 2 epoch checkpoints
    kept, and the cheapest GAN to trace (two-stream discriminator, no correlation or
    perceptual loss). ``(run folder, config, [(weight, average) of the generator's trainable
    weights after each step])``."""
    steps = []

    class Track(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            average = self.model.optimizer.member("generator")._model_variables_moving_average
            steps.append([(np.array(w), np.array(a))
                          for w, a in zip(self.model.generator.trainable_weights, average)])

    config = tiny_config("train.warmup_epochs=3", "train.steps_per_epoch=3",
                         "train.checkpoints_kept=2", "optimizer.generator_ema=0.5",
                         "model.discriminator_streams=two", "loss.correlation=0",
                         "loss.perceptual=0")
    run = tmp_path_factory.mktemp("warmup") / "run"
    result = runner.train(config, prepared, run, ("warmup",), callbacks=[Track()], verbose=0,
                          log=lambda line: None)
    assert result.stages_run == ["warmup"]
    return run, config, steps


def tiny_config(*overrides):
    return load_config(TINY, list(overrides))


def _real_batch(shared_data: Path, config) -> dict:
    """One batch of real GRID windows decoded from raw clips with a fixed mouth crop, so
    that every machine trains on the same pixels."""
    import cv2

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy
    from lipmotion_tf.video.reader import read_video

    clips = sorted((shared_data / "grid" / "s1").glob("*.mpg"))[: config.data.batch_size + 1]
    videos, mels = [], []
    for path in clips:
        frames = read_video(path)[: config.data.window, 140:236, 132:228]  # the mouth region
        videos.append(np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA)
                                for f in frames]) / 127.5 - 1.0)
        mels.append(log_mel_numpy(load_audio(path, 44100), config.audio)[: 4 * config.data.window])
    b = config.data.batch_size
    return {
        "audio": np.stack(mels[:b]).astype(np.float32),
        "video": np.stack(videos[:b]).astype(np.float32),
        "identity": np.stack([v[5] for v in videos[:b]]).astype(np.float32),
        "mismatch_audio": np.stack(mels[1: b + 1]).astype(np.float32),
    }


# --------------------------------------------------------------- configs and presets


def test_experiment_files_load():
    grid = load_config(REPO_ROOT / "training" / "grid.yaml")
    assert grid.data.batch_size == 24 and grid.model.generator_channels == 64
    assert grid.model.generator_res_blocks == 9 and grid.model.discriminator_streams == "three"
    assert load_config(REPO_ROOT / "training" / "lrw.yaml").model.flownet_channels == 64
    demo = load_config(REPO_ROOT / "training" / "demo.yaml")
    assert demo.model.generator_channels <= 32
    assert tiny_config().model.generator_channels == 8


def test_unknown_config_key_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  gan_epochs: 2\n  gan_epoks: 3\n")
    with pytest.raises(ConfigError, match="train.gan_epoks"):
        load_config(bad)


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_presets_set_their_switch(name):
    config = tiny_config(*ablation_overrides(name))
    expected = {
        "full": lambda c: c.loss.correlation > 0 and c.model.discriminator_streams == "three",
        "no_correlation": lambda c: c.loss.correlation == 0,
        "non_derivative_correlation": lambda c: not c.loss.derivative_correlation,
        "two_stream": lambda c: c.model.discriminator_streams == "two",
        "frame_diff": lambda c: c.model.discriminator_streams == "frame_diff",
        "no_perceptual": lambda c: c.loss.perceptual == 0,
    }
    assert expected[name](config)


def test_unknown_ablation_and_stage_are_config_errors():
    with pytest.raises(ConfigError, match="unknown ablation 'nope'"):
        ablation_overrides("nope")
    with pytest.raises(ConfigError, match="unknown stage 'gans'"):
        runner.parse_stages("flow,gans")
    assert runner.parse_stages("gan,flow") == ("flow", "gan")


def test_train_help_lists_the_ablations(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name in ABLATIONS:
        assert name in text


# ----------------------------------------------------------------- stage components


def test_farneback_targets_follow_a_shift():
    from lipmotion_tf.train.flow_stage import FLOW_SCALE, farneback_clip_flows

    rng = np.random.default_rng(1)
    import cv2

    texture = cv2.GaussianBlur(rng.uniform(-1, 1, (64, 96, 3)).astype(np.float32), (0, 0), 2.0)
    texture = texture / np.abs(texture).max()
    video = np.stack([texture[:, 10 - 2 * t: 74 - 2 * t] for t in range(3)])[None]
    flows = farneback_clip_flows(video)  # content moves 2 px right per frame
    assert flows.shape == (1, 2, 64, 64, 2) and flows.dtype == np.float32
    centre = flows[0, :, 16:48, 16:48] * FLOW_SCALE
    assert np.median(centre[..., 0]) == pytest.approx(2.0, abs=0.3)
    assert np.median(centre[..., 1]) == pytest.approx(0.0, abs=0.3)


def test_flow_targets_in_tf_data_match_numpy():
    import tensorflow as tf

    from lipmotion_tf.train.flow_stage import add_flow_targets, flow_pairs_and_targets

    rng = np.random.default_rng(2)
    batch = {"video": rng.uniform(-1, 1, (2, 4, 64, 64, 3)).astype(np.float32)}
    pairs, targets = next(iter(add_flow_targets(tf.data.Dataset.from_tensors(batch))))
    np_pairs, np_targets = flow_pairs_and_targets(batch)
    assert pairs.shape == (6, 64, 64, 6) and targets.shape == (6, 64, 64, 2)
    np.testing.assert_allclose(pairs.numpy(), np_pairs)
    np.testing.assert_allclose(targets.numpy(), np_targets, atol=1e-6)
    np.testing.assert_array_equal(np_pairs[1, ..., 3:], batch["video"][0, 2])


@pytest.mark.slow  # fits FlowNet and the autoencoder 15 epochs each: 12-19 s on 2 shared cores (the
# autoencoder stage runs in the default suite's NaN and init-from tests; the flow stage in the
# slow all-stages test)
def test_flow_and_autoencoder_stages_reduce_their_losses():
    from lipmotion_tf.models.autoencoder import VideoAutoencoder
    from lipmotion_tf.models.flownet import FlowNet
    from lipmotion_tf.train.autoencoder_stage import AutoencoderStage
    from lipmotion_tf.train.flow_stage import FlowStage, flow_pairs_and_targets

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    base = rng.uniform(-1, 1, (1, 1, 16, 16, 3)).astype(np.float32)
    video = np.repeat(np.repeat(np.roll(np.repeat(base, 4, axis=1), 1, axis=2), 4, 2), 4, 3)
    pairs, targets = flow_pairs_and_targets({"video": video})

    flow = FlowStage(FlowNet(channels=8), name="flow_stage")
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    flow_history = flow.fit(pairs, targets, epochs=15, batch_size=3, verbose=0).history
    assert flow_history["loss"][-1] < 0.5 * flow_history["loss"][0]
    assert "epe" in flow_history

    auto = AutoencoderStage(VideoAutoencoder(channels=8, res_blocks=1), name="autoencoder_stage")
    auto.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    auto_history = auto.fit(video, video, epochs=15, verbose=0).history
    assert auto_history["loss"][-1] < 0.5 * auto_history["loss"][0]


def test_preview_strips_put_real_above_generated():
    from lipmotion_tf.train.video_preview import preview_strips

    real = np.full((3, 4, 8, 8, 3), 1.0, np.float32)
    fake = np.full((3, 4, 8, 8, 3), -1.0, np.float32)
    strips = preview_strips(real, fake, max_clips=2)
    assert strips.shape == (2, 16, 32, 3)
    assert strips[:, :8].min() == 1.0 and strips[:, 8:].max() == 0.0


def test_nan_guard_names_the_newest_checkpoint(tmp_path):
    from lipmotion_tf.train.nan_guard import NaNGuard

    (tmp_path / "gan-epoch001.weights.h5").write_bytes(b"x")
    newest = tmp_path / "gan-epoch002.weights.h5"
    newest.write_bytes(b"x")
    os.utime(tmp_path / "gan-epoch001.weights.h5", (1, 1))
    guard = NaNGuard(tmp_path, "gan-epoch*.weights.h5")
    guard.set_model(keras.Sequential())
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"d_loss": 0.3})
    with pytest.raises(TrainingError) as error:
        guard.on_train_batch_end(4, {"d_loss": 0.3, "g_loss": float("nan")})
    assert str(error.value) == (
        f"loss became NaN at epoch 3 step 5 (g_loss); last good checkpoint: {newest}"
    )


# ----------------------------------------------------------------------- the runner


def test_missing_or_empty_data_fails_before_any_model_is_built(tmp_path, monkeypatch):
    def no_models(*args, **kwargs):
        raise AssertionError("networks were built before the data was checked")

    monkeypatch.setattr(runner, "build_networks", no_models)
    with pytest.raises(DataError, match="data folder not found"):
        runner.train(tiny_config(), tmp_path / "absent", tmp_path / "run")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="manifest.json"):
        runner.train(tiny_config(), empty, tmp_path / "run")
    (empty / "manifest.json").write_text(json.dumps(
        {"audio": dataclasses.asdict(AudioConfig()), "image_size": 64, "crop_scale": 1.3,
         "clips": []}))
    with pytest.raises(DataError, match="no prepared clips"):
        runner.train(tiny_config(), empty, tmp_path / "run")


def test_data_made_with_other_settings_is_refused(prepared, tmp_path):
    with pytest.raises(DataError, match="audio.n_fft"):
        runner.train(tiny_config("audio.n_fft=2048"), prepared, tmp_path / "run")


def test_cli_reports_config_and_data_errors_in_one_line(prepared, tmp_path, capsys):
    code = main(["train", "--config", str(TINY), "--data", str(prepared),
                 "--output", str(tmp_path / "run"), "--set", "model.bogus=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "unknown config key 'model.bogus'" in err and "\n" not in err
    code = main(["train", "--config", str(TINY), "--data", str(tmp_path / "nothing"),
                 "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "data folder not found" in err and "Traceback" not in err
    code = main(["train", "--config", str(TINY), "--data", str(prepared),
                 "--output", str(tmp_path / "run"), "--stages", "flow,painting"])
    assert code == 2 and "unknown stage 'painting'" in capsys.readouterr().err


def test_nan_loss_stops_with_a_clear_error(prepared, tmp_path, capsys):
    # A learning rate of 1e30 blows the weights up after the first step.
    code = main(["train", "--config", str(TINY), "--data", str(prepared),
                 "--output", str(tmp_path / "run"), "--stages", "autoencoder", "--quiet",
                 "--set", "optimizer.autoencoder_learning_rate=1e30",
                 "--set", "train.autoencoder_epochs=2"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3
    assert err.startswith("lipmotion train: error: loss became NaN at epoch 1 step 2")
    # Backups are written at epoch ends, so a NaN in the first epoch has none to name.
    assert err.endswith("last good checkpoint: none (no checkpoint written yet)")
    assert not (tmp_path / "run" / "backup" / "autoencoder" / "latest.weights.h5").exists()
    assert not (tmp_path / "run" / "autoencoder.weights.h5").exists()


class _Interrupt(Exception):
    """Stands for the process being killed."""


class _KillAfter(keras.callbacks.Callback):
    def __init__(self, batches):
        super().__init__()
        self.batches, self.seen = batches, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.batches:
            raise _Interrupt


@pytest.mark.slow  # resuming from a backup is also in the time-budget test below
def test_killed_run_resumes_from_its_backup(prepared, tmp_path):
    config = tiny_config("train.autoencoder_epochs=3")
    out = tmp_path / "run"
    with pytest.raises(_Interrupt):  # killed after the first batch of the second epoch
        runner.train(config, prepared, out, ("autoencoder",), callbacks=[_KillAfter(3)],
                     verbose=0, log=lambda line: None)
    metadata = json.loads((out / "backup" / "autoencoder" / "training_metadata.json").read_text())
    assert metadata == {"epoch": 1, "batch": 0}
    assert not (out / "autoencoder.weights.h5").exists()

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = int(self.model.optimizer.iterations.numpy())

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs = getattr(self, "epochs", []) + [epoch]

    record = Record()
    result = runner.train(config, prepared, out, ("autoencoder",), callbacks=[record],
                          verbose=0, log=lambda line: None)
    # The backup holds the state at the end of the first epoch (2 steps); the second epoch,
    # interrupted after one step, is run again from its start.
    assert record.start == 2 and record.epochs == [1, 2]
    assert result.stages_run == ["autoencoder"] and (out / "autoencoder.weights.h5").is_file()
    assert not (out / "backup" / "autoencoder").exists()
    log_lines = (out / "autoencoder_log.csv").read_text().strip().splitlines()
    # One row per epoch across both runs: the killed run finished epoch 0 only.
    assert [line.split(",")[0] for line in log_lines[1:]] == ["0", "1", "2"]

    again = runner.train(config, prepared, out, ("autoencoder",), verbose=0, log=lambda l: None)
    assert again.stages_skipped == ["autoencoder"] and again.stages_run == []


@pytest.mark.slow  # two runs of the autoencoder stage: about 20 s on 2 cores (--time-budget's
# refusals stay in test_init_from_copies_the_generator_and_refuses_another_architecture)
def test_time_budget_stops_at_an_epoch_end_and_the_same_call_continues(prepared, tmp_path):
    config = tiny_config("train.autoencoder_epochs=3")
    out = tmp_path / "run"
    quiet = dict(verbose=0, log=lambda line: None)
    # A budget shorter than one epoch: the first epoch finishes, then the stage stops.
    stopped = runner.train(config, prepared, out, ("autoencoder",), time_budget=0.01, **quiet)
    assert stopped.budget_reached and stopped.stages_run == []
    metadata = json.loads((out / "backup" / "autoencoder" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1
    assert not (out / "autoencoder.weights.h5").exists()

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epochs = getattr(self, "epochs", []) + [epoch]

    record = Record()
    done = runner.train(config, prepared, out, ("autoencoder",), callbacks=[record], **quiet)
    assert not done.budget_reached and done.stages_run == ["autoencoder"]
    assert record.epochs == [1, 2]


@pytest.mark.slow  # three runs of the stage
def test_a_finished_stage_continues_when_more_epochs_are_asked(prepared, tmp_path):
    out = tmp_path / "run"
    quiet = dict(verbose=0, log=lambda line: None)

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epochs = getattr(self, "epochs", []) + [epoch]

    # The last epoch of a stage is kept even when it ends past the budget.
    first = runner.train(tiny_config("train.autoencoder_epochs=1"), prepared, out,
                         ("autoencoder",), time_budget=0.01, **quiet)
    assert first.stages_run == ["autoencoder"] and not first.budget_reached
    before = (out / "autoencoder.weights.h5").stat().st_mtime_ns
    record = Record()
    longer = runner.train(tiny_config("train.autoencoder_epochs=3"), prepared, out,
                          ("autoencoder",), callbacks=[record], **quiet)
    assert longer.stages_run == ["autoencoder"] and record.epochs == [1, 2]
    assert (out / "autoencoder.weights.h5").stat().st_mtime_ns != before
    log = (out / "autoencoder_log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1", "2"]
    same = runner.train(tiny_config("train.autoencoder_epochs=3"), prepared, out,
                        ("autoencoder",), **quiet)
    assert same.stages_skipped == ["autoencoder"]


def test_still_windows_hold_the_identity_with_quiet_audio(prepared):
    from lipmotion_tf.data.pipeline import make_dataset
    from lipmotion_tf.data.still_windows import quiet_log_mel

    config = tiny_config("data.still_fraction=0.5", "data.augment=true")
    batches = list(make_dataset(prepared, "train", config, training=True).take(6)
                   .as_numpy_iterator())
    still = [b["audio"][i] for b in batches for i in range(len(b["video"]))
             if np.abs(b["video"][i] - b["identity"][i][None]).max() < 1e-6]
    assert 0 < len(still) < 12
    quiet = quiet_log_mel(config.audio, config.seed)  # -70 to -50 dBFS noise
    for audio in still:  # each is a stretch of the quiet features
        starts = np.flatnonzero(np.abs(quiet - audio[0]).max(axis=1) < 1e-4)
        assert any(np.allclose(quiet[s:s + len(audio)], audio, atol=1e-4) for s in starts)
    with pytest.raises(ConfigError, match="still_fraction"):
        tiny_config("data.still_fraction=1")
    with pytest.raises(ConfigError, match="precision"):
        tiny_config("train.precision=float16")


@pytest.mark.slow  # reads the GAN warm-up run, whose fixture takes 20-45 s on 2 shared cores
# for the four tests that read it (`export checkpoint`'s mixing and refusals stay in the
# default suite below)
def test_warmup_stage_leaves_the_discriminator_untouched(warmup_run):
    out, _, _ = warmup_run
    assert (out / "warmup.weights.h5").is_file()
    log = (out / "warmup_log.csv").read_text().splitlines()
    header = log[0].split(",")
    for row in log[1:]:
        values = dict(zip(header, row.split(",")))
        assert float(values["d_loss"]) == 0.0 and float(values["adversarial"]) == 0.0
        assert float(values["reconstruction"]) > 0.0 and float(values["attention"]) > 0.0


def test_extra_data_folders_join_training(prepared, tmp_path):
    extra = write_prepared(tmp_path / "extra", splits=(("train", 2), ("test", 1)), seed=5)
    from lipmotion_tf.data.pipeline import make_dataset

    config = tiny_config("data.source_weights=0,1")
    extra_frames = {
        frame.tobytes()
        for batch in make_dataset(extra, "all", config, training=False)
        for frame in np.round(batch["video"].numpy()[:, 0], 4)
    }
    batches = make_batches(config, prepared, tmp_path / "run", "tensorflow", [extra])
    # With all the weight on the extra folder, every window comes from it (all its splits).
    for batch, _ in zip(batches.train(), range(4)):
        for frame in np.round(batch["video"].numpy()[:, 0], 4):
            assert frame.tobytes() in extra_frames
    with pytest.raises(DataError, match="source_weights has 3 entries for 2"):
        bad = tiny_config("data.source_weights=1,1,1")
        next(iter(make_batches(bad, prepared, tmp_path / "r", "tensorflow", [extra]).train()))
    with pytest.raises(DataError, match="not found"):
        make_batches(config, prepared, tmp_path / "run", "tensorflow", [tmp_path / "none"])


@pytest.mark.slow  # reads the GAN warm-up run (see above)
def test_generator_ema_writes_the_average_over_the_weights_at_epoch_ends(warmup_run):
    """With ``optimizer.generator_ema`` the generator's weights become the optimizer's moving
    average at the epoch end (so checkpoints hold it), and only there."""
    _, _, seen = warmup_run
    assert len(seen) == 9  # 3 epochs of 3 steps
    for epoch in range(3):
        middle, end = seen[3 * epoch + 1], seen[3 * epoch + 2]
        assert any(not np.allclose(w, a) for w, a in middle)  # mid-epoch: raw weights
        for weight, average in end:  # epoch end: the average
            np.testing.assert_array_equal(weight, average)
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        tiny_config("optimizer.generator_ema=0.9", "train.steps_per_epoch=0").validate()
    with pytest.raises(ConfigError, match="generator_ema must be"):
        tiny_config("optimizer.generator_ema=1").validate()


def test_discriminator_learning_rate_is_its_own(prepared, tmp_path):
    rates = {}

    class Read(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            for name in ("generator", "discriminator"):
                member = self.model.optimizer.member(name)
                rates[name] = float(keras.ops.convert_to_numpy(member.learning_rate))
            raise _Interrupt  # the rates are read: no need to train

    config = tiny_config("train.flow_epochs=0", "train.autoencoder_epochs=0",
                         "optimizer.learning_rate=2e-4",
                         "optimizer.discriminator_learning_rate=5e-5")
    with pytest.raises(_Interrupt):
        runner.train(config, prepared, tmp_path / "run", ("gan",), callbacks=[Read()],
                     verbose=0, log=lambda line: None)
    assert rates == pytest.approx({"generator": 2e-4, "discriminator": 5e-5})
    with pytest.raises(ConfigError, match="discriminator_learning_rate must be positive"):
        tiny_config("optimizer.discriminator_learning_rate=0").validate()


@pytest.mark.slow  # reads the GAN warm-up run (see above): about 4 s more
def test_a_runs_generator_is_read_alone_and_matches_the_whole_gans(warmup_run, tmp_path,
                                                                  monkeypatch):
    """Every GAN checkpoint keeps its generator alone (pruned with it); reading a run's
    generator then builds no other network and gives what the whole GAN's file gives."""
    import shutil

    from lipmotion_tf.models.autoencoder import VideoAutoencoder
    from lipmotion_tf.models.discriminator import LipDiscriminator
    from lipmotion_tf.models.flownet import FlowNet
    from lipmotion_tf.train.gan import LipMotionGAN
    from lipmotion_tf.train.run_generator import latest_generator

    run, config, _ = warmup_run
    assert sorted(p.name for p in (run / "checkpoints" / "generator").iterdir()) == [
        "warmup-epoch002.weights.h5", "warmup-epoch003.weights.h5"]
    assert (run / "generator" / "warmup.weights.h5").is_file()
    older = tmp_path / "older"  # as a run from before the generator was saved alone
    shutil.copytree(run, older, ignore=shutil.ignore_patterns("generator"))

    built = []
    for cls in (LipDiscriminator, FlowNet, VideoAutoencoder, LipMotionGAN):
        def spy(self, *args, __init__=cls.__init__, **kwargs):
            built.append(type(self).__name__)
            __init__(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", spy)
    alone = latest_generator(config, run)
    assert built == []
    whole = latest_generator(config, older)
    assert "LipDiscriminator" in built and "LipMotionGAN" in built  # the spies do see them
    rng = np.random.default_rng(0)
    inputs = {"audio": rng.normal(-40, 20, (2, 64, 128)).astype("float32"),
              "identity": rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")}
    for ours, theirs in zip(alone.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(np.asarray(alone(inputs, training=False)["video"]),
                               np.asarray(whole(inputs, training=False)["video"]), atol=1e-6)


@pytest.mark.slow  # reads the GAN warm-up run (see above): about 11 s more; the next test runs
# the mixing and refusals on checkpoint folders in the default suite
def test_export_averages_epoch_checkpoints_and_mixes_generators(warmup_run, tmp_path,
                                                                tiny_checkpoint, capsys):
    from lipmotion_tf.generate.checkpoint import load_generator, save_generator_npz
    from lipmotion_tf.models.factory import build_generator
    from lipmotion_tf.train.run_generator import latest_generator

    run, config, _ = warmup_run
    epochs = sorted((run / "checkpoints").glob("warmup-epoch*.weights.h5"))
    assert [p.name for p in epochs] == [f"warmup-epoch00{i}.weights.h5" for i in (2, 3)]
    per_epoch = []
    for keep in range(2):  # each epoch's generator alone: hide the newer checkpoints
        alone = tmp_path / f"alone{keep}"
        (alone / "checkpoints" / "generator").mkdir(parents=True)
        (alone / "config.yaml").write_text((run / "config.yaml").read_text())
        for name in (epochs[keep].name, f"generator/{epochs[keep].name}"):
            (alone / "checkpoints" / name).write_bytes((run / "checkpoints" / name).read_bytes())
        per_epoch.append(latest_generator(config, alone).get_weights())
    out = tmp_path / "averaged"
    assert main(["export", "checkpoint", "--checkpoint", str(run), "-o", str(out),
                 "--dtype", "float32", "--average", "2"]) == 0
    assert "the mean of 2 epoch checkpoints" in capsys.readouterr().out
    averaged, _ = load_generator(out)
    for got, *values in zip(averaged.get_weights(), *per_epoch):
        np.testing.assert_allclose(got, np.mean(values, axis=0), rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b) for a, b in zip(*per_epoch[:2]))  # epochs do differ

    mixed = tmp_path / "mixed"
    assert main(["export", "checkpoint", "--checkpoint", str(out), "-o", str(mixed), "--dtype",
                 "float32", "--mix-with", str(tiny_checkpoint), "--mix-weight", "0.25",
                 "--ease-in", "3"]) == 0
    other, _ = load_generator(tiny_checkpoint)
    mixed_generator, mixed_config = load_generator(mixed)
    for got, ours, theirs in zip(mixed_generator.get_weights(), averaged.get_weights(),
                                 other.get_weights()):
        np.testing.assert_allclose(got, 0.25 * ours + 0.75 * theirs, rtol=1e-5, atol=1e-6)
    assert mixed_config.data.ease_in == 3 and load_generator(out)[1].data.ease_in == 0

    wider = tmp_path / "wider"
    save_generator_npz(build_generator(tiny_config("model.generator_channels=12")),
                       tiny_config("model.generator_channels=12"), wider)
    _export_checkpoint_refuses((
        (run, ["--average", "3"], "2 warmup epoch checkpoint(s) kept, 3 to average"),
        (tiny_checkpoint, ["--average", "2"], "averaging needs a training run folder"),
        (run, ["--average", "0"], "--average must be a whole number from 1 to 1000"),
        (out, ["--mix-with", str(wider)], "its generator has another architecture"),
        (out, ["--mix-with", str(tmp_path / "none")], "--mix-with: checkpoint not found"),
        (out, ["--mix-with", str(out), "--mix-weight", "1.5"], "--mix-weight must be a number from 0 to 1"),
        (out, ["--ease-in", "-1"], "--ease-in must be a whole number from 0 to"),
    ), tmp_path, capsys)


def test_export_checkpoint_mixes_checkpoint_folders_and_refuses_bad_options(
        tiny_checkpoint, generator_and_config, tmp_path, capsys):
    """`lipmotion export checkpoint` without a training run (a run's epoch averaging is in the
    slow test above): two checkpoint folders mixed, the ease-in set, bad options refused in one
    line with nothing written."""
    from lipmotion_tf.generate.checkpoint import (
        checkpoint_config,
        load_generator,
        save_generator_npz,
    )
    from lipmotion_tf.models.factory import build_generator

    base, config = generator_and_config  # the tiny checkpoint, loaded once per session
    keras.utils.set_random_seed(1)
    generator = build_generator(config)
    other = tmp_path / "other"
    save_generator_npz(generator, config, other, dtype="float32")
    ours, theirs = generator.get_weights(), base.get_weights()
    mixed = tmp_path / "mixed"
    assert main(["export", "checkpoint", "--checkpoint", str(other), "-o", str(mixed), "--dtype",
                 "float32", "--mix-with", str(tiny_checkpoint), "--mix-weight", "0.25",
                 "--ease-in", "3"]) == 0
    mixed_generator, mixed_config = load_generator(mixed)
    assert any(not np.allclose(a, b) for a, b in zip(ours, theirs))
    for got, a, b in zip(mixed_generator.get_weights(), ours, theirs):
        np.testing.assert_allclose(got, 0.25 * a + 0.75 * b, rtol=1e-5, atol=1e-6)
    assert mixed_config.data.ease_in == 3 and checkpoint_config(other).data.ease_in == 0
    capsys.readouterr()

    wider = tmp_path / "wider"
    save_generator_npz(build_generator(tiny_config("model.generator_channels=12")),
                       tiny_config("model.generator_channels=12"), wider)
    _export_checkpoint_refuses((
        (tiny_checkpoint, ["--average", "2"], "averaging needs a training run folder"),
        (other, ["--average", "0"], "--average must be a whole number from 1 to 1000"),
        (other, ["--mix-with", str(wider)], "its generator has another architecture"),
        (other, ["--mix-with", str(tmp_path / "none")], "--mix-with: checkpoint not found"),
        (other, ["--mix-with", str(other), "--mix-weight", "1.5"],
         "--mix-weight must be a number from 0 to 1"),
        (other, ["--ease-in", "-1"], "--ease-in must be a whole number from 0 to"),
    ), tmp_path, capsys)


def test_init_from_copies_the_generator_and_refuses_another_architecture(
        prepared, tmp_path, tiny_checkpoint, capsys):
    config = tiny_config("train.autoencoder_epochs=1")
    out = tmp_path / "run"
    runner.train(config, prepared, out, ("autoencoder",), init_from=tiny_checkpoint,
                 verbose=0, log=lambda line: None)
    with pytest.raises(ConfigError, match="generator_channels=8 but this configuration has 12"):
        runner.train(tiny_config("model.generator_channels=12"), prepared, tmp_path / "other",
                     init_from=tiny_checkpoint, verbose=0, log=lambda line: None)
    assert not (tmp_path / "other" / "config.yaml").exists()
    base = ["train", "--config", str(TINY), "--data", str(prepared), "--output",
            str(tmp_path / "cli"), "--quiet"]
    for extra, message in (
        (["--time-budget", "soon"], "--time-budget: not a duration: 'soon'"),
        (["--time-budget", "0"], "--time-budget: the duration must be positive"),
        (["--init-from", str(tmp_path / "missing")], "--init-from"),
        (["--set", "model.generator_output=residual"], "model.generator_output must be"),
    ):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def _initialised_from(checkpoint, override):
    """``(stored config, [video of the checkpoint's generator, video of a generator built from
    the tiny config with override(stored model config) and initialised from it])`` for one
    random window."""
    from lipmotion_tf.generate.checkpoint import load_generator
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.init_from import check_init_checkpoint, load_generator_weights

    source, stored = load_generator(checkpoint)
    config = tiny_config(override(stored.model))
    check_init_checkpoint(checkpoint, config)
    generator = build_networks(config)["generator"]
    load_generator_weights(generator, checkpoint)
    rng = np.random.default_rng(0)
    inputs = {"audio": rng.normal(size=(2, 32, 128)).astype("float32"),
              "identity": rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")}
    videos = [np.asarray(g(inputs, training=False)["video"]) for g in (source, generator)]
    return stored, videos


def test_init_from_a_shallower_generator_keeps_its_output(tiny_checkpoint):
    from lipmotion_tf.train.init_from import check_init_checkpoint

    stored, (source, grown) = _initialised_from(
        tiny_checkpoint, lambda model: f"model.generator_res_blocks={model.generator_res_blocks + 2}")
    np.testing.assert_allclose(grown, source, atol=1e-5)
    shallower = tiny_config(f"model.generator_res_blocks={stored.model.generator_res_blocks - 1}")
    with pytest.raises(ConfigError, match="generator_res_blocks"):
        check_init_checkpoint(tiny_checkpoint, shallower)
    check_init_checkpoint(tiny_checkpoint, tiny_config("model.generator_attention_region=mouth"))


def test_init_from_adds_a_warp_head_that_starts_near_the_checkpoint_output(tiny_checkpoint):
    stored, (source, warped) = _initialised_from(
        tiny_checkpoint, lambda model: "model.generator_warp_range=4")
    assert stored.model.generator_output == "attention" and not stored.model.generator_warp_range
    difference = np.abs(warped - source)
    assert 0 < difference.max() < 0.05  # shifts of hundredths of a pixel, not yet trained


def test_mixing_with_a_generator_without_warp_halves_the_shifts(tiny_checkpoint):
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.generate.checkpoint import load_generator
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.init_from import load_generator_weights
    from lipmotion_tf.train.run_generator import mix_generator_weights

    plain, _ = load_generator(tiny_checkpoint)
    warped = build_networks(tiny_config("model.generator_warp_range=4"))["generator"]
    load_generator_weights(warped, tiny_checkpoint)
    kernel = np.asarray(warped.decoder_motion.conv.kernel)
    mix_generator_weights(warped, plain, 0.5, "plain")
    np.testing.assert_allclose(np.asarray(warped.decoder_motion.conv.kernel), 0.5 * kernel)
    for ours, theirs in zip(warped.decoder_output.get_weights(), plain.decoder_output.get_weights()):
        np.testing.assert_allclose(ours, theirs)  # the shared blocks: both were the same
    with pytest.raises(InputError, match="another architecture"):
        mix_generator_weights(plain, warped, 0.5, "warped")  # would drop the warp head


def test_init_from_refuses_to_drop_a_warp_head(tmp_path):
    from lipmotion_tf.train.init_from import check_init_checkpoint
    from lipmotion_tf.train.runner import save_config

    save_config(tiny_config("model.generator_warp_range=4"), tmp_path / "config.yaml")
    with pytest.raises(ConfigError, match="generator_warp_range=4 but this configuration has 0"):
        check_init_checkpoint(tmp_path, tiny_config())


def test_init_from_takes_a_generator_with_another_dead_zone(tmp_path):
    from lipmotion_tf.train.init_from import check_init_checkpoint
    from lipmotion_tf.train.runner import save_config

    attention = "model.generator_output=attention"
    save_config(tiny_config(attention), tmp_path / "config.yaml")
    check_init_checkpoint(tmp_path, tiny_config(attention, "model.generator_dead_zone=0.05"))


@pytest.mark.parametrize("content, words", [
    (b"model:\n  generator_width: \xff\xfe\n", "not UTF-8 text"),
    (b"model: [1, 2\n", "not valid YAML"),
    (b"- model\n", "not an experiment config"),
    (b"model: 3\n", "not an experiment config"),
])
def test_init_from_an_unreadable_config_is_one_config_error_naming_it(tmp_path, content, words):
    from lipmotion_tf.train.init_from import check_init_checkpoint

    (tmp_path / "config.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match=words) as error:
        check_init_checkpoint(tmp_path, tiny_config())
    message = str(error.value)
    assert str(tmp_path / "config.yaml") in message and len(message.splitlines()) == 1


def test_init_from_a_run_stopped_before_saving_a_generator(tmp_path):
    from lipmotion_tf.models.factory import build_generator, build_networks
    from lipmotion_tf.train.gan import LipMotionGAN
    from lipmotion_tf.train.init_from import load_generator_weights
    from lipmotion_tf.train.runner import save_config, zero_batch

    config = tiny_config()
    networks = build_networks(config)
    gan = LipMotionGAN(**networks, discriminator_streams=config.model.discriminator_streams)
    gan.build_from_batch(zero_batch(config))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_config(config, run / "config.yaml")
    gan.save_weights(str(run / "checkpoints" / "warmup-epoch001.weights.h5"))
    generator = build_generator(config)
    load_generator_weights(generator, run)
    for a, b in zip(generator.get_weights(), networks["generator"].get_weights()):
        np.testing.assert_array_equal(a, b)
    (run / "checkpoints" / "warmup-epoch001.weights.h5").unlink()
    with pytest.raises(ConfigError, match="no generator weights yet"):
        load_generator_weights(generator, run)


def test_durations_parse():
    from lipmotion_tf.train.time_budget import parse_duration

    assert parse_duration("2h") == 7200 and parse_duration("1h30m") == 5400
    assert parse_duration("90m") == 5400 and parse_duration("45") == 45
    for bad in ("", "h", "-5", "nan", "inf", "2d", "1h 2m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.slow
def test_all_stages_train_and_save_their_outputs(prepared, tmp_path):
    out = tmp_path / "run"
    result = runner.train(tiny_config(), prepared, out, verbose=0, log=lambda line: None)
    assert result.stages_run == ["flow", "autoencoder", "gan"]
    for name in ("config.yaml", "flownet.weights.h5", "autoencoder.weights.h5",
                 "generator.keras", "gan.weights.h5", "gan_log.csv"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "checkpoints").glob("*.weights.h5")) == [
        "autoencoder-epoch001.weights.h5", "flow-epoch001.weights.h5", "gan-epoch001.weights.h5"
    ]
    assert [p.name for p in (out / "checkpoints" / "generator").iterdir()] == [
        "gan-epoch001.weights.h5"]
    assert list((out / "logs" / "gan" / "previews").iterdir())
    saved = load_config(out / "config.yaml")
    assert saved == tiny_config()
    for stage, history in result.history.items():
        assert all(math.isfinite(v) for values in history.values() for v in values), stage
    generator = keras.saving.load_model(out / "generator.keras")
    video = generator({"audio": np.zeros((1, 64, 128), np.float32),
                       "identity": np.zeros((1, 64, 64, 3), np.float32)})["video"]
    assert tuple(video.shape) == (1, 16, 64, 64, 3)


@pytest.mark.slow  # twelve GAN steps on real GRID clips
def test_tiny_gan_overfits_one_real_batch(shared_data):
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.gan import LipMotionGAN

    # All losses on; L1 weighted up so that the check is about fitting, not the GAN game.
    config = tiny_config("loss.reconstruction=20")
    batch = _real_batch(shared_data, config)
    keras.utils.set_random_seed(0)
    gan = LipMotionGAN(**build_networks(config), seed=0)
    gan.compile(
        keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5),
        keras.optimizers.AdamW(1e-4, weight_decay=5e-4),
        keras.optimizers.AdamW(1e-4, weight_decay=4e-4), loss_config=config.loss,
    )
    gan.build_from_batch(batch)
    l1 = [float(gan.train_on_batch(batch, return_dict=True)["reconstruction"]) for _ in range(12)]
    assert all(math.isfinite(v) for v in l1)
    # Seed 0 is at 0.14-0.15 of the first loss after 7-12 steps (attention output); an
    # untrained or broken step stays near 1. Twelve steps keep the test short on any CPU.
    assert min(l1[-3:]) <= 0.6 * l1[0], l1


# ------------------------------------------------------------------ distribution


MIRRORED_SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from lipmotion_tf.config import load_config
from lipmotion_tf.train import runner
import keras

class Check(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        variable = self.model.generator.trainable_variables[0].value
        replicas = [v.numpy() for v in variable.values]
        self.report = {"replicas": len(replicas),
                       "in_sync": all((r == replicas[0]).all() for r in replicas)}

config = load_config(sys.argv[1], ["train.distribute=mirrored", "data.batch_size=2"])
check = Check()
result = runner.train(config, sys.argv[2], sys.argv[3], ("gan",), callbacks=[check],
                      verbose=0, log=lambda line: None)
print("RESULT " + json.dumps({**check.report, "history": result.history["gan"]}))
"""


@pytest.mark.slow
def test_gan_stage_runs_under_mirrored_strategy_on_two_cpus(prepared, tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(TINY), str(prepared), str(tmp_path / "run")],
        capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    report = json.loads(lines[-1][len("RESULT "):])
    assert report["replicas"] == 2 and report["in_sync"]
    for name, values in report["history"].items():
        assert all(math.isfinite(v) for v in values), name


# --------------------------------------------------------------------------- JAX


JAX_STEP_SCRIPT = """
import json, sys
import numpy as np
import keras
from lipmotion_tf.testing import tiny_experiment_config
from lipmotion_tf.models.factory import build_networks
from lipmotion_tf.train.gan import LipMotionGAN

assert keras.backend.backend() == "jax"
work = sys.argv[1]
batch = dict(np.load(work + "/batch.npz"))
config = tiny_experiment_config()
gan = LipMotionGAN(**build_networks(config), seed=0)
gan.compile(*[keras.optimizers.SGD(1e-3) for _ in range(4)], loss_config=config.loss)
gan.load_weights(work + "/tf_initial.weights.h5")
inputs = {"audio": batch["audio"], "identity": batch["identity"]}
before = np.asarray(gan.generator(inputs, training=False)["video"])
logs = gan.train_on_batch(batch, return_dict=True)
after = np.asarray(gan.generator(inputs, training=False)["video"])
gan.save_weights(work + "/jax_trained.weights.h5")
np.savez(work + "/jax_outputs.npz", before=before, after=after)
print("RESULT " + json.dumps({k: float(v) for k, v in logs.items()}))
"""

TRAINED = ("generator", "discriminator", "flownet", "audio_encoder", "flow_encoder")


@pytest.mark.slow
def test_jax_step_matches_tensorflow_and_weights_cross_backends(tmp_path):
    """TF and JAX run the same GAN step; weights saved by either load in the other."""
    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.testing import tiny_experiment_config
    from lipmotion_tf.train.gan import LipMotionGAN

    rng = np.random.default_rng(0)
    batch = {
        "audio": rng.normal(-40, 15, (2, 64, 128)).astype(np.float32),
        "video": np.tanh(rng.normal(0, 1, (2, 16, 64, 64, 3))).astype(np.float32),
        "identity": rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32),
        "mismatch_audio": rng.normal(-40, 15, (2, 64, 128)).astype(np.float32),
    }
    np.savez(tmp_path / "batch.npz", **batch)
    config = tiny_experiment_config()
    keras.utils.set_random_seed(0)
    networks = build_networks(config)
    gan = LipMotionGAN(**networks, seed=0)
    # SGD keeps the comparison proportional: Adam's first step is lr * sign(gradient), which
    # turns last-bit differences of near-zero gradients into whole steps.
    gan.compile(*[keras.optimizers.SGD(1e-3) for _ in range(4)], loss_config=config.loss)
    gan.save_weights(str(tmp_path / "tf_initial.weights.h5"))
    inputs = {"audio": batch["audio"], "identity": batch["identity"]}
    tf_before = np.asarray(gan.generator(inputs, training=False)["video"])
    start = {n: [v.numpy().copy() for v in networks[n].trainable_variables] for n in TRAINED}
    tf_logs = {k: float(v) for k, v in gan.train_on_batch(batch, return_dict=True).items()}
    tf_after = {n: [v.numpy().copy() for v in networks[n].trainable_variables] for n in TRAINED}

    out = subprocess.run(
        [sys.executable, "-c", JAX_STEP_SCRIPT, str(tmp_path)], capture_output=True, text=True,
        timeout=1200, cwd=REPO_ROOT, env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    jax_logs = json.loads(lines[-1][len("RESULT "):])
    jax_outputs = np.load(tmp_path / "jax_outputs.npz")

    # TF weights loaded under JAX give TF's output (float32 convolutions differ in the
    # last bits between backends).
    assert np.abs(jax_outputs["before"] - tf_before).max() < 5e-4
    # The same step: the same losses and the same update of every trained network.
    for name, value in tf_logs.items():
        assert jax_logs[name] == pytest.approx(value, rel=1e-3, abs=1e-5), (name, jax_logs)
    gan.load_weights(str(tmp_path / "jax_trained.weights.h5"))
    for name in TRAINED:
        variables = networks[name].trainable_variables
        update = max(np.abs(a - b).max() for a, b in zip(tf_after[name], start[name]))
        gap = max(np.abs(v.numpy() - a).max() for v, a in zip(variables, tf_after[name]))
        assert update > 0 and gap < 0.01 * update, (name, update, gap)
    # JAX-trained weights loaded under TF give JAX's output.
    tf_output = np.asarray(gan.generator(inputs, training=False)["video"])
    assert np.abs(tf_output - jax_outputs["after"]).max() < 5e-4


JAX_RUNNER_SCRIPT = """
import json, sys
import keras
from lipmotion_tf.config import load_config
from lipmotion_tf.train import runner

assert keras.backend.backend() == "jax"
config = load_config(sys.argv[1], ["train.autoencoder_epochs=4", "train.steps_per_epoch=2",
                                   "train.gan_epochs=1", "train.validation_steps=1"])
result = runner.train(config, sys.argv[2], sys.argv[3], ("autoencoder", "gan"), verbose=0,
                      log=lambda line: None)
print("RESULT " + json.dumps(result.history))
"""


@pytest.mark.slow
def test_jax_backend_trains_from_numpy_data(prepared, tmp_path):
    from lipmotion_tf.data.numpy_data import export_numpy

    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "val"):  # what the GPU machine (no TensorFlow) receives
        export_numpy(prepared, split, data / f"{split}.npz", tiny_config())
    out = subprocess.run(
        [sys.executable, "-c", JAX_RUNNER_SCRIPT, str(TINY), str(data), str(tmp_path / "run")],
        capture_output=True, text=True, timeout=1500, cwd=REPO_ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    history = json.loads(lines[-1][len("RESULT "):])
    losses = history["autoencoder"]["loss"]
    assert losses[-1] < losses[0], losses
    assert all(math.isfinite(v) for values in history["gan"].values() for v in values)
    assert (tmp_path / "run" / "generator.keras").is_file()


def _export_checkpoint_refuses(cases, tmp_path, capsys) -> None:
    """Each ``(checkpoint, extra options, message)``: `export checkpoint` exits 2 with the
    message in one line and writes nothing."""
    for index, (checkpoint, extra, message) in enumerate(cases):
        bad = tmp_path / f"bad{index}"
        assert main(["export", "checkpoint", "--checkpoint", str(checkpoint), "-o", str(bad),
                     *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not bad.exists()
