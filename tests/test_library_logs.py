"""The libraries' log lines are hidden unless asked for (lipmotion_tf/library_logs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lipmotion_tf.library_logs import (
    LIBRARY_LOG_SETTINGS,
    VERBOSE_VARIABLE,
    is_library_line,
    quiet_library_logs,
)

# Lines TensorFlow 2.21, mediapipe 0.10.21 and the TFLite runtime print on a CPU-only machine.
LIBRARY_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796537199.058738    4569 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796537205.773094    4569 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "W0000 00:00:1796537208.429579    4607 inference_feedback_manager.cc:114] Feedback manager "
    "requires a model with a single signature inference. Disabling support for feedback tensors.",
    "I1206 06:06:30.123456   12345 port.cc:153] oneDNN custom operations are on.",
    "2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not "
    "find cuda drivers on your machine, GPU will not be used.",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
]
PROGRAM_LINES = [
    "wrote lipmotion.mp4",
    "\rgenerating:  56%|#####6    | 14/25 [00:01<00:00, 12.27frame/s]",
    "lipmotion generate: error: audio file not found: speech.wav",
    "F0000 00:00:1796537205.773094    4569 tensor.cc:12] Check failed: a crash is reported",
    "Traceback (most recent call last):",
    "Epoch 1/3",
]


@pytest.mark.parametrize("line", LIBRARY_LINES)
def test_library_lines_are_recognised(line):
    assert is_library_line(line.encode())


@pytest.mark.parametrize("line", PROGRAM_LINES)
def test_program_lines_are_kept(line):
    assert not is_library_line(line.encode())


def test_settings_are_defaults_that_the_user_overrides():
    environ = {"TF_CPP_MIN_LOG_LEVEL": "1"}
    assert quiet_library_logs(environ=environ)
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "1"  # the user's own value wins
    assert environ["GLOG_minloglevel"] == LIBRARY_LOG_SETTINGS["GLOG_minloglevel"]
    verbose = {}
    assert not quiet_library_logs(verbose=True, environ=verbose)
    assert verbose == {VERBOSE_VARIABLE: "1"}  # passed on to worker processes, nothing set
    assert not quiet_library_logs(environ={VERBOSE_VARIABLE: "1"})


def _clean_environment(**env) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if k not in (VERBOSE_VARIABLE, *LIBRARY_LOG_SETTINGS)}
    return {**environ, **env}


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=_clean_environment(**env), timeout=120)


def _run_lipmotion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lipmotion_tf.cli.main", *args],
                          capture_output=True, text=True, env=_clean_environment(), timeout=300)


NATIVE_WRITES = """
    import os, subprocess, sys
    from lipmotion_tf.library_logs import quiet_library_logs
    quiet_library_logs()
    lines = {lines!r}
    os.write(2, ("\\n".join(lines) + "\\n").encode())  # as C++ code writes: to descriptor 2
    print("python's own stderr line", file=sys.stderr)
    # a child process inherits descriptor 2
    subprocess.run(["sh", "-c", "echo 'W0000 00:00:1.5 77 child.cc:1] child noise' >&2; "
                                "echo 'child kept' >&2"], check=True)
    os.write(2, b"last native line, no newline")
"""


def test_native_library_lines_are_dropped_in_a_fresh_process():
    code = NATIVE_WRITES.format(lines=LIBRARY_LINES + ["native kept"])
    quiet = _run_python(code)
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if is_library_line(line.encode())]
    for kept in ("native kept", "python's own stderr line", "child kept",
                 "last native line, no newline"):
        assert kept in quiet.stderr
    verbose = _run_python(code, **{VERBOSE_VARIABLE: "1"})
    assert "child noise" in verbose.stderr and "cuInit" in verbose.stderr


@pytest.mark.slow  # the shipped paper model generates twice in fresh processes: about 26 s on 2
# shared cores (the filtering of native lines is checked in a fresh process above)
def test_lipmotion_is_quiet_by_default_and_verbose_on_request(tmp_path):
    """A real run on a CPU-only machine: TensorFlow, the CUDA probe and mediapipe's face mesh
    print nothing; --verbose brings their lines back (a fresh process each)."""
    import soundfile

    from lipmotion_tf.cli.generate import _assets

    waveform, rate = soundfile.read(_assets() / "samples" / "speech.flac")
    speech = tmp_path / "speech.wav"
    soundfile.write(speech, waveform[: int(0.7 * rate)], rate)
    quiet = _run_lipmotion("generate", "--model", "paper", "--audio", str(speech),
                           "-o", str(tmp_path / "out.mp4"))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip().startswith("wrote ")
    noise = [line for line in quiet.stderr.replace("\r", "\n").splitlines()
             if line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages"))
             or "cuda" in line.lower() or is_library_line(line.encode())]
    assert not noise, quiet.stderr
    # --verbose: the same run shows the libraries' lines.
    verbose = _run_lipmotion("generate", "--verbose", "--model", "paper", "--audio",
                             str(speech), "-o", str(tmp_path / "verbose.mp4"))
    assert verbose.returncode == 0, verbose.stderr
    assert [line for line in verbose.stderr.splitlines() if is_library_line(line.encode())], \
        verbose.stderr
