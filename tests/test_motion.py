"""The motion model: representation, losses, a tiny fit, and the CLI chain on real clips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.template import FRONTAL_TEMPLATE

REPO_ROOT = Path(__file__).resolve().parents[1]


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _synthetic_face(rng, frames: int = 5) -> np.ndarray:
    """A stored-point mesh: template stable points and a random mouth, in some pixel pose."""
    points = rng.normal(0.0, 0.2, (frames, len(rep.STORED_INDICES), 3))
    points[..., 1] += 0.7  # the mouth below the eyes
    stable = rep.select(np.zeros((len(rep.STORED_INDICES), 3)), rep.STABLE_INDICES,
                        rep.STORED_INDICES)
    lookup = {v: i for i, v in enumerate(rep.STORED_INDICES)}
    for position, index in enumerate(rep.STABLE_INDICES):
        points[:, lookup[index]] = FRONTAL_TEMPLATE[position]
    left, right = lookup[61], lookup[291]
    points[:, left] = [-0.3, 0.7, 0.0]
    points[:, right] = [0.3, 0.7, 0.0]
    assert stable.shape == (len(rep.STABLE_INDICES), 3)
    rotation = _random_rotation(rng) if frames else None
    return 140.0 * np.einsum("ij,tnj->tni", rotation, points) + np.array([300.0, 220.0, 5.0])


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(3, 19, 3))
    rotation = _random_rotation(rng)
    target = 2.5 * np.einsum("ij,tnj->tni", rotation, source) + np.array([1.0, -2.0, 3.0])
    scale, fitted, translation = rep.fit_similarity(source, target)
    np.testing.assert_allclose(scale, 2.5, rtol=1e-9)
    np.testing.assert_allclose(fitted, np.broadcast_to(rotation, (3, 3, 3)), atol=1e-9)
    np.testing.assert_allclose(translation, np.broadcast_to([1.0, -2.0, 3.0], (3, 3)), atol=1e-9)


def test_pixels_to_mouth_frame_round_trip_is_exact():
    rng = np.random.default_rng(1)
    mesh = _synthetic_face(rng)
    stable = rep.select(mesh, rep.STABLE_INDICES, rep.STORED_INDICES)
    frontal = rep.frontal_transform(stable, FRONTAL_TEMPLATE)
    rest = rep.apply(rep.select(mesh, rep.MOTION_INDICES, rep.STORED_INDICES), frontal)[0]
    transform = rep.compose(rep.mouth_frame(rest), frontal)
    mouth = rep.apply(mesh, transform)
    back = rep.invert(mouth, transform)
    assert np.abs(back - mesh).max() < 1e-4 * np.abs(mesh).max()


def test_mouth_frame_is_invariant_to_head_rotation_scale_and_shift():
    rng = np.random.default_rng(2)
    mesh = _synthetic_face(rng, frames=1)
    moved = 0.6 * np.einsum("ij,tnj->tni", _random_rotation(rng), mesh) + np.array([40.0, 9, -3])
    results = []
    for points in (mesh, moved):
        stable = rep.select(points, rep.STABLE_INDICES, rep.STORED_INDICES)
        frontal = rep.apply(rep.select(points, rep.MOTION_INDICES, rep.STORED_INDICES),
                            rep.frontal_transform(stable, FRONTAL_TEMPLATE))
        results.append(rep.apply(frontal, rep.mouth_frame(frontal[0])))
    np.testing.assert_allclose(results[0], results[1], atol=1e-4)
    # The mouth frame: corners at (-0.5, 0) and (0.5, 0).
    np.testing.assert_allclose(results[0][0, rep.LEFT_CORNER, :2], [-0.5, 0.0], atol=1e-5)
    np.testing.assert_allclose(results[0][0, rep.RIGHT_CORNER, :2], [0.5, 0.0], atol=1e-5)


def test_rest_shape_takes_the_most_closed_frames():
    points = np.zeros((10, rep.NUM_MOTION_POINTS, 3), np.float32)
    for t in range(10):
        points[t, rep.LOWER_INNER, 1] = 0.05 * t  # frame 0 closed, frame 9 wide open
    rest = rep.rest_shape(points, fraction=0.1)
    assert rest[rep.LOWER_INNER, 1] == 0.0


def test_losses_on_tiny_cases_with_known_answers():
    from lipmotion_tf.motion import losses

    real = np.zeros((1, 3, 2, 2), np.float32)
    generated = np.full((1, 3, 2, 2), 0.1, np.float32)
    weights = np.ones((1, 3), np.float32)
    assert float(losses.landmark_loss(real, generated, weights, 10.0)) == pytest.approx(1.0)
    assert float(losses.velocity_loss(real, generated, 10.0)) == pytest.approx(0.0)
    moving = np.cumsum(np.full((1, 3, 2, 2), 0.1, np.float32), axis=1)
    assert float(losses.velocity_loss(real, moving, 10.0)) == pytest.approx(1.0)
    a = np.array([[[1.0, 0.0], [0.0, 1.0]]], np.float32)
    assert float(losses.derivative_correlation_loss(a, a)) == pytest.approx(0.0)
    assert float(losses.derivative_correlation_loss(a, -a)) == pytest.approx(2.0)
    assert float(losses.binary_logit_loss(np.zeros(4, np.float32), 1.0)) == pytest.approx(np.log(2))
    alternating = np.zeros((1, 4, 2, 2), np.float32)
    alternating[:, ::2] = 0.1
    alternating[:, 1::2] = -0.1
    # 1 = (spread 1 - spread 0)^2, less the variance floor's share (sqrt(1e-6) = 0.001).
    assert float(losses.amplitude_loss(np.zeros_like(alternating), alternating, 10.0)) == (
        pytest.approx(0.998, abs=1e-3))
    closed = losses.closed_frame_weights(np.array([0.0, 10.0], np.float32), 2.0)
    np.testing.assert_allclose(np.asarray(closed), [3.0, 1.0], atol=1e-6)
    wave = np.sin(np.linspace(0, 6, 20, dtype=np.float32))[None] * 0.1 + 0.1
    assert float(losses.opening_correlation_loss(wave, 2 * wave)) == pytest.approx(0.0, abs=1e-4)
    assert float(losses.opening_correlation_loss(wave, -wave)) == pytest.approx(2.0, abs=1e-4)
    # A still real window (no timing to match) counts for almost nothing next to a moving one.
    still = np.full_like(wave, 0.05)
    both = losses.opening_correlation_loss(np.concatenate([wave, still]),
                                           np.concatenate([wave, wave]))
    assert float(both) < 0.02


def _tiny_config(**loss):
    from lipmotion_tf.motion.config import MotionExperimentConfig

    config = MotionExperimentConfig()
    config.model.channels = 16
    config.model.dilations = [1, 2]
    config.audio.n_mels = 16
    config.data.window = 12
    config.data.batch_size = 4
    config.model.dropout = 0.0  # a tiny fit on one batch: nothing to regularise
    config.model.rest_noise = 0.0
    for key, value in loss.items():
        setattr(config.loss, key, value)
    config.validate()
    return config


def _tiny_batch(config, rng):
    frames, m = config.data.window, config.audio.mel_frames_per_frame
    log_mel = rng.normal(0.0, 10.0, (4, frames * m, config.audio.n_mels)).astype(np.float32)
    rest = rng.normal(0.0, 0.3, (4, config.model.points, 2)).astype(np.float32)
    # The target moves with the audio's loudness, so a fit has something to learn.
    loud = log_mel.reshape(4, frames, m, -1).mean(axis=(2, 3))
    motion = np.repeat((loud / 100.0)[:, :, None, None], config.model.points, axis=2)
    motion = np.repeat(motion, 2, axis=3).astype(np.float32)
    return {"log_mel": log_mel, "rest": rest}, motion


@pytest.mark.parametrize("loss, limit", [
    pytest.param({}, 0.6, id="landmark"),
    # the same fit with the correlation and adversarial terms, which pull against the landmark
    # term in 60 steps (0.62 of the first loss on machine D): about 20 s on 2 shared cores
    pytest.param({"correlation": 0.5, "adversarial": 0.1}, 0.75, id="correlation_adversarial",
                 marks=pytest.mark.slow),
])
def test_tiny_fit_lowers_the_landmark_loss(loss, limit):
    import keras

    from lipmotion_tf.motion.training import build_trainer

    keras.utils.set_random_seed(0)
    config = _tiny_config(**loss)
    config.train.learning_rate = 3e-3
    batch = _tiny_batch(config, np.random.default_rng(0))
    trainer = build_trainer(config, batch)
    before = trainer.evaluate(*batch, verbose=0, return_dict=True)["landmark"]
    trainer.fit(*batch, epochs=60, batch_size=4, verbose=0)
    after = trainer.evaluate(*batch, verbose=0, return_dict=True)["landmark"]
    assert after < limit * before


def test_windows_hear_speech_beyond_the_frames_they_score():
    """data.context: a window's log-mel reaches ``context`` frames past each side (the clip's
    edge frames repeated past its ends); its motion stays the window's own; the trainer
    scores only those frames."""
    from lipmotion_tf.motion.dataset import MotionSequence, window_at
    from lipmotion_tf.motion.training import build_trainer

    m, frames = 4, 20
    log_mel = np.repeat(np.arange(m * frames, dtype=np.float32)[:, None], 3, axis=1)
    motion = np.arange(frames, dtype=np.float32)[:, None, None] * np.ones((1, 59, 2), np.float32)
    sequence = MotionSequence("c", "g", log_mel, np.zeros((59, 2), np.float32), motion,
                              np.ones(frames, bool))
    heard, _, scored = window_at(sequence, 5, 8, m, context=3)
    assert heard.shape[0] == m * 14 and scored.shape[0] == 8
    np.testing.assert_array_equal(heard[:, 0], np.arange(m * 2, m * 16))
    np.testing.assert_array_equal(scored[:, 0, 0], np.arange(5, 13))
    edge, _, _ = window_at(sequence, 0, 8, m, context=3)  # before the clip: its first frame
    np.testing.assert_array_equal(edge[:, 0], np.r_[np.zeros(m * 3), np.arange(m * 11)])
    tail, _, _ = window_at(sequence, 12, 8, m, context=3)
    np.testing.assert_array_equal(tail[-m * 3:, 0], np.full(m * 3, m * frames - 1))

    config = _tiny_config()
    config.data.context = 4
    inputs, real = _tiny_batch(config, np.random.default_rng(0))
    window = config.data.window
    inputs["log_mel"] = np.concatenate([inputs["log_mel"][:, :4 * m], inputs["log_mel"],
                                        inputs["log_mel"][:, -4 * m:]], axis=1)
    trainer = build_trainer(config, (inputs, real))
    generated, features = trainer._heard(inputs)
    assert generated.shape[1] == window and features.shape[1] == m * window
    history = trainer.fit(inputs, real, epochs=2, batch_size=4, verbose=0).history
    assert np.isfinite(history["landmark"]).all()


def test_final_learning_rate_is_reached_along_a_cosine():
    from lipmotion_tf.motion.training import build_trainer

    config = _tiny_config()
    config.train.epochs, config.train.steps_per_epoch = 2, 3
    config.train.learning_rate, config.train.final_learning_rate = 1e-3, 1e-4
    batch = _tiny_batch(config, np.random.default_rng(0))
    trainer = build_trainer(config, batch)
    assert float(trainer.g_optimizer.learning_rate) == pytest.approx(1e-3)
    trainer.fit(*batch, epochs=6, batch_size=4, verbose=0)  # 6 steps of 4
    assert float(trainer.g_optimizer.learning_rate) == pytest.approx(1e-4, rel=1e-3)


def test_weight_decay_shrinks_kernels_and_leaves_biases_and_norms():
    """``train.weight_decay``: AdamW on the generator's kernels only."""
    import keras

    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.motion.config import MotionExperimentConfig
    from lipmotion_tf.motion.training import build_trainer

    config = _tiny_config()
    config.train.weight_decay = 0.5
    batch = _tiny_batch(config, np.random.default_rng(0))
    trainer = build_trainer(config, batch)
    assert isinstance(trainer.g_optimizer, keras.optimizers.AdamW)
    decayed = {v.path: trainer.g_optimizer._use_weight_decay(v)
               for v in trainer.generator.trainable_variables}
    assert any(decayed[p] for p in decayed if p.endswith("kernel"))
    assert not any(decayed[p] for p in decayed
                   if p.endswith(("bias", "gamma", "beta")))
    with pytest.raises(ConfigError, match="train.weight_decay"):
        load_config(None, ["train.weight_decay=2"], config_class=MotionExperimentConfig)


