"""The motion model on live speech (``lipmotion_tf/motion/stream.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from lipmotion_tf.errors import InputError

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
SPEECH = REPO_ROOT / "lipmotion_tf" / "assets" / "samples" / "speech.flac"


@pytest.fixture(scope="module")
def pipeline(tiny_motion_checkpoint):
    from lipmotion_tf.motion.pipeline import MotionPipeline

    return MotionPipeline.from_checkpoint(tiny_motion_checkpoint)


@pytest.fixture(scope="module")
def speech(pipeline):
    from lipmotion_tf.audio.loader import load_audio

    rate = pipeline.config.audio.sample_rate
    return load_audio(SPEECH, rate)[: int(2.3 * rate)], rate


def _streamed(stream, waveform, chunk):
    parts = [stream.push(waveform[i:i + chunk]) for i in range(0, len(waveform), chunk)]
    return parts, np.concatenate(parts + [stream.close()])


def test_a_stream_gives_every_frame_once_whatever_the_chunks(pipeline, speech):
    """The frames come out on a fixed grid of blocks, so any chunking gives the same motion:
    what :func:`replay` computes from the whole recording's log-mel, frame for frame."""
    from lipmotion_tf.motion.stream import MotionStream, replay

    waveform, rate = speech
    rest = np.zeros((59, 2), np.float32)
    results = []
    for chunk in (441, 1764 * 3 + 7, len(waveform)):
        parts, motion = _streamed(MotionStream(pipeline, rest, rate), waveform, chunk)
        results.append(motion)
    frames = pipeline.num_frames(len(waveform))
    assert all(r.shape == (frames, 59, 2) for r in results)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    whole = replay(pipeline.predict, pipeline.log_mel(waveform, rate), rest,
                   pipeline.config.audio.mel_frames_per_frame)
    np.testing.assert_allclose(results[0], whole, atol=1e-5)
    assert np.abs(results[0]).max() > 1e-4  # the tiny model moves the mouth


def test_a_frame_comes_out_once_its_lookahead_is_heard(pipeline, speech):
    from lipmotion_tf.motion.stream import MotionStream

    waveform, rate = speech
    per_frame = pipeline.config.audio.samples_per_frame
    stream = MotionStream(pipeline, np.zeros((59, 2), np.float32), rate, lookahead=10, hop=5)
    assert stream.latency == pytest.approx(15 / 25)
    # 14 frames of speech are short of the first block's 5 + 10 (and the STFT's reach).
    assert len(stream.push(waveform[:14 * per_frame])) == 0
    assert len(stream.push(waveform[14 * per_frame:17 * per_frame])) == 5
    assert len(stream.push(waveform[17 * per_frame:22 * per_frame])) == 5


def test_a_stream_resamples_its_chunks(pipeline, speech):
    """Speech at another rate is resampled as it comes, close to resampling it whole."""
    import soxr

    from lipmotion_tf.motion.stream import MotionStream

    waveform, rate = speech
    rest = np.zeros((59, 2), np.float32)
    at_16k = soxr.resample(waveform, rate, 16000).astype(np.float32)
    _, streamed = _streamed(MotionStream(pipeline, rest, 16000), at_16k, 640)
    _, direct = _streamed(MotionStream(pipeline, rest, rate),
                          soxr.resample(at_16k, 16000, rate).astype(np.float32), 1764)
    assert abs(len(streamed) - len(direct)) <= 1
    count = min(len(streamed), len(direct))
    assert np.abs(streamed[:count] - direct[:count]).max() < 0.05 * np.abs(direct).max()


def test_stream_misuse_is_one_clear_error(pipeline, speech):
    from lipmotion_tf.motion.stream import MotionStream

    waveform, rate = speech
    rest = np.zeros((59, 2), np.float32)
    with pytest.raises(InputError, match="lookahead"):
        MotionStream(pipeline, rest, rate, lookahead=500)
    with pytest.raises(InputError, match="sample rate"):
        MotionStream(pipeline, rest, 0)
    stream = MotionStream(pipeline, rest, rate)
    with pytest.raises(InputError, match="mono"):
        stream.push(np.zeros((100, 2), np.float32))
    with pytest.raises(InputError, match="non-finite|finite"):
        stream.push(np.full(100, np.nan, np.float32))
    with pytest.raises(InputError, match="no speech"):
        stream.close()
    closed = MotionStream(pipeline, rest, rate)
    closed.push(waveform[:rate])
    closed.close()
    with pytest.raises(InputError, match="closed"):
        closed.push(waveform[:10])


def test_live_stream_example_writes_a_video_and_refuses_bad_input(tiny_motion_checkpoint,
                                                                  tmp_path):
    """examples/live_stream.py in a fresh process, as a user runs it."""
    from lipmotion_tf.video.reader import video_info

    script = REPO_ROOT / "examples" / "live_stream.py"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "live.mp4"
    done = subprocess.run([sys.executable, str(script), "--checkpoint",
                           str(tiny_motion_checkpoint), "-o", str(out), "--lookahead", "5"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "latency 0.40 s" in done.stdout
    info = video_info(out)
    assert info.num_frames >= 130
    bad = subprocess.run([sys.executable, str(script), "--checkpoint",
                          str(tiny_motion_checkpoint), "-o", str(tmp_path / "bad.mp4"),
                          "--image", str(script)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and not (tmp_path / "bad.mp4").exists()
    assert bad.stderr.strip().splitlines()[-1].startswith("live_stream.py: error:")
