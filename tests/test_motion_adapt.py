"""``lipmotion adapt`` with the motion model: tracking, the time split, fine-tuning, the table."""

from __future__ import annotations

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.testing import write_face_video


def _sequence(frames: int, name: str):
    from lipmotion_tf.motion.dataset import MotionSequence

    rng = np.random.default_rng(frames)
    return MotionSequence(name, "person", rng.normal(size=(4 * frames, 8)).astype(np.float32),
                          np.zeros((59, 2), np.float32),
                          rng.normal(size=(frames, 59, 2)).astype(np.float32),
                          np.ones(frames, bool))


def test_split_in_time_cuts_the_joined_videos_at_the_holdout():
    from lipmotion_tf.motion.adapt import split_in_time

    first, second = _sequence(60, "a"), _sequence(40, "b")
    train, heldout = split_in_time([first, second], 0.3, 4)
    assert [s.num_frames for s in train] == [60, 10]
    assert [s.num_frames for s in heldout] == [30]
    np.testing.assert_array_equal(heldout[0].motion, second.motion[10:])
    np.testing.assert_array_equal(heldout[0].log_mel, second.log_mel[40:])
    np.testing.assert_array_equal(train[1].log_mel, second.log_mel[:40])
    assert heldout[0].clip_id == "b[10:40]"
    train, heldout = split_in_time([first, second], 0.4, 4)  # the cut at a video's end
    assert [s.clip_id for s in train] == ["a"] and [s.clip_id for s in heldout] == ["b"]


@pytest.fixture(scope="module")
def person_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("person")
    return [write_face_video(folder / "one.mp4", frames=75, fps=25),
            write_face_video(folder / "two.mp4", frames=75, fps=25)]


def test_adapt_motion_writes_a_model_generate_reads(tiny_motion_checkpoint, person_videos,
                                                    tmp_path, capsys):
    import json

    adapted = tmp_path / "adapted"
    assert main(["adapt", "--video", str(person_videos[0]), "--video", str(person_videos[1]),
                 "-o", str(adapted), "--checkpoint", str(tiny_motion_checkpoint),
                 "--max-steps", "25", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| Adapted |" in out and "| Base model |" in out and "25 steps" in out
    assert "measured on the last 1.2 s" in out  # 20% of 6 s
    report = json.loads((adapted / "report" / "adapt.json").read_text())
    assert report["steps"] == 25 and report["adapted"]["clips"] == 1
    assert sorted(p.name for p in adapted.iterdir()) == [
        "config.yaml", "motion_generator.weights.h5", "report"]
    video = tmp_path / "out.mp4"  # the bundled photo speaking the first video's sound
    assert main(["generate", "--checkpoint", str(adapted), "--audio", str(person_videos[0]),
                 "-o", str(video)]) == 0
    assert video.stat().st_size > 0


def test_adapt_motion_refuses_a_short_video_leaving_nothing(tiny_motion_checkpoint, tmp_path,
                                                            capsys):
    video = write_face_video(tmp_path / "short.mp4", frames=50, fps=25)
    adapted = tmp_path / "adapted"
    assert main(["adapt", "--video", str(video), "-o", str(adapted), "--checkpoint",
                 str(tiny_motion_checkpoint), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2.0 s of video: adapting needs at least" in err[0], err
    assert not adapted.exists()


@pytest.mark.slow  # three fresh processes, each loading TensorFlow and mediapipe
def test_adapt_then_dub_and_evaluate_in_fresh_processes(tiny_motion_checkpoint, person_videos,
                                                        tmp_path):
    import subprocess
    import sys

    def lipmotion(*args):
        result = subprocess.run([sys.executable, "-m", "lipmotion_tf.cli.main", *map(str, args)],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    adapted = tmp_path / "adapted"
    lipmotion("adapt", "--video", person_videos[0], "--video", person_videos[1], "-o", adapted,
              "--checkpoint", tiny_motion_checkpoint, "--max-steps", "25", "--quiet")
    dubbed = tmp_path / "dubbed.mp4"
    lipmotion("dub", "--video", person_videos[1], "--audio", person_videos[0], "--checkpoint",
              adapted, "-o", dubbed)
    assert dubbed.stat().st_size > 0
    out = lipmotion("evaluate", "--data", person_videos[1], "--checkpoint", adapted, "--out",
                    tmp_path / "report", "--no-progress").stdout
    assert "| generated |" in out
