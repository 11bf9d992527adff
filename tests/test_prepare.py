"""Alignments, splits and `lipmotion prepare` on a small real subset: records, failures, resume."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.config import AudioConfig, DataConfig
from lipmotion_tf.data import manifest as manifest_lib
from lipmotion_tf.data.alignment import (
    AlignedWord,
    find_alignment,
    parse_alignment,
    speech_flags,
    speech_flags_for_video,
)
from lipmotion_tf.data.records import read_clips_numpy
from lipmotion_tf.data.splits import assign_split, clip_fraction, split_clips
from lipmotion_tf.errors import DataError, InputError

GRID_CLIPS = ("bbaf2n", "bbaf5a", "bbal9a")


# --- alignments ------------------------------------------------------------------------------


def test_parse_alignment_and_flags(tmp_path):
    path = tmp_path / "clip.align"
    path.write_text("0 2500 sil\n2500 5400 bin\n5400 6000 sp\n6000 8000 blue\n\n")
    words = parse_alignment(path)
    assert words[1] == AlignedWord(2500, 5400, "bin") and words[2].is_silence
    flags = speech_flags(words, 10)
    # Frame 2 [2000, 3000): 500 silence vs 500 speech -> silence; frame 5: 400 speech vs 600.
    assert flags.tolist() == [0, 0, 0, 1, 1, 0, 1, 1, -1, -1]
    assert flags.dtype == np.int8


@pytest.mark.parametrize("line", ["0 100", "a b sil", "500 100 sil", "-5 100 sil"])
def test_malformed_alignment_names_file_and_line(tmp_path, line):
    path = tmp_path / "bad.align"
    path.write_text(f"0 100 sil\n{line}\n")
    with pytest.raises(InputError, match=r"bad\.align:2"):
        parse_alignment(path)


def test_find_alignment_in_both_layouts(tmp_path):
    (tmp_path / "grid" / "s1").mkdir(parents=True)
    (tmp_path / "grid" / "align" / "s1").mkdir(parents=True)
    (tmp_path / "grid" / "align" / "s1" / "a.align").write_text("0 3000 sil\n")
    (tmp_path / "speakers" / "s2").mkdir(parents=True)
    (tmp_path / "speakers" / "s2" / "b.align").write_text("0 3000 bin\n")
    grid, speakers = tmp_path / "grid", tmp_path / "speakers"
    assert find_alignment(grid / "s1" / "a.mpg") == grid / "align" / "s1" / "a.align"
    assert find_alignment(speakers / "s2" / "b.mpg") == speakers / "s2" / "b.align"
    assert find_alignment(tmp_path / "grid" / "s1" / "c.mpg") is None
    assert speech_flags_for_video(tmp_path / "grid" / "s1" / "c.mpg", 4).tolist() == [-1] * 4
    assert speech_flags_for_video(tmp_path / "speakers" / "s2" / "b.mpg", 4).tolist() == [1, 1, 1, -1]


def test_real_grid_alignment(grid_s1):
    flags = speech_flags_for_video(grid_s1 / "bbaf2n.mpg", 75)
    # bbaf2n: silence until 23750, words until 53000, silence until 74500.
    assert (flags[:23] == 0).all() and (flags[24:53] == 1).all() and (flags[53:] == 0).all()


# --- splits ----------------------------------------------------------------------------------


def test_splits_are_deterministic_and_follow_fractions():
    ids = [f"s{k % 7}/clip{k:05d}" for k in range(20000)]
    config = DataConfig(val_fraction=0.1, test_fraction=0.05)
    groups = split_clips(ids, config)
    assert groups == split_clips(list(reversed(ids)), config)  # order does not matter
    assert sum(len(g) for g in groups.values()) == len(ids)
    assert len(groups["test"]) / len(ids) == pytest.approx(0.05, abs=0.01)
    assert len(groups["val"]) / len(ids) == pytest.approx(0.1, abs=0.01)
    assert groups["train"] == sorted(groups["train"])
    assert 0.0 <= clip_fraction("s1/bbaf2n") < 1.0
    assert assign_split("s1/bbaf2n", 0.0, 0.0) == "train"
    assert assign_split("s1/bbaf2n", 0.0, 1.0) == "test"


# --- prepare ---------------------------------------------------------------------------------


def write_silent_video(path: Path, num_frames: int = 20) -> Path:
    """A video without an audio track."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "bgr0"
        for _ in range(num_frames):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 90, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video_dir(shared_data, tmp_path_factory) -> Path:
    """4 real GRID clips (two alignment layouts), a corrupt file and a video with no sound."""
    root = tmp_path_factory.mktemp("videos")
    grid = shared_data / "grid"
    (root / "s1").mkdir()
    (root / "align" / "s1").mkdir(parents=True)
    for stem in GRID_CLIPS:
        (root / "s1" / f"{stem}.mpg").symlink_to(grid / "s1" / f"{stem}.mpg")
        (root / "align" / "s1" / f"{stem}.align").symlink_to(grid / "align" / "s1" / f"{stem}.align")
    (root / "s2").mkdir()
    for suffix in (".mpg", ".align"):
        (root / "s2" / f"pwij3p{suffix}").symlink_to(grid / "speakers" / "s2" / f"pwij3p{suffix}")
    (root / "s1" / "corrupt.mpg").write_bytes(b"\x00\x00\x01\xba not an mpeg stream" * 50)
    (root / "extra").mkdir()
    write_silent_video(root / "extra" / "silent.mkv")
    (root / "extra" / "notes.txt").write_text("not a video")
    return root


