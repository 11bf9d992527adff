"""Issue 33's hostile cases: an output that is an input, config values out of range, number
options that make no sense. Each is refused in one line before any work, and fast."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.errors import InputError

SOURCE = b"the user's only copy"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lipmotion {command}: error:") and len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(SOURCE)
    return path


def test_check_not_an_input(tmp_path, clip):
    from lipmotion_tf.generate.render import check_not_an_input

    check_not_an_input(tmp_path / "other.mp4", clip, None)
    check_not_an_input(clip.with_name("missing.mp4"), tmp_path / "also_missing.wav")
    os.symlink(clip, tmp_path / "link.mp4")
    os.link(clip, tmp_path / "hard.mp4")
    for output in (clip, tmp_path / "link.mp4", tmp_path / "hard.mp4",
                   tmp_path / "sub" / ".." / "clip.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InputError, match="is also an input"):
            check_not_an_input(output, tmp_path / "speech.wav", clip)
    with pytest.raises(InputError, match="is also an input"):
        check_not_an_input(clip, str(tmp_path / "link.mp4"))  # the input is the symlink


@pytest.mark.parametrize("case", ["generate_audio", "dub_video", "dub_audio", "dub_symlink"])
def test_output_that_is_an_input_is_refused(case, tmp_path, clip, capsys):
    other = tmp_path / "speech.wav"
    other.write_bytes(b"speech")
    if case == "generate_audio":
        command, args = "generate", ["--model", "paper", "--audio", str(clip), "-o", str(clip)]
    elif case == "dub_video":
        command, args = "dub", ["--video", str(clip), "--audio", str(other), "-o", str(clip)]
    elif case == "dub_audio":
        command, args = "dub", ["--video", str(other), "--audio", str(clip), "-o", str(clip)]
    else:
        os.symlink(clip, tmp_path / "link.mp4")
        command, args = "dub", ["--video", str(clip), "--audio", str(other),
                                "-o", str(tmp_path / "link.mp4")]
    assert main([command, *args]) == 2
    err = _one_line_error(capsys, command)
    assert "is also an input" in err, err
    assert clip.read_bytes() == SOURCE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary
