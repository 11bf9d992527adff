"""`lipmotion evaluate`: report pooling, figures, backgrounds, bad inputs, and a run on real GRID clips."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.config import AudioConfig
from lipmotion_tf.data import manifest as manifest_lib
from lipmotion_tf.errors import DataError, InputError
from lipmotion_tf.evaluation.clip_measures import (
    ClipMeasures, best_lag, motion_ratio, opening_ratio,
)
from lipmotion_tf.evaluation.report import (
    GROUND_TRUTH,
    STATIC_BASELINE,
    ClipExample,
    ClipResult,
    EvaluationReport,
    write_report,
)

GRID_CLIPS = ("bbaf2n", "bbaf5a")
REPORT_FILES = ("report.json", "report.md", "contact_sheet.png", "mouth_opening.png")


@pytest.fixture
def cli(monkeypatch):
    """``lipmotion`` with only the evaluate subcommand registered."""
    from lipmotion_tf.cli import main as main_module

    monkeypatch.setattr(main_module, "SUBCOMMANDS", {"evaluate": "evaluate"})
    return main_module.main


# --- pooling and report files (synthetic measures) ---------------------------------------------


def _measures(frames: int, distance: float, value: float, lagged: dict[int, float]) -> ClipMeasures:
    distances = np.full((frames, 4), distance)
    distances[0] = np.nan  # a frame without landmarks
    return ClipMeasures(num_frames=frames, distances=distances, ssim=value, psnr=10 * value,
                        cpbd=value / 2, openings=np.linspace(0, 1, frames), lagged=lagged)


def _synthetic_report() -> EvaluationReport:
    clips = [
        ClipResult("s/a", 10, "first_frame", "", 0.4, 10, {
            STATIC_BASELINE: _measures(10, 1.0, 0.8, {-1: float("nan"), 0: float("nan"), 1: float("nan")}),
            "M": _measures(10, 2.0, 0.5, {-1: 0.1, 0: 0.5, 1: 0.2}),
        }, real_colour_shift=2.5),
        ClipResult("s/b", 30, "face_photo", "video not found", 0.2, 30, {
            STATIC_BASELINE: _measures(30, 3.0, 0.6, {-1: float("nan"), 0: float("nan"), 1: float("nan")}),
            "M": _measures(30, 4.0, 0.1, {-1: 0.9, 0: 0.3, 1: float("nan")}),
        }),
    ]
    frames = np.zeros((10, 64, 64, 3), np.uint8)
    example = ClipExample("s/a", 25, frames, {"M": frames + 100}, np.linspace(0, 0.2, 10),
                          {STATIC_BASELINE: np.full(10, 0.1), "M": np.linspace(0.2, 0, 10)},
                          np.linspace(-60, -20, 10), np.array([0, 0, 1, 1, 1, 0, 1, 1, -1, -1]))
    return EvaluationReport([STATIC_BASELINE, "M"], clips, [example], {"split": "test", "data": "d"})


def test_best_lag_prefers_the_smallest_shift_on_ties():
    assert best_lag({-2: 0.5, -1: 0.1, 0: 0.3, 1: 0.5, 2: 0.5}) == (0.5, 1)
    corr, lag = best_lag({-1: float("nan"), 0: float("nan")})
    assert math.isnan(corr) and lag == 0


def test_opening_and_motion_ratios_compare_amplitudes_with_the_real_ones():
    rng = np.random.default_rng(0)
    real = rng.normal(0.1, 0.05, 40)
    assert opening_ratio(0.5 * real + 0.2, real) == pytest.approx(0.5)
    assert opening_ratio(np.append(2 * real, np.nan), np.append(real, 0.3)) == pytest.approx(
        2 * real.std() / np.append(real, 0.3).std())
    points = rng.normal(0.0, 1.0, (40, 40, 2))
    assert motion_ratio(3.0 * points, points) == pytest.approx(3.0)
    # A real mouth that never moves leaves the ratios undefined, not infinite.
    assert np.isnan(opening_ratio(real, np.full(40, 0.1)))
    assert np.isnan(motion_ratio(points, np.repeat(points[:1], 40, axis=0)))


def test_rows_pool_frames_over_clips():
    report = _synthetic_report()
    truth, static, model = report.rows()
    assert truth["method"] == GROUND_TRUTH and truth["lmd"] == 0.0 and truth["ssim"] is None
    assert truth["cpbd"] == pytest.approx((10 * 0.4 + 30 * 0.2) / 40)
    # 9 + 29 frames with landmarks; per-frame mean 2.0 or 4.0, per-frame sum 4x that.
    assert model["lmd"] == pytest.approx((9 * 2.0 + 29 * 4.0) / 38)
    assert model["lmd_sum"] == pytest.approx(4 * model["lmd"])
    assert model["landmark_frames"] == 38
    assert model["ssim"] == pytest.approx((10 * 0.5 + 30 * 0.1) / 40)
    assert model["psnr"] == pytest.approx(10 * model["ssim"])
    # Mean curve: lag -1 -> 0.5, 0 -> 0.4, +1 -> 0.2 (the NaN clip left out).
    assert model["sync_curve"] == {"-1": pytest.approx(0.5), "0": pytest.approx(0.4), "1": pytest.approx(0.2)}
    assert (model["sync_corr"], model["sync_lag"]) == (pytest.approx(0.5), -1)
    assert static["sync_corr"] is None and static["sync_lag"] is None  # a still mouth has no correlation


def test_ground_truth_row_gives_the_real_frames_colour_shift():
    report = _synthetic_report()  # clip s/a's real frames shift 2.5 grey levels, s/b unknown
    assert report.rows()[0]["colour_shift"] == pytest.approx(2.5)
    lines = report.markdown().splitlines()
    assert next(line for line in lines if line.startswith("| s/a |")).startswith("| s/a | first_frame | 2.5 |")
    assert next(line for line in lines if line.startswith("| s/b |")).startswith("| s/b | face_photo | - |")


def test_psnr_after_the_first_frame_leaves_out_the_identity_frame():
    from lipmotion_tf.evaluation.clip_measures import measure_clip
    from lipmotion_tf.metrics.ssim_psnr import PSNR_MAX_DB, psnr

    rng = np.random.default_rng(3)
    real = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    static = np.repeat(real[:1], 6, axis=0)  # the baseline: its first frame is exact
    points = np.zeros((6, 40, 2), np.float32)
    measures = measure_clip(real, static, points, points, identity=real[0])
    rest = np.mean([psnr(static[i], real[i]) for i in range(1, 6)])
    assert measures.psnr == pytest.approx((PSNR_MAX_DB + 5 * rest) / 6)
    assert measures.psnr_after_first == pytest.approx(rest)
    assert measures.to_json()["psnr_after_first"] == pytest.approx(rest)


def test_write_report_files(tmp_path):
    report = _synthetic_report()
    paths = write_report(report, tmp_path / "nested" / "out")
    assert sorted(p.name for p in paths.values()) == sorted(REPORT_FILES)
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    assert paths["contact_sheet"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in paths["json"].parent.iterdir() if ".partial" in p.name]
    content = json.loads(paths["json"].read_text())
    assert [row["method"] for row in content["rows"]] == [GROUND_TRUTH, STATIC_BASELINE, "M"]
    assert content["backgrounds"] == {"face_photo": 1, "first_frame": 1}
    assert content["clips"][1]["note"] == "video not found"
    markdown = paths["markdown"].read_text()
    assert "| Method | LMD | SSIM | PSNR | CPBD | sync corr | best lag |" in markdown
    assert "| Static baseline | 2.526 | 0.650 | 6.50 | 0.325 | - | - |" in markdown
    assert "| M | 3.526 | 0.200 | 2.00 | 0.100 | 0.500 | -1 |" in markdown
    assert "| Method | PSNR | PSNR after the first frame |" in markdown
    with pytest.raises(InputError, match="not a folder"):
        write_report(report, paths["json"])


# --- bad inputs (synthetic prepared data, no face detection needed) ----------------------------


def _synthetic_clip(clip_id: str, landmarks: bool = True, frames: int = 20):
    from lipmotion_tf.data.records import PreparedClip

    rng = np.random.default_rng(0)
    return PreparedClip(
        clip_id=clip_id, speaker=clip_id.split("/")[0], source=f"{clip_id}.mpg",
        frames=rng.integers(0, 255, (frames, 64, 64, 3), dtype=np.uint8),
        audio=np.zeros(frames * 1764, np.int16), sample_rate=44100,
        boxes=np.tile(np.float32([100, 100, 40]), (frames, 1)),
        landmarks=np.zeros((frames, 40 if landmarks else 0, 2), np.float32),
        face_found=np.full(frames, landmarks), speech=np.full(frames, -1, np.int8),
        frame_size=(200, 200),
    )


def _write_prepared(root: Path, clips, split: str = "test", audio: dict | None = None) -> Path:
    import tensorflow as tf

    from lipmotion_tf.data.records import serialize_clip

    (root / manifest_lib.SHARD_DIR).mkdir(parents=True)
    shard = f"{manifest_lib.SHARD_DIR}/{split}-00000.tfrecord"
    with tf.io.TFRecordWriter(str(root / shard)) as writer:
        for clip in clips:
            writer.write(serialize_clip(clip))
    entries = [manifest_lib.ClipEntry(c.clip_id, c.speaker, c.source, split, shard, c.num_frames,
                                      int(c.face_found.sum())) for c in clips]
    manifest_lib.Manifest(root=root, audio=audio or dataclasses.asdict(AudioConfig()), image_size=64,
                          crop_scale=1.3, clips=entries).save()
    return root


def test_bad_inputs_give_one_line_and_no_report(cli, tiny_checkpoint, tmp_path, capsys):
    good = _write_prepared(tmp_path / "good", [_synthetic_clip("s1/a")])
    train_only = _write_prepared(tmp_path / "train_only", [_synthetic_clip("s1/a")], split="train")
    no_landmarks = _write_prepared(tmp_path / "no_landmarks", [_synthetic_clip("s1/a", landmarks=False)])
    other_rate = _write_prepared(tmp_path / "other_rate", [_synthetic_clip("s1/a")],
                                 audio=dataclasses.asdict(AudioConfig(sample_rate=16000, hop_length=160)))
    wrong = tmp_path / "wrong_checkpoint"
    shutil.copytree(tiny_checkpoint, wrong)
    config = (wrong / "config.yaml").read_text()
    (wrong / "config.yaml").write_text(config.replace("generator_channels: 8", "generator_channels: 16"))
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    out = tmp_path / "report"
    cases = [
        (["--data", str(tmp_path / "nope")], DataError, "prepared data folder not found"),
        (["--data", str(train_only)], DataError, "split 'test'"),
        (["--data", str(no_landmarks)], DataError, "has no lip landmarks"),
        (["--data", str(other_rate)], DataError, "audio.sample_rate=16000"),
        (["--data", str(good), "--checkpoint", str(wrong)], InputError, "does not match"),
        (["--data", str(good), "--checkpoint", str(tmp_path / "none")], InputError, "checkpoint not found"),
        (["--data", str(good), "--videos", str(tmp_path / "none")], InputError, "video folder not found"),
        (["--data", str(good), "--limit", "0"], InputError, "--limit"),
        (["--data", str(good), "--out", str(a_file)], InputError, "not a folder"),
        (["--data", str(good), "--ablation"], InputError, "exclude each other"),
        (["--data", str(good), "--variants", "full"], InputError, "--ablation only"),
    ]
    for extra, error, expected in cases:
        argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--out", str(out)] + extra
        code = cli(argv)
        err = capsys.readouterr().err.strip()
        assert code == error.exit_code, (extra, err)
        assert expected in err, (extra, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert not out.exists()


def test_evaluate_is_a_registered_subcommand():
    from lipmotion_tf.cli.main import SUBCOMMANDS

    assert SUBCOMMANDS["evaluate"] == "evaluate"


def test_evaluate_module_imports_nothing_heavy():
    code = ("import sys, lipmotion_tf.cli.evaluate, lipmotion_tf.evaluation; "
            "heavy = {'tensorflow', 'keras', 'mediapipe', 'librosa', 'matplotlib'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- real GRID clips -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_dir(grid_s1, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    (root / "s1").mkdir()
    for stem in GRID_CLIPS:
        (root / "s1" / f"{stem}.mpg").symlink_to(grid_s1 / f"{stem}.mpg")
    return root


@pytest.fixture(scope="module")
def prepared(video_dir, tmp_path_factory) -> Path:
    """The two GRID clips prepared into the test split."""
    from lipmotion_tf.config import DataConfig
    from lipmotion_tf.data.prepare import PrepareSettings, prepare

    out = tmp_path_factory.mktemp("prepared") / "grid"
    settings = PrepareSettings.from_configs(AudioConfig(), DataConfig(val_fraction=0.0, test_fraction=0.9))
    result = prepare(video_dir, out, settings, workers=1, progress=False, warn=lambda _: None)
    assert [c.split for c in result.manifest.clips] == ["test", "test"]
    return out


@pytest.fixture(scope="module")
def evaluated(prepared, video_dir, tiny_checkpoint, tmp_path_factory):
    """One `lipmotion evaluate` run on both clips: (report folder, stdout)."""
    import contextlib
    import io

    from lipmotion_tf.cli import main as main_module

    out = tmp_path_factory.mktemp("report")
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setattr(main_module, "SUBCOMMANDS", {"evaluate": "evaluate"})
        code = main_module.main([
            "evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(prepared), "--out", str(out),
            "--videos", str(video_dir), "--name", "tiny", "--no-progress",
        ])
    assert code == 0
    return out, stdout.getvalue()


@pytest.mark.slow  # real GRID clips prepared, tracked and evaluated: about 15 s on 2 shared cores
# (evaluate's refusals and the motion model's video evaluation stay in the default suite)
def test_report_on_real_clips(evaluated):
    out, stdout = evaluated
    for name in REPORT_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    content = json.loads((out / "report.json").read_text())
    assert content["clips_evaluated"] == 2 and content["frames_evaluated"] == 150
    assert content["backgrounds"] == {"first_frame": 2}
    truth, static, model = content["rows"]
    assert (truth["method"], static["method"], model["method"]) == (GROUND_TRUTH, STATIC_BASELINE, "tiny")
    assert truth["lmd"] == 0.0 and truth["lmd_sum"] == 0.0 and 0.0 < truth["cpbd"] <= 1.0
    for row in (static, model):
        for key in ("lmd", "lmd_sum", "ssim", "psnr", "cpbd"):
            assert row[key] is not None and math.isfinite(row[key]), (row["method"], key)
        assert row["landmark_frames"] > 140  # the face mesh finds the lips in (nearly) every frame
    # The first frame of a static clip is the real first frame; a random generator is far off.
    # A margin, not a fixed level: an unseeded draw of the tiny generator once measured 0.52.
    assert static["ssim"] > 0.5 and model["ssim"] < static["ssim"] - 0.1
    assert static["lmd"] < model["lmd"]
    assert static["sync_corr"] is None  # a still mouth pasted into a still face never moves
    assert model["sync_corr"] is not None and -5 <= model["sync_lag"] <= 5
    assert "| Static baseline |" in stdout and "| tiny |" in stdout
    assert "| Ground truth | 0.000 | - | - |" in (out / "report.md").read_text()


@pytest.mark.slow  # a second evaluation of the real clips, and needs the one above: about 6 s
def test_evaluation_is_deterministic(evaluated, prepared, video_dir, tiny_checkpoint, tmp_path):
    from lipmotion_tf.evaluation.evaluator import evaluate_checkpoint

    out, _ = evaluated
    # The first clip again, on its own: the same numbers to the last digit.
    evaluate_checkpoint(prepared, tmp_path, checkpoint=tiny_checkpoint, video_dirs=[video_dir],
                        name="tiny", limit=1, progress=False)
    first = json.loads((out / "report.json").read_text())
    second = json.loads((tmp_path / "report.json").read_text())
    assert second["clips"] == first["clips"][:1]


@pytest.mark.slow  # real GRID clips prepared (about 4 s with the fixture), as the two tests above
def test_backgrounds_from_the_source_video(prepared, video_dir, tmp_path):
    from lipmotion_tf.data.records import read_clips_numpy
    from lipmotion_tf.evaluation.background_source import BackgroundSource

    clip = read_clips_numpy(manifest_lib.load_manifest(prepared).shards("test"))[0]
    first = BackgroundSource([video_dir]).for_clip(clip)
    assert first.kind == "first_frame" and first.images.shape == (288, 360, 3)
    assert np.array_equal(first.boxes, np.repeat(clip.boxes[:1], 75, axis=0))
    frames = BackgroundSource([video_dir / "s1"], mode="frames").for_clip(clip)  # by file name
    assert frames.kind == "frames" and frames.images.shape == (75, 288, 360, 3)
    assert np.array_equal(frames.images[0], first.images)
    # A different recording under the clip's name is refused, and so is a missing one.
    (tmp_path / "s1").mkdir()
    other = [s for s in GRID_CLIPS if s not in clip.source][0]
    (tmp_path / "s1" / Path(clip.source).name).symlink_to(video_dir / "s1" / f"{other}.mpg")
    swapped = BackgroundSource([tmp_path]).for_clip(clip)
    assert swapped.kind == "face_photo" and "differs from the prepared crop" in swapped.note
    missing = BackgroundSource([]).for_clip(clip)
    assert missing.kind == "face_photo" and "not found" in missing.note
    assert missing.images.ndim == 3 and missing.boxes.shape == (75, 3)


@pytest.mark.slow  # an evaluation of the real GRID clips: about 5 s on 2 shared cores
def test_face_photo_fallback_without_videos(prepared, tiny_checkpoint):
    from lipmotion_tf.evaluation.evaluator import evaluate_generators
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    pipeline = LipMotionPipeline.from_checkpoint(tiny_checkpoint)
    warnings = []
    report = evaluate_generators({"tiny": pipeline}, prepared, limit=1, examples=0, progress=False,
                                 warn=warnings.append)
    assert [c.background for c in report.clips] == ["face_photo"]
    assert len(warnings) == 1 and "1 of 1 clips measured on the bundled face photo" in warnings[0]
    assert report.row(STATIC_BASELINE)["landmark_frames"] == 75
    assert math.isfinite(report.row("tiny")["lmd"])


# --- ablation ------------------------------------------------------------------------------------

TINY_CONFIG = Path(__file__).resolve().parents[1] / "training" / "tiny.yaml"


def test_ablation_refuses_bad_variants_before_training(cli, tmp_path, capsys):
    data = _write_prepared(tmp_path / "data", [_synthetic_clip("s1/a")], split="train")
    out = tmp_path / "ablation"
    base = ["evaluate", "--ablation", "--config", str(TINY_CONFIG), "--data", str(data), "--out", str(out)]
    (out / "runs" / "two_stream").mkdir(parents=True)
    (out / "runs" / "two_stream" / "config.yaml").write_text("name: another\n")
    cases = [
        (["--variants", "full,no_such_thing"], "unknown ablation 'no_such_thing'"),
        (["--variants", "full,full"], "listed twice"),
        (["--variants", "full,two_stream"], "holds a run of another configuration"),
        (["--variants", "full", "--stages", "flow"], "leaves out gan"),
        (["--variants", "full", "--set", "model.nothing=1"], "unknown config key 'model.nothing'"),
    ]
    for extra, expected in cases:
        code = cli(base + extra)
        err = capsys.readouterr().err.strip()
        assert code != 0 and expected in err, (extra, err)
        assert len(err.splitlines()) == 1, err
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["two_stream"]  # nothing trained


@pytest.mark.slow
def test_ablation_trains_and_evaluates_each_variant(prepared, video_dir, tmp_path, cli, capsys):
    # Both clips in the train split: the variants train on them and are measured on the first.
    data = tmp_path / "data"
    shutil.copytree(prepared, data)
    manifest = manifest_lib.load_manifest(data)
    manifest.clips = [dataclasses.replace(c, split="train") for c in manifest.clips]
    manifest.save()
    out = tmp_path / "ablation"
    argv = ["evaluate", "--ablation", "--config", str(TINY_CONFIG), "--data", str(data), "--out", str(out),
            "--variants", "full,two_stream", "--split", "train", "--limit", "1", "--videos", str(video_dir),
            "--no-progress"]
    assert cli(argv) == 0
    printed = capsys.readouterr().out
    assert "ablation two_stream: stage gan" in printed
    content = json.loads((out / "report.json").read_text())
    assert [r["method"] for r in content["rows"]] == [GROUND_TRUTH, STATIC_BASELINE, "full", "two_stream"]
    for row in content["rows"][2:]:
        assert all(math.isfinite(row[k]) for k in ("lmd", "ssim", "psnr", "cpbd"))
    for name in ("full", "two_stream"):
        assert (out / "runs" / name / "generator.keras").is_file()
    assert "discriminator_streams: two" in (out / "runs" / "two_stream" / "config.yaml").read_text()
    # A second run reuses the trained variants and measures the same numbers.
    assert cli(argv) == 0
    assert "stage" not in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["rows"] == content["rows"]