def assert_same_clips(actual, expected):
    """Prepared clips equal field by field (record bytes may order the features differently)."""
    assert [c.clip_id for c in actual] == [c.clip_id for c in expected]
    for a, b in zip(actual, expected):
        for field in dataclasses.fields(a):
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name), field.name)


def settings(**data_overrides):
    from lipmotion_tf.data.prepare import PrepareSettings

    data = DataConfig(val_fraction=0.25, test_fraction=0.25, **data_overrides)
    return PrepareSettings.from_configs(AudioConfig(), data)


@pytest.fixture(scope="module")
def prepared(video_dir, tmp_path_factory):
    from lipmotion_tf.data.prepare import prepare

    out = tmp_path_factory.mktemp("prepared") / "out"
    warnings = []
    result = prepare(video_dir, out, settings(), workers=1, shard_size=1, progress=False,
                     warn=warnings.append)
    return out, result, warnings


def test_prepare_manifest_and_failures(prepared, video_dir):
    out, result, warnings = prepared
    manifest = manifest_lib.load_manifest(out)
    ids = [c.clip_id for c in manifest.clips]
    assert ids == sorted([f"s1/{s}" for s in GRID_CLIPS] + ["s2/pwij3p"])
    assert manifest.image_size == 64 and manifest.audio["sample_rate"] == 44100
    for clip in manifest.clips:
        assert clip.speaker == clip.clip_id.split("/")[0]
        assert (video_dir / clip.source).is_file()
        assert clip.split == assign_split(clip.clip_id, 0.25, 0.25)
        assert clip.shard == f"shards/{clip.split}-" + clip.shard.split("-")[-1]
        assert (out / clip.shard).is_file()
        assert (clip.num_frames, clip.faces_found) == (75, 75)
    failures = json.loads((out / manifest_lib.FAILURES_NAME).read_text())
    assert [f["clip_id"] for f in failures] == ["extra/silent", "s1/corrupt"]
    assert all(f["reason"] == "InputError" for f in failures)
    assert "no audio track" in failures[0]["message"] and "silent.mkv" in failures[0]["message"]
    assert "corrupt.mpg" in failures[1]["message"]
    assert len(warnings) == 2 and any("corrupt.mpg" in w for w in warnings)
    assert result.failures == failures
    shard_names = {p.name for p in (out / "shards").iterdir()}
    assert not any(".partial" in name for name in shard_names)