def test_generator_config_round_trip_and_any_length():
    from lipmotion_tf.motion.motion_generator import MotionGenerator

    config = _tiny_config()
    generator = MotionGenerator.from_experiment(config)
    clone = MotionGenerator.from_config(generator.get_config())
    assert clone.get_config() == generator.get_config()
    for frames in (1, 7, 33):
        out = generator({"log_mel": np.zeros((1, 4 * frames, 16), np.float32),
                         "rest": np.zeros((1, 59, 2), np.float32)})
        assert tuple(out.shape) == (1, frames, 59, 2)


def test_frequency_warp_moves_formants_and_draws_windows_within_its_range():
    """data.frequency_warp: a factor of 1 changes nothing; a band's energy moves to the band
    whose centre is ``factor`` times as high; the sampler warps speech windows only."""
    from lipmotion_tf.config import AudioConfig
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.motion.config import MotionDataConfig
    from lipmotion_tf.audio.mel_filterbank import mel_centres
    from lipmotion_tf.motion.dataset import MotionSequence, WindowSampler, warp_frequencies

    audio = AudioConfig()
    hz = mel_centres(audio.n_mels, audio.fmin, audio.fmax)
    assert hz.shape == (audio.n_mels,) and np.all(np.diff(hz) > 0)
    log_mel = np.random.default_rng(0).normal(size=(12, audio.n_mels)).astype(np.float32)
    np.testing.assert_allclose(warp_frequencies(log_mel, hz, 1.0), log_mel, atol=1e-6)
    peak = np.zeros((1, audio.n_mels), np.float32)
    peak[0, 60] = 1.0
    for factor in (0.9, 1.1):
        moved = int(np.argmax(warp_frequencies(peak, hz, factor)))
        assert moved == int(np.argmin(np.abs(hz - factor * hz[60]))) and moved != 60

    frames = 30
    sequence = MotionSequence("c", "g", log_mel.repeat(10, axis=0)[:4 * frames],
                              np.zeros((59, 2), np.float32),
                              np.zeros((frames, 59, 2), np.float32), np.ones(frames, bool))
    plain = WindowSampler([sequence], 20, audio, seed=3)
    warped = WindowSampler([sequence], 20, audio, seed=3, frequency_warp=0.1)
    assert not np.allclose(warped.sample()[0], plain.sample()[0])
    with pytest.raises(ConfigError, match="data.frequency_warp"):
        MotionDataConfig(frequency_warp=0.5).validate()


