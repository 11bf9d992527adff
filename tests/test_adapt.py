"""Adapting a generator to one person's video (tiny random generator, the bundled face)."""

from __future__ import annotations

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.testing import write_face_video


@pytest.fixture(scope="module")
def person_videos(tmp_path_factory):
    """Two videos of the same person (60 and 40 frames), joined by adapt."""
    folder = tmp_path_factory.mktemp("adapt")
    return [write_face_video(folder / "one.mp4", frames=60, fps=25),
            write_face_video(folder / "two.mp4", frames=40, fps=25)]


@pytest.mark.slow  # a whole adaptation: preparing, 20 GAN steps, evaluating, generating
def test_adapt_then_generate_and_dub_with_the_adapted_folder(tiny_checkpoint, person_videos,
                                                             tmp_path, capsys):
    import json

    adapted = tmp_path / "adapted"
    one, two = person_videos
    assert main(["adapt", "--video", str(one), "--video", str(two), "-o", str(adapted),
                 "--checkpoint", str(tiny_checkpoint), "--minutes", "3", "--max-steps", "20",
                 "--batch-size", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| Base model |" in out and "| Adapted |" in out and "20 steps" in out
    report = json.loads((adapted / "report" / "report.json").read_text())
    assert report["held_out"] == "last 20%" and len(report["adapted_on"]) == 2
    assert report["clips"] and all(c["num_frames"] == 20 for c in report["clips"])
    assert (adapted / "config.yaml").is_file()
    from lipmotion_tf.generate.checkpoint import load_generator

    generator, config = load_generator(adapted)
    base, _ = load_generator(tiny_checkpoint)
    assert config.name.endswith("_adapted")
    assert any(not np.array_equal(a, b) for a, b in zip(generator.get_weights(),
                                                       base.get_weights()))
    for command in (["generate", "-o", str(tmp_path / "g.mp4")],
                    ["dub", "--video", str(one), "--audio", str(two),
                     "-o", str(tmp_path / "d.mp4")]):
        assert main(command + ["--checkpoint", str(adapted)]) == 0


@pytest.mark.slow  # three more face videos written and adapt run on four: about 24 s on 2 shared
# cores, 38 s with its fixture (adapt's number refusals stay in test_hostile_inputs, the motion
# model's short-video refusal in test_motion_adapt)
def test_adapt_bad_inputs_give_one_line_and_leave_nothing(tiny_checkpoint, person_videos,
                                                          tmp_path, capsys):
    short = write_face_video(tmp_path / "short.mp4", frames=25, fps=25)
    silent = write_face_video(tmp_path / "silent.mp4", frames=100, fps=25, sound=False)
    faceless = write_face_video(tmp_path / "nobody.mp4", frames=100, fps=25, face=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    person_video = person_videos[0]
    cases = [
        (short, tmp_path / "a", "adapt needs at least 3.2 s"),
        (silent, tmp_path / "b", "adapt needs the person's own speech"),
        (faceless, tmp_path / "c", "no face"),
        (person_video, busy, "exists and is not empty"),
    ]
    for video, output, expected in cases:
        code = main(["adapt", "--video", str(video), "-o", str(output), "--checkpoint",
                     str(tiny_checkpoint), "--max-steps", "20", "--quiet"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and expected in err.splitlines()[-1] and "Traceback" not in err, err
    assert not any((tmp_path / name).exists() for name in "abc")
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
