"""The shipped demonstration model on real GRID clips: silence, seams, the bundled sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lipmotion_tf
from lipmotion_tf.cli.main import main

# Test-split clips of GRID s1 (not seen in training), each with silence before and after.
CLIPS = ("bbif1a", "lbij6n", "pgbr2p", "sbbn8p", "swib4p")


@pytest.fixture(scope="module")
def pipeline():
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    return LipMotionPipeline.from_checkpoint()


@pytest.fixture(scope="module")
def generated(pipeline, grid_s1):
    """Per clip: generated frames, identity crop and per-frame speech flags."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.data.alignment import speech_flags_for_video
    from lipmotion_tf.video.reader import read_video

    results = {}
    for stem in CLIPS:
        video = grid_s1 / f"{stem}.mpg"
        if not video.is_file():
            pytest.skip(f"{video} not found")
        first_frame = read_video(video)[0]
        crop, _ = pipeline.identity_from_image(first_frame)
        waveform = load_audio(video, pipeline.config.audio.sample_rate)
        frames = np.stack(list(pipeline.iter_frames(waveform, pipeline.config.audio.sample_rate, crop)))
        flags = speech_flags_for_video(video, len(frames))
        results[stem] = (frames.astype(np.float32), crop.astype(np.float32), flags)
    return results


def _mouth_change(frames, identity):
    """Mean absolute difference to the identity image (a closed mouth) in the mouth region."""
    centre = slice(16, 48)
    return np.abs(frames[:, centre, centre] - identity[centre, centre]).mean(axis=(1, 2, 3))


def test_mouth_rests_in_silence_and_moves_in_speech(generated):
    silent, spoken = [], []
    for frames, identity, flags in generated.values():
        change = _mouth_change(frames, identity)
        # Skip the frames next to a speech/silence boundary: lips move ahead of the sound.
        edge = np.convolve(np.abs(np.diff(flags, prepend=flags[0])), np.ones(7), "same") > 0
        silent.append(change[(flags == 0) & ~edge])
        spoken.append(change[(flags == 1) & ~edge])
    silent, spoken = np.concatenate(silent).mean(), np.concatenate(spoken).mean()
    assert spoken > 1.5 * silent, (spoken, silent)


def test_no_seam_at_window_borders(generated):
    border, inside = [], []
    for frames, _, _ in generated.values():
        steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # step t: frame t -> t+1
        at_border = (np.arange(1, len(frames)) % 8) == 0  # where a window starts or ends
        border.append(steps[at_border])
        inside.append(steps[~at_border])
    border, inside = np.concatenate(border).mean(), np.concatenate(inside).mean()
    assert border <= inside * 1.15 + 0.05, (border, inside)


def test_readme_run_command_writes_a_video_with_sound(tmp_path, monkeypatch):
    import av

    monkeypatch.chdir(tmp_path)
    assert main(["generate"]) == 0
    with av.open("lipmotion.mp4") as container:
        assert container.streams.audio, "no audio track"
        audio = container.streams.audio[0]
        duration = float(audio.duration * audio.time_base)
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 25 * duration) <= 1.5


def test_fast_generator_paths_equal_the_authors_layout_on_real_speech(pipeline):
    """The factored fusion and time-shift output convolution (on by default) change only the
    order of the sums: on the trained model and real speech the frames agree within 1e-5."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy

    fast, config = pipeline.generator, pipeline.config
    assert fast.factored_fusion and fast.time_shift_output
    speech = Path(lipmotion_tf.__file__).parent / "assets" / "samples" / "speech.flac"
    mel = log_mel_numpy(load_audio(speech, config.audio.sample_rate), config.audio)
    inputs = {
        "audio": np.stack([mel[32 * i: 32 * i + 64] for i in range(4)]).astype(np.float32),
        "identity": np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32),
    }
    plain = fast.rebuilt(factored_fusion=False, time_shift_output=False)
    np.testing.assert_allclose(
        np.asarray(fast(inputs)["video"]), np.asarray(plain(inputs)["video"]), atol=1e-5
    )