def test_tempo_babble_and_noise_keep_speech_and_motion_together():
    """data.tempo resamples a window's speech and motion along one time axis (a ramp stays
    a ramp); data.babble adds another voice in power, ``snr`` dB below; data.noise another
    clip's room tone, its quietest frames; all are bounded."""
    from lipmotion_tf.config import AudioConfig
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.motion.config import MotionDataConfig
    from lipmotion_tf.motion.dataset import (
        MotionSequence,
        WindowSampler,
        mixed,
        retimed,
        room_tone,
    )

    audio = AudioConfig()
    m = audio.mel_frames_per_frame
    ramp = np.arange(4 * m, dtype=np.float32)[:, None].repeat(3, axis=1)
    motion = np.arange(4, dtype=np.float32)[:, None, None].repeat(2, axis=2)
    same = retimed(ramp, motion, 4)
    np.testing.assert_array_equal(same[0], ramp)
    np.testing.assert_array_equal(same[1], motion)
    slow_mel, slow_motion = retimed(ramp, motion, 8)
    assert slow_mel.shape == (8 * m, 3) and slow_motion.shape == (8, 1, 2)
    np.testing.assert_allclose(np.diff(slow_motion[1:-1, 0, 0]), 0.5, atol=1e-6)
    np.testing.assert_allclose(np.diff(slow_mel[1:-1, 0]), 0.5, atol=1e-6)

    speech = np.full((8, 3), -30.0, np.float32)
    np.testing.assert_allclose(mixed(speech, speech - 50.0, 0.0), speech + 10 * np.log10(2),
                               atol=1e-3)
    np.testing.assert_allclose(mixed(speech, speech, 40.0), speech, atol=1e-3)

    frames = 40
    rng = np.random.default_rng(0)
    sequences = [MotionSequence(f"c{i}", "g", rng.normal(-40, 5, (m * frames, audio.n_mels))
                                .astype(np.float32), np.zeros((59, 2), np.float32),
                                rng.normal(size=(frames, 59, 2)).astype(np.float32),
                                np.ones(frames, bool)) for i in range(2)]
    sampler = WindowSampler(sequences, 20, audio, seed=1, tempo=0.2, babble=1.0, noise=1.0)
    for _ in range(5):
        log_mel, _, window, _ = sampler.sample()
        assert log_mel.shape == (20 * m, audio.n_mels) and window.shape == (20, 59, 2)
    # A clip whose last tenth is quiet: its room tone is drawn from those frames only.
    clip = np.concatenate([np.full((90, 3), -20.0), np.full((10, 3), -70.0)]).astype(np.float32)
    clip[90:, 1] = np.arange(10) - 75.0
    tone = room_tone(clip, 50, np.random.default_rng(0))
    assert tone.shape == (50, 3) and tone.max() < -60 and len(np.unique(tone[:, 1])) > 3
    for key, value in (("tempo", 0.5), ("babble", 1.5), ("noise", -0.1)):
        with pytest.raises(ConfigError, match=f"data.{key}"):
            MotionDataConfig(**{key: value}).validate()
    with pytest.raises(ConfigError, match="data.tempo and data.context"):
        MotionDataConfig(tempo=0.1, context=4).validate()