def test_prepared_records_parse(prepared):
    out, _, _ = prepared
    manifest = manifest_lib.load_manifest(out)
    clips = {c.clip_id: c for c in read_clips_numpy(manifest.shards("all"))}
    assert sorted(clips) == [c.clip_id for c in manifest.clips]
    clip = clips["s1/bbaf2n"]
    assert clip.frames.shape == (75, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (75 * 1764,) and clip.sample_rate == 44100
    assert np.abs(clip.audio).max() > 1000  # real speech, not silence
    assert clip.boxes.shape == (75, 3) and clip.landmarks.shape == (75, 40, 2)
    assert clip.face_found.all() and clip.frame_size == (288, 360)
    assert clip.source == "s1/bbaf2n.mpg"
    assert clip.speech[:20].tolist() == [0] * 20 and clip.speech[30] == 1
    assert set(clips["s2/pwij3p"].speech.tolist()) == {0, 1}  # alignment beside the video


def test_rerun_reuses_every_shard(prepared, video_dir, tmp_path):
    from lipmotion_tf.data.prepare import prepare

    out, _, _ = prepared
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = json.loads((copy / manifest_lib.MANIFEST_NAME).read_text())
    # Six planned clips (two of them fail), one per shard: all finished already.
    result = prepare(video_dir, copy, settings(), workers=1, shard_size=1, progress=False,
                     warn=lambda _: None)
    assert result.shards_written == 0 and result.shards_reused == 6
    assert json.loads((copy / manifest_lib.MANIFEST_NAME).read_text()) == before


def test_resume_after_an_interruption(prepared, video_dir, tmp_path, monkeypatch):
    from lipmotion_tf.data import prepare as prepare_module

    out, _, _ = prepared
    full_manifest = json.loads((out / manifest_lib.MANIFEST_NAME).read_text())
    resumed = tmp_path / "out"
    shutil.copytree(out, resumed)
    victim = sorted((resumed / "shards").glob("*.tfrecord"))[-1]
    original = read_clips_numpy([victim])
    # Interrupt while that shard is being written: the temporary file must not survive.
    real_write = prepare_module._write_shard

    def interrupted(out_dir, plan, results, fingerprint):
        if plan.name == victim.stem:
            (out_dir / "shards" / f".{plan.name}.tfrecord.x1.partial.tfrecord").write_bytes(
                b"half a shard")
            raise KeyboardInterrupt
        return real_write(out_dir, plan, results, fingerprint)

    victim.unlink()
    victim.with_suffix(".json").unlink()
    (resumed / "shards" / ".stray.tfrecord.x2.partial.tfrecord").write_bytes(
        b"left by a killed run")
    monkeypatch.setattr(prepare_module, "_write_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_module.prepare(video_dir, resumed, settings(), workers=1, shard_size=1,
                               progress=False, warn=lambda _: None)
    assert not (resumed / manifest_lib.MANIFEST_NAME).exists()  # never a stale manifest
    assert not victim.exists()

    monkeypatch.setattr(prepare_module, "_write_shard", real_write)
    result = prepare_module.prepare(video_dir, resumed, settings(), workers=1, shard_size=1,
                                    progress=False, warn=lambda _: None)
    assert result.shards_written == 1 and result.shards_reused == 5
    assert json.loads((resumed / manifest_lib.MANIFEST_NAME).read_text()) == full_manifest
    assert_same_clips(read_clips_numpy([victim]), original)  # deterministic preparation
    assert not list((resumed / "shards").glob("*.partial*"))


def test_changed_settings_redo_shards(prepared, video_dir, tmp_path):
    from lipmotion_tf.data.prepare import prepare

    out, _, _ = prepared
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    # The first 3 videos by path: extra/silent.mkv (fails), s1/bbaf2n.mpg, s1/bbaf5a.mpg.
    result = prepare(video_dir, copy, settings(image_size=32), workers=1, shard_size=1, limit=3,
                     progress=False, warn=lambda _: None)
    assert result.shards_written == 3 and result.shards_reused == 0
    assert result.manifest.image_size == 32 and len(result.manifest.clips) == 2
    assert len(list((copy / "shards").glob("*.tfrecord"))) == 2  # stale shards removed
    assert read_clips_numpy(result.manifest.shards("all"))[0].frames.shape[1:] == (32, 32, 3)


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    """``lipmotion`` with only the prepare subcommand registered."""
    from lipmotion_tf.cli import main as main_module

    monkeypatch.setattr(main_module, "SUBCOMMANDS", {"prepare": "prepare"})
    return main_module.main


def test_cli_missing_or_empty_video_dir(cli, tmp_path, capsys):
    assert cli(["prepare", str(tmp_path / "nope"), str(tmp_path / "out")]) == InputError.exit_code
    err = capsys.readouterr().err
    assert "video folder not found" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no videos here")
    assert cli(["prepare", str(tmp_path / "empty"), str(tmp_path / "out")]) != 0
    assert "no videos" in capsys.readouterr().err


def test_cli_fails_when_no_video_can_be_prepared(cli, tmp_path, capsys):
    (tmp_path / "in" / "s1").mkdir(parents=True)
    (tmp_path / "in" / "s1" / "a.mp4").write_bytes(b"garbage" * 100)
    write_silent_video(tmp_path / "in" / "s1" / "b.mkv")
    out = tmp_path / "out"
    argv = ["prepare", str(tmp_path / "in"), str(out), "--workers", "1", "--no-progress"]
    assert cli(argv) == DataError.exit_code
    err = capsys.readouterr().err
    assert "none of the 2 videos could be prepared" in err
    assert "warning" in err and "a.mp4" in err and "no audio track" in err
    assert len(json.loads((out / "failures.json").read_text())) == 2
    assert not (out / "manifest.json").exists()


def test_duplicate_clip_ids_are_reported(tmp_path):
    from lipmotion_tf.data.prepare import prepare

    (tmp_path / "in" / "s1").mkdir(parents=True)
    write_silent_video(tmp_path / "in" / "s1" / "a.mkv")
    write_silent_video(tmp_path / "in" / "s1" / "a.mp4")
    warnings = []
    with pytest.raises(DataError):
        prepare(tmp_path / "in", tmp_path / "out", settings(), workers=1, progress=False,
                warn=warnings.append)
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())
    assert [(f["source"], f["reason"]) for f in failures] == [
        ("s1/a.mkv", "InputError"), ("s1/a.mp4", "DuplicateClipId")
    ]
    assert "same clip id as s1/a.mkv" in warnings[0]


