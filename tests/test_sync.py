"""The lip-sync judge: shift search, expert, training, ``sync-check`` and the sync loss."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

CLI = [sys.executable, "-m", "lipmotion_tf.cli.main"]


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("offset", [0, 4, -7])
def test_shift_search_finds_a_known_offset(offset):
    from lipmotion_tf.sync.offset import score_embeddings

    rng = np.random.default_rng(1)
    speech = _unit(rng.normal(size=(120, 16)))
    # The mouth at frame i is what the speech says at i + offset (audio late when positive).
    mouth = _unit(np.roll(speech, -offset, axis=0) + 0.3 * rng.normal(size=(120, 16)))
    score = score_embeddings(speech, mouth)
    assert score.offset == offset
    assert score.lse_c > 0.3
    assert score.lse_d == pytest.approx(np.nanmin(score.distances))
    # A still mouth (one embedding for every window) has no shift that stands out.
    still = score_embeddings(speech, np.repeat(mouth[:1], 120, axis=0))
    assert still.lse_c < 0.1 * score.lse_c


def test_windows_over_faceless_frames_are_left_out():
    from lipmotion_tf.sync.offset import shift_distances, window_validity

    found = np.ones(12, bool)
    found[5] = False
    valid = window_validity(found, 3)
    assert valid.tolist() == [True, True, True, False, False, False, True, True, True, True]
    assert window_validity(found[:2], 3).size == 0
    rng = np.random.default_rng(0)
    speech = _unit(rng.normal(size=(10, 4)))
    _, windows = shift_distances(speech, speech, valid, max_offset=2)
    assert windows == 7


def test_delayed_log_mel_keeps_its_length_and_moves_the_sound():
    from lipmotion_tf.sync.offset import delay_log_mel

    log_mel = np.arange(40, dtype=np.float32).reshape(20, 2)  # 5 frames of 4 rows
    late = delay_log_mel(log_mel, 2, 4)
    assert late.shape == log_mel.shape
    np.testing.assert_array_equal(late[8:], log_mel[:12])
    np.testing.assert_array_equal(late[:8], np.broadcast_to(log_mel.min(axis=0), (8, 2)))
    early = delay_log_mel(log_mel, -1, 4)
    np.testing.assert_array_equal(early[:16], log_mel[4:])
    assert delay_log_mel(log_mel, 0, 4) is log_mel


def test_matching_loss_is_low_for_aligned_and_high_for_shuffled_mouths():
    from lipmotion_tf.sync.losses import matching_loss, shift_accuracy

    rng = np.random.default_rng(0)
    speech = _unit(rng.normal(size=(4, 30, 8))).astype(np.float32)
    aligned = float(np.mean(matching_loss(speech, speech, 5, 20.0)))
    shuffled = speech[:, rng.permutation(30)]
    assert aligned < 0.5 < float(np.mean(matching_loss(speech, shuffled, 5, 20.0)))
    assert float(shift_accuracy(speech, speech, 5)) == 1.0


def test_expert_config_round_trip_and_any_length():
    from lipmotion_tf.sync.expert import SyncExpert

    expert = SyncExpert(n_mels=16, channels=8, embedding=4, window=5, name="sync_expert")
    clone = SyncExpert.from_config(expert.get_config())
    assert clone.get_config() == expert.get_config()
    for frames in (5, 9, 40):
        speech, mouth = expert({"log_mel": np.zeros((2, 4 * frames, 16), np.float32),
                                "motion": np.zeros((2, frames, 59, 2), np.float32)})
        assert tuple(speech.shape) == tuple(mouth.shape) == (2, frames - 4, 4)
        np.testing.assert_allclose(np.linalg.norm(np.asarray(speech), axis=-1), 1.0, atol=1e-5)


def _tiny_sync_config():
    from lipmotion_tf.sync.config import SyncExperimentConfig

    config = SyncExperimentConfig()
    config.audio.n_mels = 8
    config.model.channels = 16
    config.model.embedding = 8
    config.data.sequence = 24
    config.data.batch_size = 8
    config.data.max_shift = 4
    config.validate()
    return config


def _synthetic_batch(config, rng, batch: int = 8):
    """Speech whose loudness the mouth follows frame by frame (nothing else to learn)."""
    frames, m = config.data.sequence, config.audio.mel_frames_per_frame
    loud = rng.normal(0.0, 1.0, (batch, frames))
    log_mel = (np.repeat(loud, m, axis=1)[:, :, None] * 10.0 - 30.0
               + rng.normal(0.0, 1.0, (batch, frames * m, config.audio.n_mels)))
    motion = np.zeros((batch, frames, config.model.points, 2), np.float32)
    motion[..., 1] = 0.05 * loud[:, :, None]
    return {"log_mel": log_mel.astype(np.float32)}, motion


@pytest.mark.slow  # 40 epochs of the sync expert: about 10 s on 2 shared cores (the expert's loss
# trains the motion model in test_motion_trainer_with_the_sync_loss_fits below)
def test_tiny_fit_learns_to_find_the_aligned_window():
    import keras

    from lipmotion_tf.sync.trainer import SyncTrainer
    from lipmotion_tf.sync.checkpoint import build_expert

    keras.utils.set_random_seed(0)
    config = _tiny_sync_config()
    trainer = SyncTrainer(build_expert(config), config.data.max_shift)
    trainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    inputs, motion = _synthetic_batch(config, np.random.default_rng(0))
    before = trainer.evaluate(inputs, motion, verbose=0, return_dict=True)
    trainer.fit(inputs, motion, epochs=40, batch_size=8, verbose=0)
    after = trainer.evaluate(*_synthetic_batch(config, np.random.default_rng(1)), verbose=0,
                             return_dict=True)
    assert after["loss"] < before["loss"] - 0.5
    assert after["accuracy"] > 0.6  # chance: 1 in 9 shifts


def test_sync_config_errors_name_the_key():
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.sync.config import SyncExperimentConfig

    for override, key in [("model.window=4", "model.window"), ("data.batch_size=1",
                          "data.batch_size"), ("data.sequence=10", "data.sequence"),
                          ("train.learning_rate=-1", "train.learning_rate")]:
        with pytest.raises(ConfigError, match=key):
            load_config(None, [override], config_class=SyncExperimentConfig)


def test_motion_trainer_with_the_sync_loss_fits(tmp_path):
    """The motion model trains with a (tiny) expert's loss; the switch turns it on."""
    import keras

    from lipmotion_tf.motion.config import MotionExperimentConfig
    from lipmotion_tf.motion.training import SyncSwitch, build_trainer
    from lipmotion_tf.sync.config import WEIGHTS_NAME
    from lipmotion_tf.sync.checkpoint import build_expert
    from lipmotion_tf.train.runner import save_config

    keras.utils.set_random_seed(0)
    sync = _tiny_sync_config()
    sync.audio.n_mels = 16
    build_expert(sync).save_weights(str(tmp_path / WEIGHTS_NAME))
    save_config(sync, tmp_path / "config.yaml")
    config = MotionExperimentConfig()
    config.model.channels, config.model.dilations, config.audio.n_mels = 16, [1, 2], 16
    config.data.window, config.data.batch_size = 20, 4
    config.loss.sync, config.loss.sync_expert, config.loss.sync_shift = 0.5, str(tmp_path), 4
    config.loss.sync_start = 100.0
    config.validate()
    rng = np.random.default_rng(0)
    batch = ({"log_mel": rng.normal(-30, 10, (4, 80, 16)).astype(np.float32),
              "rest": rng.normal(0, 0.3, (4, 59, 2)).astype(np.float32)},
             rng.normal(0, 0.02, (4, 20, 59, 2)).astype(np.float32))
    trainer = build_trainer(config, batch)
    assert float(trainer.sync_weight.numpy()) == 0.0
    history = trainer.fit(*batch, epochs=2, batch_size=4, verbose=0, validation_data=batch,
                          callbacks=[SyncSwitch(config.loss.sync_start, log=lambda _: None)])
    assert np.isfinite(history.history["sync_loss"]).all()
    assert float(trainer.sync_weight.numpy()) == 1.0
    expert_before = [w.copy() for w in trainer.sync_expert.get_weights()]
    trainer.fit(*batch, epochs=1, batch_size=4, verbose=0)
    for before, after in zip(expert_before, trainer.sync_expert.get_weights()):
        np.testing.assert_array_equal(before, after)  # the expert stays fixed


