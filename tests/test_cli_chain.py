"""The main workflow through the command line: a run folder written by ``lipmotion train`` is
accepted by ``generate``, ``export saved-model`` (then served by ``serve``), ``export tflite``
and ``evaluate``.

Every command runs in a fresh process, as a user runs them: nothing imported by one command
(such as the classes a Keras file names) helps the next. The chain is behind the ``slow``
marker (a training process first); the default suite keeps its crux, a ``generator.keras``
folder read by ``generate`` in a fresh process. The run trains the GAN stage alone (the stage
that writes ``generator.keras``) with the cheapest GAN to trace (two-stream discriminator, no
correlation or perceptual loss, no previews): what the run folder holds is the same, and the
training itself is tested in test_training and test_gan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = REPO_ROOT / "training" / "tiny.yaml"
LIGHT_GAN = ("--set", "model.discriminator_streams=two", "--set", "loss.correlation=0",
             "--set", "loss.perceptual=0", "--set", "train.preview_every=0")


def lipmotion(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs ``lipmotion ARGS`` in a new interpreter; fails the test on a non-zero exit."""
    result = subprocess.run([sys.executable, "-m", "lipmotion_tf.cli.main", *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    assert result.returncode == 0, f"lipmotion {args[0]} exited {result.returncode}:\n" \
                                   f"{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    from lipmotion_tf.testing import write_prepared

    return write_prepared(tmp_path_factory.mktemp("prepared"),
                          splits=(("train", 3), ("val", 1), ("test", 1)))


@pytest.fixture(scope="module")
def run_dir(prepared, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("chain") / "run"
    lipmotion("train", "--config", TINY, "--data", prepared, "--output", run, "--quiet",
              "--stages", "gan", *LIGHT_GAN)
    assert (run / "generator.keras").is_file() and (run / "config.yaml").is_file()
    return run


def _generates_from(checkpoint, output: Path) -> None:
    import av

    result = lipmotion("generate", "--checkpoint", checkpoint, "--layout", "lips", "--size",
                       "64", "-o", output)
    with av.open(str(output)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.demux(video=0)) > 100  # 5.5 s of the bundled speech
    # mediapipe no longer complains about protobuf on every run.
    assert "GetPrototype" not in result.stderr


def test_generate_reads_a_generator_keras_folder(tmp_path):
    """A folder as the GAN stage leaves it (``generator.keras`` and ``config.yaml``), read in
    a fresh process where none of the classes the Keras file names are registered yet."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.models.factory import build_generator
    from lipmotion_tf.train.runner import STAGE_OUTPUTS, save_config

    config = load_config(TINY)
    folder = tmp_path / "run"
    folder.mkdir()
    build_generator(config).save(folder / STAGE_OUTPUTS["gan"])
    save_config(config, folder / "config.yaml")
    _generates_from(folder, tmp_path / "lips.mp4")


@pytest.mark.slow
def test_generate_accepts_the_run_folder(run_dir, tmp_path):
    _generates_from(run_dir, tmp_path / "lips.mp4")


@pytest.mark.slow
def test_export_saved_model_of_the_run_folder_is_served(run_dir, tmp_path):
    import signal

    import numpy as np

    from lipmotion_tf.serving.client import LipMotionClient
    from lipmotion_tf.testing import start_serve

    base = tmp_path / "models"
    lipmotion("export", "saved-model", "--checkpoint", run_dir, "--output", base)
    assert (base / "1" / "saved_model.pb").is_file()
    process, port = start_serve(base, "--no-warmup")
    try:
        speech = 0.1 * np.sin(np.arange(13230) / 7.0).astype(np.float32)  # 0.3 s
        with LipMotionClient(f"127.0.0.1:{port}", timeout=120) as client:
            frames = client.generate(speech, 44100, np.zeros((80, 80, 3), np.uint8))
        assert frames.shape == (8, 64, 64, 3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_export_tflite_accepts_the_run_folder(run_dir, tmp_path):
    output = tmp_path / "generator.tflite"
    lipmotion("export", "tflite", "--checkpoint", run_dir, "-o", output)
    assert output.read_bytes()[4:8] == b"TFL3"


@pytest.mark.slow
def test_evaluate_accepts_the_run_folder(run_dir, prepared, tmp_path):
    out = tmp_path / "report"
    lipmotion("evaluate", "--data", prepared, "--checkpoint", run_dir, "--out", out,
              "--split", "test", "--examples", "1", "--no-progress")
    report = json.loads((out / "report.json").read_text())
    assert report and (out / "report.md").is_file()
