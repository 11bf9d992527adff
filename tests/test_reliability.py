"""Bad inputs are refused in one line, and a failed or stopped run never loses an output.

A table of bad inputs per command with the expected exit code and message, then the output
rule (temporary file, check, rename) at the writer level and under SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
GOOD_VIDEO = b"a good video from an earlier run"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_checkpoint, optional_shared_data) -> dict[str, Path]:
    """Bad files of every kind, made once."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("bad_inputs")
    speech = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32) * 0.3
    sf.write(folder / "speech.wav", speech, 16000, subtype="FLOAT")
    speech[4000:4010] = np.nan
    sf.write(folder / "nan.wav", speech, 16000, subtype="FLOAT")
    (folder / "empty.jpg").write_bytes(b"")
    grid_clip = (optional_shared_data or folder) / "grid" / "s1" / "bbaf2n.mpg"
    if grid_clip.is_file():  # GRID's first 10 KB hold video packets only
        (folder / "truncated.mpg").write_bytes(grid_clip.read_bytes()[:10240])

    weights = (tiny_checkpoint / "generator_weights.npz").read_bytes()
    for name, content in (("garbage", b"not an npz archive\n" * 10),
                          ("truncated", weights[: len(weights) // 2])):
        checkpoint = folder / f"{name}_checkpoint"
        checkpoint.mkdir()
        shutil.copy(tiny_checkpoint / "config.yaml", checkpoint / "config.yaml")
        (checkpoint / "generator_weights.npz").write_bytes(content)
    return {"folder": folder, "speech": folder / "speech.wav", "nan": folder / "nan.wav",
            "empty_image": folder / "empty.jpg", "truncated_mpg": folder / "truncated.mpg",
            "garbage_npz": folder / "garbage_checkpoint",
            "truncated_npz": folder / "truncated_checkpoint",
            # A lone weights file with its config.yaml beside it.
            "garbage_npz_file": folder / "garbage_checkpoint" / "generator_weights.npz"}


# (arguments after the command, with {name} standing for a file of `inputs`; exit code;
# words the one-line message must hold)
GENERATE_CASES = {
    "nan_audio": (["--audio", "{nan}"], 2, "non-finite"),
    "max_duration_nan": (["--audio", "{speech}", "--max-duration", "nan"], 2, "--max-duration"),
    "max_duration_zero": (["--audio", "{speech}", "--max-duration", "0"], 2, "--max-duration"),
    "empty_image": (["--audio", "{speech}", "--image", "{empty_image}"], 2, "empty"),
    "truncated_video": (["--audio", "{truncated_mpg}"], 2, "looks truncated"),
    "garbage_weights": (["--audio", "{speech}", "--checkpoint", "{garbage_npz}"], 2,
                        "cannot read"),
    "truncated_weights": (["--audio", "{speech}", "--checkpoint", "{truncated_npz}"], 2,
                          "cannot read"),
    "garbage_weights_file": (["--audio", "{speech}", "--checkpoint", "{garbage_npz_file}"], 2,
                             "cannot read"),
}


def _fill(args: list[str], inputs: dict[str, Path]) -> list[str]:
    return [arg.format(**inputs) for arg in args]


@pytest.mark.parametrize("case", sorted(GENERATE_CASES))
def test_generate_refuses_bad_input_and_keeps_the_existing_video(case, inputs, tiny_checkpoint,
                                                                 tmp_path, capsys):
    args, code, words = GENERATE_CASES[case]
    if case == "truncated_video" and not inputs["truncated_mpg"].is_file():
        pytest.skip("needs GRID s1 in ../shared/data")
    output = tmp_path / "out.mp4"
    output.write_bytes(GOOD_VIDEO)
    args = ["generate", "--checkpoint", str(tiny_checkpoint), "--lip-image", "-o", str(output),
            *_fill(args, inputs)]
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipmotion generate: error:") and len(err.splitlines()) == 1, err
    assert words in err, err
    assert output.read_bytes() == GOOD_VIDEO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left


EXPORT_CASES = {
    "saved_model_garbage_weights": (
        ["saved-model", "--checkpoint", "{garbage_npz}", "--output", "{out}/models"],
        "cannot read"),
    "tflite_truncated_weights": (
        ["tflite", "--checkpoint", "{truncated_npz}", "-o", "{out}/model.tflite"],
        "cannot read"),
    "tflite_not_a_tflite_name": (["tflite", "-o", "{out}/model.mp4"], ".tflite"),
}


@pytest.mark.parametrize("case", sorted(EXPORT_CASES))
def test_export_refuses_bad_input_and_writes_nothing(case, inputs, tmp_path, capsys):
    args, words = EXPORT_CASES[case]
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", *_fill(args, {**inputs, "out": out})]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipmotion export: error:") and len(err.splitlines()) == 1, err
    assert words in err, err
    assert not any(out.iterdir())  # not even an empty model base


def test_python_api_checks_speech_as_the_command_does(tiny_checkpoint):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    pipeline = LipMotionPipeline.from_checkpoint(tiny_checkpoint, max_duration=2.0)
    image = np.full((64, 64, 3), 120, np.uint8)
    speech = np.zeros(44100, np.float32)
    bad = speech.copy()
    bad[10] = np.inf
    for waveform, words in ((bad, "non-finite"), (np.zeros(0, np.float32), "empty"),
                            (np.zeros(3 * 44100, np.float32), "limit")):
        with pytest.raises(InputError, match=words):
            pipeline.generate(waveform, 44100, image, is_lip_crop=True)
    with pytest.raises(InputError, match="16x16"):
        pipeline.generate(speech, 44100, np.zeros((1, 1, 3), np.uint8), is_lip_crop=True)
    with pytest.raises(InputError, match="max duration"):
        LipMotionPipeline.from_checkpoint(tiny_checkpoint, max_duration=float("nan"))


def test_failed_check_or_write_leaves_the_existing_file(tmp_path):
    from lipmotion_tf.output_files import write_atomically

    output = tmp_path / "result.json"
    output.write_text("old")

    def refuse(path):
        raise InputError("bad content")

    with pytest.raises(InputError):
        with write_atomically(output, verify=refuse) as temporary:
            temporary.write_text("new")
    with pytest.raises(KeyboardInterrupt):
        with write_atomically(output) as temporary:
            temporary.write_text("half")
            raise KeyboardInterrupt
    assert output.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["result.json"]
    with write_atomically(output) as temporary:
        temporary.write_text("new")
    assert output.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_encoder_failure_keeps_the_existing_video(tmp_path):
    # NaN samples reaching the AAC encoder (past the checks, as a future bug might let them)
    # fail the encoding after every frame is written: the old video must survive.
    from lipmotion_tf.generate.mp4_writer import Mp4Writer

    output = tmp_path / "out.mp4"
    output.write_bytes(GOOD_VIDEO)
    writer = Mp4Writer(output, 25, 64, 64, np.zeros(44100, np.float32), 44100)
    writer.audio = np.full(44100, np.nan, np.float32)
    with pytest.raises(InputError, match="encoder"):
        with writer:
            for _ in range(25):
                writer.write(np.zeros((64, 64, 3), np.uint8))
    assert output.read_bytes() == GOOD_VIDEO
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_sigterm_during_generate_leaves_no_partial_file(tiny_checkpoint, inputs, tmp_path):
    import soundfile as sf

    speech = tmp_path / "long.wav"
    sf.write(speech, np.zeros(16000 * 300, np.float32), 16000)  # five minutes: far from finishing
    output = tmp_path / "out.mp4"
    output.write_bytes(GOOD_VIDEO)
    process = subprocess.Popen(
        [sys.executable, "-m", "lipmotion_tf.cli.main", "generate", "--checkpoint",
         str(tiny_checkpoint), "--audio", str(speech), "--lip-image", "--layout", "lips",
         "--size", "64", "-o", str(output)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.mp4.*partial*")):
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "generation never started writing"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "lipmotion generate: interrupted"
    assert output.read_bytes() == GOOD_VIDEO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav", "out.mp4"]
    assert os.path.getsize(output) == len(GOOD_VIDEO)


def test_serve_help_does_not_show_no_warmup_as_on(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--no-warmup do not replay" in help_text and "(default: True)" not in help_text


@pytest.mark.parametrize("command", ["train", "prepare"])
def test_outputs_under_a_file_are_one_line_errors(command, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    if command == "train":
        from lipmotion_tf.testing import write_prepared

        data = write_prepared(tmp_path / "prepared")
        args = ["train", "--config", str(REPO_ROOT / "training" / "tiny.yaml"),
                "--data", str(data), "--output", str(blocker / "run")]
    else:
        videos = tmp_path / "videos"
        videos.mkdir()
        (videos / "clip.mp4").write_bytes(b"\0" * 64)
        args = ["prepare", str(videos), str(blocker / "prepared"), "--no-progress"]
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code != 0 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "a_file" in err and "Not a directory" in err
    assert blocker.read_text() == "not a folder"