def test_motion_config_errors_name_the_key(tmp_path):
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.motion.config import MotionExperimentConfig

    with pytest.raises(ConfigError, match="train.learning_rate"):
        load_config(None, ["train.learning_rate=-1"], config_class=MotionExperimentConfig)
    with pytest.raises(ConfigError, match="model.channelz"):
        load_config(None, ["model.channelz=3"], config_class=MotionExperimentConfig)


def test_motion_config_takes_optional_numbers_and_mappings_from_the_command_line():
    """``--set`` values for an ``X | None`` field and a mapping are converted or refused with
    the key named (they once reached validation as strings and failed with a traceback)."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.motion.config import MotionExperimentConfig

    config = load_config(None, ["train.final_learning_rate=1e-4",
                                "data.group_weights={s1: 0.5, lrs2: 0.5}"],
                         config_class=MotionExperimentConfig)
    assert config.train.final_learning_rate == pytest.approx(1e-4)
    assert config.data.group_weights == {"s1": 0.5, "lrs2": 0.5}
    assert load_config(None, ["train.final_learning_rate=none"],
                       config_class=MotionExperimentConfig).train.final_learning_rate is None
    for override, key in (("train.final_learning_rate=fast", "train.final_learning_rate"),
                          ("train.final_learning_rate=1", "train.final_learning_rate"),
                          ("data.group_weights=3", "data.group_weights"),
                          ("data.group_weights={s1: [", "data.group_weights")):
        with pytest.raises(ConfigError, match=key):
            load_config(None, [override], config_class=MotionExperimentConfig)


def test_prepare_motion_writes_a_clip_per_face_video_and_lists_failures(tmp_path, capsys):
    """`lipmotion prepare-motion` on made-up videos of the bundled face (the real-clip chain
    below is behind the slow marker): a face video becomes a clip of mesh points and
    log-mel, a faceless one is listed in failures.json, and a folder with no usable clip is
    a one-line error."""
    import json

    from lipmotion_tf.cli.main import main
    from lipmotion_tf.testing import write_face_video

    videos = tmp_path / "videos" / "person"
    videos.mkdir(parents=True)
    write_face_video(videos / "talk.mp4", frames=30, fps=25)
    write_face_video(videos / "nobody.mp4", frames=30, fps=25, face=False)
    motion = tmp_path / "motion"
    assert main(["prepare-motion", str(tmp_path / "videos"), str(motion), "--no-progress"]) == 0
    assert "1 clips written, 0 kept, 1 failed" in capsys.readouterr().out
    with np.load(motion / "person" / "talk.npz") as clip:
        assert clip["mesh"].shape == (30, len(rep.STORED_INDICES), 3)
        assert clip["log_mel"].shape[0] == 4 * clip["mesh"].shape[0]
    assert list(json.loads((motion / "failures.json").read_text())) == ["person/nobody"]
    (videos / "talk.mp4").unlink()
    assert main(["prepare-motion", str(tmp_path / "videos"), str(tmp_path / "none"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no usable clip" in err[0], err


@pytest.mark.slow  # real GRID clips tracked, two trainings and an evaluation in fresh processes:
# about 60 s on 2 shared cores (prepare-motion stays in the default suite just above)
def test_prepare_motion_and_train_chain_on_real_clips(shared_data, tmp_path):
    """prepare-motion then train (two tiny epochs) in fresh processes, as a user runs them."""
    videos = tmp_path / "videos" / "s1"
    videos.mkdir(parents=True)
    for clip in sorted((shared_data / "grid" / "s1").glob("*.mpg"))[:4]:
        (videos / clip.name).symlink_to(clip)
    motion = tmp_path / "motion"
    run = [sys.executable, "-m", "lipmotion_tf.cli.main"]
    done = subprocess.run(run + ["prepare-motion", str(tmp_path / "videos"), str(motion),
                                 "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 clips written" in done.stdout
    with np.load(next(motion.rglob("*.npz"))) as clip:
        assert clip["mesh"].shape[1:] == (len(rep.STORED_INDICES), 3)
        assert clip["log_mel"].shape[0] == 4 * clip["mesh"].shape[0]
    done = subprocess.run(run + [
        "train", "--config", str(REPO_ROOT / "training" / "motion.yaml"), "--data", str(motion),
        "--output", str(tmp_path / "run"), "--quiet", "--set", "train.epochs=1",
        "--set", "train.steps_per_epoch=2", "--set", "model.channels=16",
        "--set", "data.val_fraction=0", "--set", "data.test_fraction=0",
    ], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "motion_generator.weights.h5").is_file()
    assert "validation: LMD" in done.stdout
    done = subprocess.run(run + [
        "train", "--config", str(REPO_ROOT / "training" / "sync.yaml"), "--data", str(motion),
        "--output", str(tmp_path / "sync"), "--quiet", "--set", "train.epochs=1",
        "--set", "train.steps_per_epoch=2", "--set", "model.channels=8",
        "--set", "data.batch_size=4", "--set", "data.val_fraction=0",
        "--set", "data.test_fraction=0"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(clip, shift) pairs" in done.stdout
    assert (tmp_path / "sync" / "sync_expert.weights.h5").is_file()
    done = subprocess.run(run + [
        "evaluate", "--motion-only", "--data", str(motion), "--split", "all", "--folder", "s1",
        "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "report"),
        "--sync-checkpoint", str(tmp_path / "sync"), "--examples", "1"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["summary"]["clips"] == 4
    for key in ("lmd_vs_static", "sync", "opening_ratio", "motion_ratio", "still_max",
                "generated_lse_d", "real_lse_c", "static_lse_c", "generated_av_offset"):
        assert np.isfinite(report["summary"][key]), key
    low, high = report["summary"]["intervals"]["sync"]
    assert low <= report["summary"]["sync"] <= high
    assert "95% intervals over the clips" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "mouth_opening.png").is_file()


def test_amplitude_loss_has_a_finite_slope_at_a_still_output():
    import tensorflow as tf

    from lipmotion_tf.motion import losses

    generated = tf.Variable(np.zeros((2, 5, 3, 2), np.float32))
    real = np.random.default_rng(0).normal(0, 0.05, (2, 5, 3, 2)).astype(np.float32)
    with tf.GradientTape() as tape:
        value = losses.amplitude_loss(real, generated, 10.0)
    assert np.isfinite(tape.gradient(value, generated).numpy()).all()


def test_closed_shape_closes_an_open_mouth_and_keeps_a_closed_one():
    rng = np.random.default_rng(3)
    shape = rng.normal(0, 0.01, (rep.NUM_MOTION_POINTS, 3)).astype(np.float32)
    shape[rep.LEFT_CORNER, :2] = [-0.5, 0.0]
    shape[rep.RIGHT_CORNER, :2] = [0.5, 0.0]
    shape[rep.UPPER_INNER, :2] = [0.0, -0.1]
    shape[rep.LOWER_INNER, :2] = [0.0, 0.15]
    closed = rep.closed_shape(shape)
    assert rep.inner_opening(closed) == pytest.approx(0.01, abs=2e-3)
    np.testing.assert_array_equal(closed[rep.LEFT_CORNER], shape[rep.LEFT_CORNER])
    np.testing.assert_array_equal(rep.closed_shape(closed), closed)


def test_closing_raises_the_chin_not_the_jaws_sides_nor_held_points():
    """The jaw rises with the lip above it: fully under the mouth's centre, not at all beside
    its corners (where a turned face's far jaw outline lies next to the lips), and a held
    point (one the renderer draws still) stays put."""
    shape = np.zeros((rep.NUM_MOTION_POINTS, 3), np.float32)
    shape[rep.LEFT_CORNER, :2] = [-0.5, 0.0]
    shape[rep.RIGHT_CORNER, :2] = [0.5, 0.0]
    shape[rep.UPPER_INNER, :2] = [0.0, -0.1]
    shape[rep.LOWER_INNER, :2] = [0.0, 0.1]
    chin, side, held = rep.JAW_POSITIONS[-1], rep.JAW_POSITIONS[0], rep.JAW_POSITIONS[1]
    shape[chin, :2] = [0.0, 0.6]
    shape[side, :2] = [-0.7, 0.3]
    shape[held, :2] = [0.1, 0.5]
    closed = rep.closed_shape(shape, hold=[held])
    assert closed[chin, 1] == pytest.approx(0.6 - 0.095, abs=1e-6)  # half the gap less 0.01
    np.testing.assert_array_equal(closed[side], shape[side])
    np.testing.assert_array_equal(closed[held], shape[held])


def test_no_voice_keeps_the_rest_shape_exactly():
    """A recording with no voice (every band far below the quiet level) moves nothing."""
    from lipmotion_tf.motion.motion_generator import MotionGenerator

    config = _tiny_config()
    generator = MotionGenerator.from_experiment(config)
    rng = np.random.default_rng(0)
    quiet = rng.normal(-95.0, 3.0, (1, 40, 16)).astype(np.float32)
    rest = rng.normal(0, 0.2, (1, 59, 2)).astype(np.float32)
    generator({"log_mel": quiet, "rest": rest})
    head = generator.get_layer("head")
    head.set_weights([rng.normal(0, 1.0, w.shape).astype(np.float32) for w in head.get_weights()])
    assert np.abs(np.asarray(generator({"log_mel": quiet, "rest": rest}))).max() == 0.0
    loud = quiet + 100.0
    assert np.abs(np.asarray(generator({"log_mel": loud, "rest": rest}))).max() > 0.0
