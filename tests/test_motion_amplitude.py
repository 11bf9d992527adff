"""The speaker's amplitude: measured from motion, read by the generator, set by the user
(``--expressiveness``), by ``dub`` from the video and by ``adapt`` from the person's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def _sequence(frames=60, opening_std=0.05, seed=0):
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.motion.dataset import MotionSequence

    rng = np.random.default_rng(seed)
    motion = np.zeros((frames, 59, 2), np.float32)
    motion[:, rep.LOWER_INNER, 1] = rng.normal(0.1, opening_std, frames)
    return MotionSequence("s/clip", "s", rng.normal(-40, 10, (4 * frames, 128)).astype(np.float32),
                          np.zeros((59, 2), np.float32), motion, np.ones(frames, bool))


def test_speaking_amplitude_is_the_log_deviation_ratio_within_limits():
    from lipmotion_tf.motion.dataset import AMPLITUDE_LIMIT, speaking_amplitude
    from lipmotion_tf.motion.measures import opening

    sequence = _sequence(opening_std=0.05)
    deviation = opening(sequence.rest, sequence.motion).std()
    assert speaking_amplitude(sequence.rest, sequence.motion, deviation) == pytest.approx(0.0)
    assert speaking_amplitude(sequence.rest, sequence.motion, deviation / 2) == pytest.approx(
        math.log(2), abs=1e-6)
    still = np.zeros_like(sequence.motion)
    assert speaking_amplitude(sequence.rest, still, 0.03) == -AMPLITUDE_LIMIT


def _generator(amplitude_input=True):
    from lipmotion_tf.motion.motion_generator import MotionGenerator

    generator = MotionGenerator(channels=16, dilations=(1, 2), amplitude_input=amplitude_input)
    inputs = {"log_mel": np.random.default_rng(0).normal(-30, 10, (2, 32, 128)).astype("float32"),
              "rest": np.zeros((2, 59, 2), np.float32)}
    generator(inputs)
    for layer in [generator.head] + generator.block_film:  # both start at zero
        kernel, bias = layer.get_weights()
        layer.set_weights([np.random.default_rng(1).normal(0, 0.1, kernel.shape), bias])
    return generator, inputs


def test_generator_reads_the_amplitude_and_defaults_to_a_typical_speaker():
    from lipmotion_tf.motion.motion_generator import MotionGenerator

    generator, inputs = _generator()
    default = np.asarray(generator(inputs))
    zero = np.asarray(generator({**inputs, "amplitude": np.zeros((2, 1), np.float32)}))
    wide = np.asarray(generator({**inputs, "amplitude": np.ones((2, 1), np.float32)}))
    np.testing.assert_array_equal(default, zero)
    assert np.abs(wide - default).max() > 1e-4
    config = generator.get_config()
    assert config["amplitude_input"] is True
    assert MotionGenerator.from_config(config).amplitude_input
    plain, _ = _generator(amplitude_input=False)  # a model without it ignores the key
    np.testing.assert_array_equal(np.asarray(plain(inputs)),
                                  np.asarray(plain({**inputs, "amplitude": np.ones((2, 1))})))


def test_sampler_and_fixed_windows_carry_each_clips_amplitude():
    from lipmotion_tf.config import AudioConfig
    from lipmotion_tf.motion.dataset import WindowSampler, fixed_windows, speaking_amplitude

    quiet, wide = _sequence(opening_std=0.01, seed=1), _sequence(opening_std=0.08, seed=2)
    wide.clip_id = "s/wide"
    expected = sorted(speaking_amplitude(s.rest, s.motion, 0.03) for s in (quiet, wide))
    sampler = WindowSampler([quiet, wide], 20, AudioConfig(), amplitude_reference=0.03)
    inputs, _ = next(sampler.batches(16))
    assert inputs["amplitude"].shape == (16, 1)
    assert np.isclose(inputs["amplitude"], [expected]).any(axis=1).all()
    still = WindowSampler([quiet], 20, AudioConfig(), still_fraction=1.0, amplitude_reference=0.03)
    inputs, motion = next(still.batches(8))
    assert not motion.any() and len(set(inputs["amplitude"][:, 0])) > 1
    inputs, _ = fixed_windows([quiet, wide], 20, AudioConfig(), amplitude_reference=0.03)
    each = [speaking_amplitude(s.rest, s.motion, 0.03) for s in (quiet, wide)]
    np.testing.assert_allclose(inputs["amplitude"][:, 0], np.repeat(each, 3), rtol=1e-6)
    assert "amplitude" not in next(WindowSampler([quiet], 20, AudioConfig()).batches(2))[0]


@pytest.fixture(scope="module")
def amplitude_checkpoint(tmp_path_factory):
    from lipmotion_tf.motion.config import WEIGHTS_NAME, MotionExperimentConfig
    from lipmotion_tf.train.runner import save_config

    folder = tmp_path_factory.mktemp("amplitude_model")
    config = MotionExperimentConfig()
    config.model.channels, config.model.dilations = 16, [1, 2]
    config.model.amplitude_input = True
    generator, _ = _generator()
    generator.save_weights(str(folder / WEIGHTS_NAME))
    save_config(config, folder / "config.yaml")
    return folder


def test_expressiveness_moves_the_mouth_more(amplitude_checkpoint):
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.motion.pipeline import MotionPipeline

    speech = REPO_ROOT / "lipmotion_tf" / "assets" / "samples" / "speech.flac"
    waveform = load_audio(speech, 16000)[:16000 * 2]
    rest = np.zeros((59, 2), np.float32)
    moves = {}
    for value in (None, 0.0, math.log(0.5), math.log(2.0)):
        pipeline = MotionPipeline.from_checkpoint(amplitude_checkpoint, amplitude=value)
        moves[value] = pipeline.motion(waveform, 16000, rest)
    np.testing.assert_allclose(moves[None], moves[0.0], atol=1e-6)
    assert np.abs(moves[math.log(2.0)] - moves[math.log(0.5)]).max() > 1e-4


def test_expressiveness_scales_a_model_that_reads_no_amplitude(tiny_motion_checkpoint):
    """For a model without the amplitude input (the shipped kind), --expressiveness X scales
    the predicted displacements by X, as peers' expression scales do."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.motion.pipeline import MotionPipeline

    speech = REPO_ROOT / "lipmotion_tf" / "assets" / "samples" / "speech.flac"
    waveform = load_audio(speech, 16000)[:16000 * 2]
    rest = np.zeros((59, 2), np.float32)
    typical = MotionPipeline.from_checkpoint(tiny_motion_checkpoint).motion(waveform, 16000, rest)
    wider = MotionPipeline.from_checkpoint(tiny_motion_checkpoint, amplitude=math.log(1.5))
    assert np.abs(typical).max() > 1e-4
    np.testing.assert_allclose(wider.motion(waveform, 16000, rest), 1.5 * typical, atol=1e-6)


