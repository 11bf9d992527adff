"""The ``lipmotion`` command itself: help is cheap, errors are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lipmotion_tf.cli.main import SUBCOMMANDS, main


def test_help_does_not_import_heavy_libraries():
    # `lipmotion --help` must answer fast: building the parser may not import TF, Keras,
    # mediapipe or librosa.
    code = (
        "import sys; from lipmotion_tf.cli.main import build_parser; build_parser(); "
        "heavy = [m for m in ('tensorflow', 'keras', 'mediapipe', 'librosa', 'jax', 'cv2') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in text


def test_unknown_subcommand_exits_non_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code != 0
    assert "invalid choice" in capsys.readouterr().err
