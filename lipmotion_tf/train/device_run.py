"""Training on a borrowed machine with Keras on JAX and no TensorFlow, within a time limit.

Run by ``training/device_train.sh`` (which first installs Keras from the wheel set), or
directly with ``KERAS_BACKEND=jax``::

    python -m lipmotion_tf.train.device_run --config training/device.yaml --data PACK \\
        --minutes 8 --out OUT

It trains every stage of the configuration from a device pack (``lipmotion pack``) under a
time budget, then writes to ``OUT`` only what is worth bringing back, at most eight files
under 16 MiB each: the generator as a checkpoint folder (``config.yaml`` and float16
``generator_weights*.npz``, split under the size limit), ``losses.csv`` (every stage's
per-epoch log) and ``throughput.json`` (windows/s and frames/s per stage, the device, the
precision, the Keras and JAX versions).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

#: Seconds kept back from the budget for saving and writing the results.
RESERVE_SECONDS = 45.0
PART_MIB = 15.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="experiment YAML")
    parser.add_argument("--data", required=True, help="device pack folder (lipmotion pack)")
    parser.add_argument("--out", required=True, type=Path, help="folder of the results")
    parser.add_argument("--minutes", type=float, required=True,
                        help="wall time for the whole run, results included")
    parser.add_argument("--run", type=Path, default=None,
                        help="run folder (checkpoints, logs; default: a new temporary folder)")
    parser.add_argument("--precision", default="auto",
                        choices=("auto", "float32", "mixed_bfloat16"),
                        help="auto: mixed_bfloat16 on a GPU, float32 on a CPU")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        dest="overrides", help="override one config value (repeatable)")
    return parser.parse_args(argv)


def _throughput_callback(config, records: list):
    import keras

    class Throughput(keras.callbacks.Callback):
        """Seconds and windows of every epoch, with the stage it belongs to."""

        def on_train_begin(self, logs=None):
            loss_config = getattr(self.model, "loss_config", None)
            if loss_config is not None:
                self.stage = "warmup" if loss_config.adversarial == 0 else "gan"
            else:
                self.stage = self.model.name.removesuffix("_stage")

        def on_epoch_begin(self, epoch, logs=None):
            self.started, self.steps = time.perf_counter(), 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            windows = self.steps * config.data.batch_size
            records.append({"stage": self.stage, "epoch": epoch + 1, "seconds": seconds,
                            "steps": self.steps, "windows_per_s": windows / seconds,
                            "frames_per_s": windows * config.data.window / seconds})

    return Throughput()


def _merge_logs(run_dir: Path, path: Path) -> None:
    """Every stage's ``*_log.csv`` as one table with a ``stage`` column."""
    rows, columns = [], ["stage", "epoch"]
    for stage in ("flow", "autoencoder", "warmup", "gan"):
        log = run_dir / f"{stage}_log.csv"
        if log.is_file():
            with log.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    rows.append({"stage": stage, **row})
                    columns += [key for key in row if key not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def _summary(records: list) -> dict:
    """Per stage: epochs, steps, and the median windows/s and frames/s past its first epoch
    (the first holds the XLA compilation)."""
    import statistics

    stages = {}
    for stage in dict.fromkeys(r["stage"] for r in records):
        mine = [r for r in records if r["stage"] == stage]
        timed = mine[1:] or mine
        stages[stage] = {
            "epochs": len(mine),
            "steps": sum(r["steps"] for r in mine),
            "first_epoch_s": round(mine[0]["seconds"], 2),
            "windows_per_s": round(statistics.median(r["windows_per_s"] for r in timed), 2),
            "frames_per_s": round(statistics.median(r["frames_per_s"] for r in timed), 1),
        }
    return stages


def main(argv=None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras

    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import LipMotionError
    from lipmotion_tf.generate.checkpoint import save_generator_npz
    from lipmotion_tf.train.run_generator import latest_generator
    from lipmotion_tf.train.runner import train

    platform = jax.default_backend()
    precision = args.precision
    if precision == "auto":
        precision = "mixed_bfloat16" if platform == "gpu" else "float32"
    try:
        config = load_config(args.config, [*args.overrides, f"train.precision={precision}"])
        args.out.mkdir(parents=True, exist_ok=True)
        run_dir = args.run or Path(tempfile.mkdtemp(prefix="lipmotion_device_run_"))
        budget = args.minutes * 60.0 - RESERVE_SECONDS - (time.monotonic() - started)
        if budget <= 0:
            raise LipMotionError(f"--minutes {args.minutes} leaves no time to train")
        records = []
        result = train(config, args.data, run_dir, verbose=2, time_budget=budget,
                       callbacks=[_throughput_callback(config, records)])
        generator = keras.saving.load_model(run_dir / "generator.keras", compile=False) if (
            run_dir / "generator.keras").is_file() else latest_generator(config, run_dir)
    except LipMotionError as error:
        print(f"device_run: error: {error}", file=sys.stderr)
        return error.exit_code

    model_dir = args.out / "model"
    parts = save_generator_npz(generator, config, model_dir, dtype="float16",
                               max_part_mib=PART_MIB)
    _merge_logs(run_dir, args.out / "losses.csv")
    report = {
        "backend": keras.backend.backend(),
        "platform": platform,
        "devices": [str(d) for d in jax.devices()],
        "precision": precision,
        "keras": keras.__version__,
        "keras_path": str(Path(keras.__file__).parent),
        "jax": jax.__version__,
        "batch_size": config.data.batch_size,
        "generator_parameters": int(generator.count_params()),
        "stages_run": result.stages_run,
        "budget_reached": result.budget_reached,
        "wall_s": round(time.monotonic() - started, 1),
        "stages": _summary(records),
        "epochs": records,
        "weights_files": [p.name for p in parts],
    }
    (args.out / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"device_run: {report['stages']} in {report['wall_s']} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