def test_expressiveness_refusals_are_one_line(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    for args, words in (
        (["--expressiveness", "9"], "--expressiveness must be a number from 0.2 to 5"),
        (["--model", "paper", "--expressiveness", "2"], "for the motion model"),
    ):
        assert main(["generate", "-o", str(out), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (args, err)
        assert not out.exists()


def test_adapt_makes_the_persons_amplitude_the_models_typical_one(amplitude_checkpoint,
                                                                   tmp_path, capsys):
    import json

    from lipmotion_tf.config import load_config
    from lipmotion_tf.motion.config import MotionExperimentConfig
    from lipmotion_tf.testing import write_face_video

    videos = [write_face_video(tmp_path / f"{name}.mp4", frames=75, fps=25)
              for name in ("one", "two")]
    adapted = tmp_path / "adapted"
    assert main(["adapt", "--video", str(videos[0]), "--video", str(videos[1]), "-o",
                 str(adapted), "--checkpoint", str(amplitude_checkpoint), "--max-steps", "25",
                 "--quiet"]) == 0
    assert "| Base, their amplitude |" in capsys.readouterr().out
    report = json.loads((adapted / "report" / "adapt.json").read_text())
    assert report["base_own_amplitude"]["clips"] == 1
    config = load_config(adapted / "config.yaml", config_class=MotionExperimentConfig)
    base = load_config(amplitude_checkpoint / "config.yaml", config_class=MotionExperimentConfig)
    # The drifting photo barely moves its mouth: far below a typical speaker's.
    assert 0 < config.model.amplitude_reference < base.model.amplitude_reference


class _Offset:
    def __init__(self):
        self.value = 0.0

    def assign(self, value):
        self.value = float(value)


class _ScaledOpening:
    """A stand-in generator: the lower lip moves with a deviation of 0.01 * e^(amplitude +
    offset) mouth widths, whatever the speech."""

    mel_frames_per_frame = 4
    amplitude_input = True

    def __init__(self):
        self.amplitude_offset = _Offset()

    def motion_gain(self, amplitude):
        return 1.0  # it reads the amplitude as an input

    def __call__(self, inputs, training=False):
        from lipmotion_tf.motion import representation as rep

        frames = inputs["log_mel"].shape[1] // 4
        scale = 0.01 * math.exp(float(inputs["amplitude"][0, 0]) + self.amplitude_offset.value)
        motion = np.zeros((1, frames, 59, 2), np.float32)
        motion[0, :, rep.LOWER_INNER, 1] = 0.1 + scale * np.sin(np.arange(frames))
        return motion


def test_calibration_finds_the_offset_that_opens_as_wide_as_the_real_mouth():
    from lipmotion_tf.motion.measures import opening
    from lipmotion_tf.motion.training import calibrate_amplitude

    clips = [_sequence(opening_std=0.05, seed=seed) for seed in range(3)]
    reference = float(np.median([opening(s.rest, s.motion).std() for s in clips]))
    generator = _ScaledOpening()
    offset = calibrate_amplitude(generator, clips, reference)
    # Generated deviation 0.01 * e^offset * sin's 0.707 must match the real ~0.05.
    assert offset == pytest.approx(math.log(reference / (0.01 * np.sin(np.arange(60)).std())),
                                   abs=0.05)
    assert generator.amplitude_offset.value == offset