def _sync_check(*args):
    done = subprocess.run(CLI + ["sync-check", "--json", *map(str, args)], capture_output=True,
                          text=True)
    return done


def _delayed_copy(video, out, frames: int, blank=()):
    """``video`` with its sound ``frames`` frames (of 25 fps) late and the frames ``blank``
    black (no face)."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.video.reader import iter_video

    rate = 16000
    speech = load_audio(video, rate)
    speech = np.concatenate([np.zeros(frames * rate // 25, np.float32), speech])
    images = list(iter_video(video, 25))
    for index in blank:
        images[index] = np.zeros_like(images[index])
    height, width = images[0].shape[:2]
    with Mp4Writer(out, 25, width, height, speech[:len(images) * rate // 25], rate) as writer:
        for image in images:
            writer.write(image)
    return out


@pytest.mark.slow  # a real GRID clip and its delayed copy, each checked in a fresh process: about
# 25 s on 2 shared cores (sync-check's refusals stay in the default suite)
def test_sync_check_finds_a_real_clip_in_sync_and_its_delayed_copy_late(shared_data, tmp_path):
    video = shared_data / "grid" / "speakers" / "s3" / "bbaf2p.mpg"
    done = subprocess.run(CLI + ["sync-check", "--no-progress", str(video)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0].endswith(": in sync"), done.stdout
    late = _delayed_copy(video, tmp_path / "late.mp4", 6, blank=range(30, 40))
    done = _sync_check(late, "--segments", 1)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert 5 <= report["offset_frames"] <= 7, report
    assert report["verdict"].startswith("audio late by")
    assert report["offset_ms"] == pytest.approx(40.0 * report["offset_frames"])
    assert report["frames_without_face"] == 10 and report["confidence"] > 0.05
    assert len(report["segments"]) == 3  # 3 s of video in 1 s segments


def test_sync_check_refuses_what_it_cannot_judge(tmp_path):
    from lipmotion_tf.generate.mp4_writer import Mp4Writer

    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (64, 64, 3), np.uint8) for _ in range(40)]
    speech = rng.normal(0, 0.1, 16000 * 40 // 25).astype(np.float32)
    cases = {}
    with Mp4Writer(tmp_path / "silent.mp4", 25, 64, 64) as writer:
        for frame in noise:
            writer.write(frame)
    cases["silent.mp4"] = "no audio track"
    with Mp4Writer(tmp_path / "faceless.mp4", 25, 64, 64, speech, 16000) as writer:
        for frame in noise:
            writer.write(frame)
    cases["faceless.mp4"] = "no face in any of its"
    with Mp4Writer(tmp_path / "short.mp4", 25, 64, 64, speech[:8000], 16000) as writer:
        for frame in noise[:12]:
            writer.write(frame)
    cases["short.mp4"] = "too short to judge"
    (tmp_path / "broken.mp4").write_text("not a video")
    cases["broken.mp4"] = "broken.mp4"
    cases["missing.mp4"] = "not found"
    for name, message in cases.items():
        done = _sync_check(tmp_path / name)
        assert done.returncode == 2, (name, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, (name, done.stderr)