def test_cli_prepares_with_config_and_limit(cli, video_dir, tmp_path, capsys):
    config = tmp_path / "small.yaml"
    config.write_text("data:\n  image_size: 32\n  val_fraction: 0.0\n  test_fraction: 0.0\n")
    out = tmp_path / "out"
    argv = ["prepare", str(video_dir), str(out), "--config", str(config), "--limit", "3",
            "--workers", "1", "--shard-size", "4", "--no-progress"]
    assert cli(argv) == 0
    text = capsys.readouterr().out
    assert "prepared 2 clips (train 2, val 0, test 0)" in text and "1 failed" in text
    manifest = manifest_lib.load_manifest(out)
    assert manifest.image_size == 32
    assert {c.shard for c in manifest.clips} == {"shards/train-00000.tfrecord"}
    assert cli(argv) == 0
    assert "0 shards written, 1 reused" in capsys.readouterr().out
    assert cli(["prepare", str(video_dir), str(out), "--shard-size", "0"]) != 0
    assert "--shard-size" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_with_worker_processes(video_dir, tmp_path):
    from lipmotion_tf.data.prepare import prepare

    serial = prepare(video_dir, tmp_path / "serial", settings(), workers=1, progress=False,
                     warn=lambda _: None)
    parallel = prepare(video_dir, tmp_path / "parallel", settings(), workers=2, progress=False,
                       warn=lambda _: None)
    assert parallel.manifest.to_json() == serial.manifest.to_json()
    assert_same_clips(read_clips_numpy(parallel.manifest.shards("all")),
                      read_clips_numpy(serial.manifest.shards("all")))


def test_find_videos_follows_symlinked_folders_once(tmp_path):
    from lipmotion_tf.data.prepare import find_videos

    elsewhere = tmp_path / "elsewhere" / "s9"
    elsewhere.mkdir(parents=True)
    (elsewhere / "a.mp4").write_bytes(b"")
    root = tmp_path / "videos"
    (root / "s1").mkdir(parents=True)
    (root / "s1" / "b.MPG").write_bytes(b"")
    (root / "s9").symlink_to(elsewhere, target_is_directory=True)
    (root / "s1" / "loop").symlink_to(root, target_is_directory=True)  # a cycle
    assert find_videos(root) == [root / "s1" / "b.MPG", root / "s9" / "a.mp4"]


def test_prepare_clip_streams_the_frames(video_dir, monkeypatch):
    """prepare_clip decodes the clip twice in a stream instead of holding all its frames,
    and gives what cropping the held frames gives."""
    import lipmotion_tf.video.reader as reader
    from lipmotion_tf.data.prepare import ClipSource, prepare_clip
    from lipmotion_tf.video.lip_crop import LipCropper

    path = video_dir / "s1" / f"{GRID_CLIPS[0]}.mpg"
    held = LipCropper().crop_video(reader.read_video(path))
    opened = []
    iter_video = reader.iter_video

    def counted(*args, **kwargs):
        opened.append(args[0])
        return iter_video(*args, **kwargs)

    def refused(*_args, **_kwargs):
        raise AssertionError("prepare read the whole video into memory")

    monkeypatch.setattr(reader, "iter_video", counted)
    monkeypatch.setattr(reader, "read_video", refused)
    source = ClipSource(f"s1/{GRID_CLIPS[0]}", "s1", f"s1/{GRID_CLIPS[0]}.mpg")
    clip = prepare_clip(path, source, settings(), LipCropper())
    assert len(opened) == 2
    np.testing.assert_array_equal(clip.frames, held.frames)
    np.testing.assert_array_equal(clip.boxes, held.boxes)
    assert clip.frame_size == (288, 360)
