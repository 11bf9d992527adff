"""Every speed figure this machine can measure: one command, one table, one JSON file.

Usage::

    python benchmarks/run.py                            # full suite (about 25 min on 2 CPU cores)
    python benchmarks/run.py --data prepared/grid_s1    # int8 calibrated and scored on real GRID
    python benchmarks/run.py --only ceiling,latency     # a subset
    python benchmarks/run.py --quick                    # small sizes: checks the harness (~3 min)

Runs each benchmark script of this folder in its own process (so that peak memory is the
benchmark's own) with ``--json`` into a temporary folder, then prints one table and writes
``benchmarks/results/run.json`` (``--json`` to change). The parts:

``ceiling``     float32 4096x4096 matrix product: the CPU's practical GFLOP/s
``latency``     one 0.64 s window at batch 1: Keras in the authors' layout and the default
                one, SavedModel, TFLite float32/float16/int8 (export_latency.py)
``long``        60 s of speech to mp4 with the full-size generator, and 10 minutes with the
                demonstration model: time and peak memory (generation.py)
``pipeline``    tf.data windows per second (data_pipeline.py)
``train``       train-step windows per second, generator-only and four-loss GAN (train_step.py)
``motion``      60 s of speech on the bundled photo with the motion model (the default
                path): realtime factor, per-frame parts, peak memory (motion_generation.py)
``gpu``         generation and training throughput on the JAX backend when JAX sees a GPU
                (gpu_throughput.py); otherwise the table says that no GPU was available

Figures are medians over repeated runs (each script's ``--repeats``). Nothing is asserted:
targets are printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PARTS = ("ceiling", "latency", "long", "motion", "motion_tflite", "pipeline", "train", "gpu")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"subset of {','.join(PARTS)}")
    parser.add_argument("--data", default=None,
                        help="prepared GRID folder: real windows for int8 calibration and PSNR, "
                             "and the input pipeline figure (default: synthetic inputs)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats: checks that every part runs")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "run.json")
    return parser.parse_args(argv)


def run_script(name: str, args: list[str], json_path: Path, env: dict | None = None) -> dict:
    """Runs ``benchmarks/<name>`` with ``--json json_path``; returns its figures and wall time."""
    command = [sys.executable, str(HERE / name), *args, "--json", str(json_path)]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {result.returncode}")
    figures = json.loads(json_path.read_text())
    figures["_seconds"] = round(time.perf_counter() - started, 1)
    return figures


VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_description() -> str:
    """The CPU model, cores and the vector instruction sets that decide the speed figures
    (from /proc/cpuinfo; the platform's name elsewhere)."""
    from lipmotion_tf.cpu_kernels import cpu_flags, cpuinfo_field

    model = cpuinfo_field("model name") or platform.processor() or platform.machine()
    flags = cpu_flags()
    found = [flag for flag in VECTOR_FLAGS if flag in flags]
    sets = f"; {' '.join(found) or 'no AVX2'}" if flags else ""
    return f"{model}, {os.cpu_count()} CPU cores{sets}"


def gpu_visible() -> bool:
    """Whether JAX (installed with the package) sees a GPU; asked in a subprocess."""
    probe = "import jax; print(any(d.platform == 'gpu' for d in jax.devices()))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={**os.environ, "JAX_PLATFORMS": ""})
    return result.stdout.strip().endswith("True")


def main(argv=None) -> int:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    args = parse_args(argv)
    prefer_onednn()  # the benchmark processes inherit the kernels `lipmotion` runs with
    parts = [p for p in args.only.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    quick = args.quick
    results: dict = {
        "machine": cpu_description(),
        "quick": quick,
    }
    rows: list[tuple[str, str, str, str]] = []  # (figure, value, target, note)

    with tempfile.TemporaryDirectory(prefix="lipmotion-bench-") as folder:
        folder = Path(folder)

        if "ceiling" in parts:
            ceiling = run_script("cpu_ceiling.py", ["--size", "1024" if quick else "4096"],
                                 folder / "ceiling.json")
            results["ceiling"] = ceiling
            rows.append(("CPU float32 matmul ceiling", f"{ceiling['gflop_per_s']:.0f} GFLOP/s",
                         "", f"{ceiling['size']}x{ceiling['size']} matrix product, TensorFlow "
                         f"kernels: {'oneDNN' if ceiling.get('onednn') else 'Eigen'}"))

        if "latency" in parts:
            runs = [("full-size, random weights", [])]
            if quick:
                runs = [("tiny", ["--config", str(REPO / "training" / "tiny.yaml"), "--windows",
                                  "2", "--calibration-windows", "2"])]
            if args.data and not quick:
                # Accuracy needs a trained model and real windows: the demonstration model.
                runs.append(("demo model, real GRID windows",
                             ["--checkpoint", str(REPO / "lipmotion_tf" / "assets" / "demo"),
                              "--data", args.data, "--windows", "16",
                              "--calibration-windows", "64"]))
            results["latency"] = []
            ceiling_rate = results.get("ceiling", {}).get("gflop_per_s")
            for index, (label, extra) in enumerate(runs):
                latency = run_script("export_latency.py",
                                     ["--repeats", "2" if quick else "7", *extra],
                                     folder / f"latency{index}.json")
                results["latency"].append(latency)
                for row in latency["rows"]:
                    share = (f", {100 * row['gflop_per_s'] / ceiling_rate:.0f}% of ceiling"
                             if ceiling_rate else "")
                    target = {"keras": "<= 0.8 s", "savedmodel": "<= 0.8 s",
                              "tflite-none": "<= 0.8 s",
                              "tflite-int8": "<= 0.5 s, >= 35 dB"}.get(row["variant"], "")
                    rows.append((f"window {row['variant']} ({label})",
                                 f"{row['median_s']:.3f} s",
                                 target if index == 0 else "",
                                 f"{row['gflop_per_s']:.0f} GFLOP/s{share}; "
                                 f"PSNR vs plain {row['psnr_db']:.1f} dB"))

        if "long" in parts:
            seconds = "10" if quick else "60"
            full = run_script("generation.py",
                              ["--config", str(REPO / "training" / ("tiny.yaml" if quick else
                                                                     "grid.yaml")),
                               "--seconds", seconds], folder / "long_full.json")
            long_demo = run_script("generation.py", ["--seconds", "30" if quick else "600"],
                                   folder / "long_demo.json")
            results["long"] = {"full_size": full, "demo": long_demo}
            for name, figures in (("full-size", full), ("demo", long_demo)):
                rows.append((f"{figures['speech_seconds']:.0f} s speech -> mp4, {name}",
                             f"{figures['wall_seconds']:.0f} s", "",
                             f"{figures['video_seconds_per_second']}x realtime, "
                             f"{figures['frames_per_second']} frames/s"))
                rows.append((f"peak memory, {figures['speech_seconds']:.0f} s, {name}",
                             f"{figures['peak_rss_mb']:.0f} MB", "< 2048 MB", ""))

        if "motion" in parts:
            motion = run_script("motion_generation.py", ["--seconds", "5" if quick else "60"],
                                folder / "motion.json")
            results["motion"] = motion
            rows.append((f"{motion['seconds']:.0f} s speech -> mp4, motion model, "
                         f"{motion['photo']} photo", f"{motion['wall_s']:.0f} s",
                         "faster than real time",
                         f"{motion['realtime_factor']}x realtime; per frame: motion "
                         f"{motion['motion_ms_per_frame']} ms, render+paste "
                         f"{motion['render_and_paste_ms_per_frame']} ms, encode "
                         f"{motion['encode_ms_per_frame']} ms"))
            rows.append((f"peak memory, {motion['seconds']:.0f} s, motion model",
                         f"{motion['peak_rss_mib']:.0f} MiB", "", ""))

        if "motion_tflite" in parts:
            # The app's path: the three TFLite models at a 128-pixel crop (int8 calibrated
            # when the motion data is there).
            tflite = run_script("motion_generation.py", [
                "--tflite", "--seconds", "5" if quick else "60"], folder / "motion_tflite.json")
            results["motion_tflite"] = tflite
            for name, figures in tflite["pipelines"].items():
                rows.append((f"{tflite['seconds']:.0f} s speech, TFLite {name}, "
                             f"{tflite['crop']}-pixel crop", f"{figures['frames_per_s']} frames/s",
                             "", f"renderer {figures['render_ms_per_frame']} ms/frame, "
                             f"{tflite['threads']} threads"))

        if "pipeline" in parts:
            pipe_args = (["--data", args.data] if args.data and not quick
                         else ["--synthetic-clips", "20" if quick else "400"])
            pipe_args += ["--batches", "5" if quick else "100"]
            pipeline = run_script("data_pipeline.py", pipe_args, folder / "pipeline.json")
            results["pipeline"] = pipeline
            rows.append(("tf.data windows/s", f"{pipeline['median_windows_per_s']:.0f}", "",
                         f"{pipeline['data']}, training windows"))

        if "train" in parts:
            config = REPO / "training" / ("tiny.yaml" if quick else "demo.yaml")
            train = run_script("train_step.py", ["--config", str(config),
                                                 "--steps", "2" if quick else "5"],
                               folder / "train.json")
            results["train"] = train
            for figures in train["results"]:
                rows.append((f"train step {figures['step']}, {config.name}",
                             f"{figures['windows_per_s']:.2f} windows/s", "",
                             f"batch {figures['batch_size']}, backend {train['backend']}"))

        if "gpu" in parts:
            if gpu_visible():
                gpu = run_script("gpu_throughput.py", ["--quick"] if quick else [],
                                 folder / "gpu.json", env={"KERAS_BACKEND": "jax"})
                results["gpu"] = gpu
                for row in gpu["rows"]:
                    rows.append((row["figure"], row["value"], row.get("target", ""),
                                 row.get("note", "")))
            else:
                results["gpu"] = None
                rows.append(("GPU figures", "not measured", "", "no GPU visible to JAX here"))

    print_table(results["machine"], rows)
    results["table"] = [dict(zip(("figure", "value", "target", "note"), row)) for row in rows]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.json}")
    return 0


def print_table(machine: str, rows) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(3)] if rows else [0, 0, 0]
    print(f"\nlipmotion benchmarks on {machine}")
    header = ("figure", "value", "target")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  note")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])


if __name__ == "__main__":
    raise SystemExit(main())
