"""The benchmark harness runs end to end (tiny sizes; the figures themselves are not checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_throughput_runs_under_jax_with_bfloat16_and_xla(tmp_path):
    # The GPU path (JAX backend, mixed_bfloat16 policy, XLA-compiled predict and GAN step) on
    # this machine's CPU with the tiny config.
    out = tmp_path / "gpu.json"
    subprocess.run(
        [sys.executable, "benchmarks/gpu_throughput.py", "--quick", "--json", str(out)],
        check=True, cwd=REPO_ROOT, timeout=1200, env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    figures = json.loads(out.read_text())
    assert figures["precision"] == "mixed_bfloat16"
    assert figures["generation"]["frames_per_s"] > 0
    assert figures["generation"]["gflop_per_window"] > 0
    assert figures["training"]["windows_per_s"] > 0
    assert 0 <= figures["training"]["input_wait_share"] < 1


@pytest.mark.slow
def test_run_py_quick_writes_one_table(tmp_path):
    out = tmp_path / "run.json"
    subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--only", "ceiling,latency,gpu",
         "--json", str(out)],
        check=True, cwd=REPO_ROOT, timeout=1200,
    )
    results = json.loads(out.read_text())
    figures = [row["figure"] for row in results["table"]]
    assert "CPU float32 matmul ceiling" in figures
    assert any(f.startswith("window tflite-int8") for f in figures)
    # Both layouts are counted; which is cheaper depends on the sizes (the default layout
    # saves FLOPs at the shipped and full sizes, not at the tiny config this run uses).
    flops = results["latency"][0]["gflop_per_window"]
    assert flops["default"] > 0 and flops["plain"] > 0


def test_warp_folds_counts_none_on_a_frontal_face(shared_data, tmp_path):
    """The fold count runs on a real video as a user runs it, and a face seen from the front
    (GRID s3, kept out of training) driven by its own motion does not fold the warp."""
    video = shared_data / "grid" / "speakers" / "s3" / "bbaf2p.mpg"
    out = tmp_path / "folds.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/warp_folds.py", str(video), "--json", str(out)],
        cwd=REPO_ROOT, timeout=600, capture_output=True, text=True, check=True,
    )
    totals = json.loads(result.stdout.strip().splitlines()[-1])
    assert totals["videos"] == 1 and totals["frames"] > 50
    assert totals["folded_cells"] == 0
    (clip,) = json.loads(out.read_text())
    assert clip["video"] == "bbaf2p.mpg" and clip["turn"] < 10
