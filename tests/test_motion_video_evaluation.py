"""``lipmotion evaluate`` with the motion model on videos: generated from the first frame and
the video's own speech, measured in pixels and landmarks against the video."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.testing import write_face_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    write_face_video(folder / "person.mp4", frames=50, fps=25)
    write_face_video(folder / "nobody.mp4", frames=30, fps=25, face=False)
    return folder


def test_evaluate_a_video_folder_runs_the_motion_model(videos, tiny_motion_checkpoint, tmp_path,
                                                       capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--data", str(videos), "--checkpoint", str(tiny_motion_checkpoint),
                 "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| generated |" in printed and "| still |" in printed and "skipped" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 1 and list(report["skipped"]) == [str(videos / "nobody.mp4")]
    for method in ("generated", "still"):
        values = report["summary"][method]
        assert all(np.isfinite(values[key]) for key in ("lmd", "psnr", "ssim", "sharpness"))
        assert 0 < values["ssim"] <= 1 and values["psnr"] > 15
        assert {"opening_ratio", "motion_ratio"} <= set(values)
    # The synthetic speaker's mouth moves; the still photo's read-back mouth hardly does.
    summary = report["summary"]
    assert summary["still"]["motion_ratio"] < summary["generated"]["motion_ratio"]
    # The tiny model moves the mouth: its frames are not the still photo's.
    assert report["summary"]["generated"]["psnr"] != report["summary"]["still"]["psnr"]
    # Held still, the photo keeps its colours but for the encoding.
    assert 0 <= summary["still"]["colour_shift"] < 3
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert "opening ratio" in (out / "report.md").read_text()
    assert "colour shift (worst)" in (out / "report.md").read_text()
    # One clip: every redrawn set is that clip, so each interval is its value.
    assert "95% intervals over the videos" in printed
    assert "95% intervals over the videos" in (out / "report.md").read_text()
    low, high = summary["intervals"]["generated"]["psnr"]
    assert low == high == pytest.approx(summary["generated"]["psnr"])


def test_the_summary_pools_each_measure_as_its_target_reads():
    """Means, the ratios' medians, and the colour shift's worst clip (a bound for every clip)."""
    from lipmotion_tf.motion.video_evaluation import MEASURES, summarise

    clips = [{method: {measure: float(value) for measure in MEASURES}
              for method in ("generated", "still")} for value in (1, 2, 6)]
    summary = summarise(clips)["generated"]
    assert summary["lmd"] == 3.0 and summary["opening_ratio"] == 2.0
    assert summary["colour_shift"] == 6.0


def test_evaluate_without_a_face_anywhere_is_one_line(videos, tiny_motion_checkpoint, tmp_path,
                                                      capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--data", str(videos / "nobody.mp4"), "--model", "motion",
                 "--checkpoint", str(tiny_motion_checkpoint), "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no video could be evaluated" in err[0], err
    assert not (out / "report.json").exists()


def test_evaluate_reports_each_folder_of_a_mixed_set(tiny_motion_checkpoint, tmp_path, capsys):
    """Videos in two folders (two sources, as the kept-out sets are): the summary over all of
    them and one over each folder, in report.json and in the printed table."""
    data = tmp_path / "data"
    for folder in ("studio", "street"):
        (data / folder).mkdir(parents=True)
        write_face_video(data / folder / "person.mp4", frames=30, fps=25)
    out = tmp_path / "report"
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(tiny_motion_checkpoint),
                 "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 2 and sorted(report["per_folder"]) == ["street", "studio"]
    for folder, group in report["per_folder"].items():
        clip = report["per_clip"][str(data / folder / "person.mp4")]
        assert group["clips"] == 1 and group["summary"]["generated"] == clip["generated"]
    printed = capsys.readouterr().out
    assert "| street | 1 | generated |" in printed and "| all |  | still |" in printed
