"""CPU latency per 0.64 s window (one 16-frame window, batch 1) of every deployment form.

Usage::

    python benchmarks/export_latency.py                         # full-size generator, random weights
    python benchmarks/export_latency.py --checkpoint lipmotion_tf/assets/demo \
        --data prepared/grid_s1                                 # trained model, real GRID windows
    python benchmarks/export_latency.py --config training/demo.yaml --variants keras,tflite-none

Side by side, for the same windows: Keras (``predict_on_batch``) with the authors' layout
(``keras-plain``: the 3-D convolution of the fused map, a Conv3D output layer) and with this
project's default layout (``keras``: factored fusion, time-shift output convolution; same
weights, same frames to float rounding), the exported SavedModel's ``generate_window``
signature and the TFLite generator in each quantization (none, float16, dynamic, int8; 2-D
convolutions only). For each it prints the median and minimum seconds per window over
``--repeats`` timed calls after one untimed call, the achieved GFLOP/s (the default layout's
multiply-adds x 2 per window / median seconds), the file size, and the mean grayscale PSNR
of its frames against the plain Keras model's (the accuracy cost of each variant).

``--data PREPARED_DIR`` takes the windows from real prepared data: int8 is calibrated on the
``train`` split and every variant is measured on the ``test`` split (``all`` when empty).
Without it the windows are random log-mels and lip images, so the int8 and PSNR figures then
say little about a real model. Write the figures as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

VARIANTS = ("keras-plain", "keras", "savedmodel", "tflite-none", "tflite-float16",
            "tflite-dynamic", "tflite-int8")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None, help="experiment YAML (default: full size)")
    parser.add_argument("--checkpoint", default=None,
                        help="generator checkpoint (default: random weights from --config)")
    parser.add_argument("--data", default=None, help="prepared data folder for real windows")
    parser.add_argument("--windows", type=int, default=8, help="windows measured for PSNR")
    parser.add_argument("--calibration-windows", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="TFLite interpreter threads")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    return parser.parse_args(argv)


def load_model(args):
    """``(generator, config, description)``."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.generate.checkpoint import load_generator
    from lipmotion_tf.models.factory import build_generator

    if args.checkpoint:
        generator, config = load_generator(args.checkpoint)
        return generator, config, f"checkpoint {args.checkpoint}"
    config = load_config(args.config)
    return build_generator(config), config, f"random weights, config {args.config or 'defaults'}"


def real_windows(data, config, split, count):
    from lipmotion_tf.data.manifest import load_manifest
    from lipmotion_tf.export.tflite import calibration_windows_from_prepared

    if not load_manifest(data).clips_in(split):
        split = "all"
    return calibration_windows_from_prepared(data, config, count=count, split=split)


def random_windows(count, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [{"log_mel": rng.normal(-40, 20, (1, 64, 128)).astype(np.float32),
             "image": rng.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)} for _ in range(count)]


