"""Generation and training throughput on the JAX backend (written for a GPU; runs on CPU too).

Usage::

    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py [--batch 256] [--train-batch 64]
    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py --data grid_s1_train.npz
    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py --quick      # tiny config, CPU check

The GPU machine this project can borrow has JAX but no TensorFlow, so this script touches
neither TensorFlow nor tf.data. Under the ``--precision`` policy (default ``mixed_bfloat16``;
``float32`` to compare) it measures:

* generation: ``predict_on_batch`` of the generator (XLA-compiled by the JAX backend) on
  ``--batch`` windows of 16 frames: frames/s, and FLOP/s against ``--peak-tflops``
  (the generator's FLOPs per window from XLA's cost analysis of the compiled call);
* training: ``train_on_batch`` of the four-loss GAN (XLA-compiled, the same step as
  ``lipmotion train``) on ``--train-batch`` windows: windows/s, and the share of wall time
  spent waiting for the next batch, which a background thread prepares from ``--data`` (an
  ``.npz`` from ``lipmotion_tf.data.numpy_data.export_numpy``) or from random windows.

Medians over ``--repeats`` timed calls after an untimed compile call. ``--json`` writes the
figures.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import threading
import time
from pathlib import Path

from train_step import random_batch  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None, help="experiment YAML (default: full size)")
    parser.add_argument("--batch", type=int, default=256, help="windows per generation call")
    parser.add_argument("--train-batch", type=int, default=64, help="windows per train step")
    parser.add_argument("--precision", default="mixed_bfloat16",
                        choices=("mixed_bfloat16", "mixed_float16", "float32"))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--data", default=None, help="numpy export (.npz) of prepared windows")
    parser.add_argument("--parts", default="generate,train")
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the device's dense peak for --precision (H100 SXM bf16: 989)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny config, batch 4, 2 repeats: checks the script on any machine")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.config = args.config or str(REPO / "training" / "tiny.yaml")
        args.batch, args.train_batch, args.repeats = 4, 4, 2
    return args


def batches(args, config):
    """An endless iterator of training batches, prepared by a background thread."""
    import numpy as np

    if args.data:
        from lipmotion_tf.data.numpy_data import NumpyWindowDataset

        dataset = NumpyWindowDataset(args.data, config, batch_size=args.train_batch)

        def produce():
            while True:
                yield from (
                    {k: np.asarray(v) for k, v in batch.items()
                     if k in ("audio", "video", "identity", "mismatch_audio")}
                    for batch in dataset
                )
    else:
        def produce():
            seed = 0
            while True:
                seed += 1
                yield random_batch(config, args.train_batch, seed)

    ready: queue.Queue = queue.Queue(maxsize=4)
    source = produce()
    threading.Thread(target=lambda: [ready.put(b) for b in source], daemon=True).start()
    while True:
        yield ready.get()


def measure_generation(args, config, rows, figures):
    import jax
    import keras
    import numpy as np

    from lipmotion_tf.models.factory import build_generator

    generator = build_generator(config)
    batch = random_batch(config, args.batch)
    inputs = {"audio": batch["audio"], "identity": batch["identity"]}
    generator.predict_on_batch(inputs)  # compile

    def forward(variables, audio, identity):
        trainable, non_trainable = variables
        outputs, _ = generator.stateless_call(trainable, non_trainable,
                                              {"audio": audio, "identity": identity})
        return outputs["video"]

    variables = ([v.value for v in generator.trainable_variables],
                 [v.value for v in generator.non_trainable_variables])
    one = {k: v[:1] for k, v in inputs.items()}
    cost = jax.jit(forward).lower(variables, one["audio"], one["identity"]).compile()
    analysis = cost.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    flops_per_window = float(analysis.get("flops", 0.0))

    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        np.asarray(generator.predict_on_batch(inputs)["video"])
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    frames_per_s = args.batch * config.data.window / seconds
    flops_per_s = flops_per_window * args.batch / seconds
    share = flops_per_s / (args.peak_tflops * 1e12)
    figures["generation"] = {"batch": args.batch, "seconds": seconds,
                             "frames_per_s": frames_per_s,
                             "gflop_per_window": flops_per_window / 1e9,
                             "tflop_per_s": flops_per_s / 1e12, "share_of_peak": share}
    rows.append({"figure": f"GPU generation, batch {args.batch}, {args.precision}",
                 "value": f"{frames_per_s:,.0f} frames/s", "target": ">= 10,000 frames/s",
                 "note": f"{flops_per_s / 1e12:.1f} TFLOP/s = {100 * share:.0f}% of "
                         f"{args.peak_tflops:.0f} TFLOP/s peak"})
    keras.backend.clear_session()


def measure_training(args, config, rows, figures):
    import keras

    from lipmotion_tf.models.factory import build_networks
    from lipmotion_tf.train.gan import LipMotionGAN

    opt = config.optimizer
    gan = LipMotionGAN(**build_networks(config),
                       discriminator_streams=config.model.discriminator_streams)
    gan.compile(
        keras.optimizers.Adam(opt.learning_rate, beta_1=0.5),
        keras.optimizers.Adam(opt.learning_rate, beta_1=0.5),
        keras.optimizers.AdamW(opt.correlation_learning_rate, weight_decay=5e-4),
        keras.optimizers.AdamW(opt.flownet_learning_rate, weight_decay=4e-4),
        loss_config=config.loss, jit_compile=True,
    )
    stream = batches(args, config)
    first = next(stream)
    gan.build_from_batch(first)
    gan.train_on_batch(first)  # compile
    waited, steps, started = 0.0, [], time.perf_counter()
    for _ in range(args.repeats):
        before = time.perf_counter()
        batch = next(stream)
        got = time.perf_counter()
        waited += got - before
        gan.train_on_batch(batch)
        steps.append(time.perf_counter() - got)
    total = time.perf_counter() - started
    windows_per_s = args.train_batch * args.repeats / total
    figures["training"] = {"batch": args.train_batch, "step_seconds": statistics.median(steps),
                           "windows_per_s": windows_per_s, "input_wait_share": waited / total,
                           "data": args.data or "random windows"}
    rows.append({"figure": f"GPU GAN training (4 losses), batch {args.train_batch}, "
                           f"{args.precision}",
                 "value": f"{windows_per_s:,.1f} windows/s", "target": ">= 200 windows/s",
                 "note": f"{100 * waited / total:.1f}% of the time waiting for input"})


def main(argv=None) -> int:
    args = parse_args(argv)
    import keras

    from lipmotion_tf.config import load_config

    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax (the GPU machine has no TensorFlow)")
    import jax

    config = load_config(args.config)
    keras.mixed_precision.set_dtype_policy(args.precision)
    devices = [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()]
    rows: list[dict] = []
    figures = {"devices": devices, "precision": args.precision,
               "config": args.config or "defaults (full size)"}
    parts = [p for p in args.parts.split(",") if p]
    if "generate" in parts:
        measure_generation(args, config, rows, figures)
    if "train" in parts:
        measure_training(args, config, rows, figures)
    figures["rows"] = rows
    print(f"devices: {', '.join(devices)}")
    for row in rows:
        print(f"{row['figure']}: {row['value']} (target {row['target']}); {row['note']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