def time_calls(function, repeats):
    """Median and minimum seconds of ``repeats`` calls, after one untimed call."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def generator_flops(generator) -> int:
    """Floating-point operations of one batch-1 window (a multiply-add counts 2)."""
    import tensorflow as tf

    from generator_flops import count_flops  # benchmarks/ is on sys.path when run as a script

    specs = {"audio": tf.TensorSpec((1, 64, 128)), "identity": tf.TensorSpec((1, 64, 64, 3))}
    return count_flops(tf.function(lambda x: generator(x, training=False)["video"]), [specs])


def main(argv=None) -> int:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()  # as `lipmotion` does, before TensorFlow loads
    import numpy as np
    import tensorflow as tf

    from lipmotion_tf.export.saved_model import export_saved_model
    from lipmotion_tf.export.tflite import export_tflite
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator
    from lipmotion_tf.metrics.ssim_psnr import psnr

    args = parse_args(argv)
    wanted = [v for v in args.variants.split(",") if v]
    unknown = [v for v in wanted if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    generator, config, description = load_model(args)
    if args.data:
        windows = real_windows(args.data, config, "test", args.windows)
        calibration = real_windows(args.data, config, "train", args.calibration_windows)
        source = f"real windows from {args.data} (test split; int8 calibrated on train)"
    else:
        windows = random_windows(args.windows, 0)
        calibration = random_windows(args.calibration_windows, 1)
        source = "random windows (int8 calibrated on random windows)"
    log_mels = np.concatenate([w["log_mel"] for w in windows])
    images = np.concatenate([w["image"] for w in windows])
    batch = {"audio": log_mels, "identity": images}
    plain = generator.rebuilt(factored_fusion=False, time_shift_output=False)
    reference = plain.predict_on_batch(batch)["video"]
    one = {"audio": log_mels[:1], "identity": images[:1]}
    flops = {"plain": generator_flops(plain), "default": generator_flops(generator)}

    print(f"model: {description}, {generator.count_params() / 1e6:.2f} M parameters, "
          f"{flops['plain'] / 1e9:.1f} GFLOP per window in the authors' layout, "
          f"{flops['default'] / 1e9:.1f} in the default one")
    print(f"inputs: {source}; {len(windows)} windows for PSNR; CPU: {os.cpu_count()} cores, "
          f"TFLite threads {args.threads}")
    rows = []

    def record(name, run_one, run_all, size_bytes=None, layout="default"):
        median, best = time_calls(run_one, args.repeats)
        frames = np.asarray(run_all())
        value = psnr(frames.reshape(-1, 64, 64, 3), reference.reshape(-1, 64, 64, 3))
        rate = flops[layout] / median / 1e9
        rows.append({"variant": name, "median_s": median, "min_s": best, "gflop_per_s": rate,
                     "size_mb": None if size_bytes is None else size_bytes / 1e6, "psnr_db": value})
        size = "" if size_bytes is None else f"{size_bytes / 1e6:8.1f} MB"
        print(f"{name:16s} {median:8.3f} s/window (min {best:.3f}) {rate:7.1f} GFLOP/s  "
              f"PSNR vs plain Keras {value:6.1f} dB  {size}", flush=True)

    for name, model, layout in (("keras-plain", plain, "plain"), ("keras", generator, "default")):
        if name in wanted:
            record(name, lambda m=model: m.predict_on_batch(one),
                   lambda m=model: m.predict_on_batch(batch)["video"], layout=layout)

    with tempfile.TemporaryDirectory(prefix="lipmotion-bench-") as folder:
        folder = Path(folder)
        if "savedmodel" in wanted:
            version = export_saved_model(generator, config, folder / "savedmodel")
            signature = tf.saved_model.load(str(version)).signatures["generate_window"]
            size = sum(p.stat().st_size for p in version.rglob("*") if p.is_file())
            record("savedmodel", lambda: signature(log_mel=log_mels[:1], image=images[:1]),
                   lambda: signature(log_mel=log_mels, image=images)["frames"], size)

        for name in wanted:
            if not name.startswith("tflite-"):
                continue
            mode = name.split("-")[1]
            path = folder / f"{name}.tflite"
            started = time.perf_counter()
            export_tflite(generator, config, path, quantize=mode,
                          calibration=calibration if mode == "int8" else None)
            print(f"  ({name}: converted in {time.perf_counter() - started:.0f} s)", flush=True)
            runner = TFLiteLipGenerator(path, num_threads=args.threads)
            record(name, lambda r=runner: r.generate_window(log_mels[:1], images[:1]),
                   lambda r=runner: np.concatenate([r.generate_window(log_mels[i:i + 1],
                                                                      images[i:i + 1])
                                                    for i in range(len(windows))]),
                   path.stat().st_size)

    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": description, "inputs": source, "cpu_count": os.cpu_count(),
            "gflop_per_window": {k: v / 1e9 for k, v in flops.items()}, "rows": rows,
        }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
