"""Training throughput: generator-only and full GAN train steps, in windows per second.

    KERAS_BACKEND=tensorflow python benchmarks/train_step.py --batch-size 2 --steps 5
    KERAS_BACKEND=jax python benchmarks/train_step.py --config training/demo.yaml

The default configuration is the paper's full size (``training/grid.yaml`` settings). Inputs
are random tensors of the real shapes, so no prepared data is needed; the first step
(tracing and compilation) is timed separately. Prints a table and writes JSON.

* ``generator``: one generator update with the reconstruction loss only (the cost of the
  generator's forward and backward pass).
* ``gan``: one full :class:`~lipmotion_tf.train.gan.LipMotionGAN` step (discriminator
  update, generator update with all losses, correlation networks and FlowNet updates).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def random_batch(config, batch_size, seed=0):
    """Random training windows of the config's sizes (log-mels around -40 dB)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t, s = config.data.window, config.data.image_size
    mels = t * config.audio.mel_frames_per_frame
    return {
        "audio": rng.normal(-40.0, 15.0, (batch_size, mels, config.audio.n_mels)).astype("float32"),
        "video": rng.uniform(-1, 1, (batch_size, t, s, s, 3)).astype("float32"),
        "identity": rng.uniform(-1, 1, (batch_size, s, s, 3)).astype("float32"),
        "mismatch_audio": rng.normal(-40.0, 15.0, (batch_size, mels, config.audio.n_mels)).astype(
            "float32"
        ),
    }


def _time_steps(step, steps):
    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return first, (time.perf_counter() - started) / steps


def _generator_model(networks, config):
    import keras

    from lipmotion_tf.train.losses import reconstruction_loss

    class GeneratorOnly(keras.Model):
        def __init__(self, generator):
            super().__init__()
            self.generator = generator

        def call(self, inputs, training=False):
            return self.generator(inputs, training=training)["video"]

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return reconstruction_loss(y_pred, y)

    model = GeneratorOnly(networks["generator"])
    model.compile(
        optimizer=keras.optimizers.Adam(config.optimizer.learning_rate, beta_1=0.5),
        jit_compile=config.train.jit_compile or keras.backend.backend() == "jax",
    )
    return model


def _gan_model(networks, config):
    import keras

    from lipmotion_tf.train.gan import LipMotionGAN

    opt = config.optimizer
    gan = LipMotionGAN(**networks, discriminator_streams=config.model.discriminator_streams)
    gan.compile(
        keras.optimizers.Adam(opt.learning_rate, beta_1=0.5),
        keras.optimizers.Adam(opt.learning_rate, beta_1=0.5),
        keras.optimizers.AdamW(opt.correlation_learning_rate, weight_decay=5e-4),
        keras.optimizers.AdamW(opt.flownet_learning_rate, weight_decay=4e-4),
        loss_config=config.loss,
        jit_compile=config.train.jit_compile or keras.backend.backend() == "jax",
    )
    return gan


def main(argv=None) -> int:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()  # as `lipmotion` does, before TensorFlow loads
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None, help="experiment YAML (default: full size)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config override section.key=value (repeatable)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows per step (default: the config's data.batch_size)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps after the first")
    parser.add_argument("--which", default="generator,gan", help="generator, gan or both")
    parser.add_argument("--json", default="benchmarks/results/train_step.json",
                        help="where to write the results")
    args = parser.parse_args(argv)

    import keras

    from lipmotion_tf.config import load_config
    from lipmotion_tf.models.factory import build_networks

    config = load_config(args.config, args.overrides)
    batch_size = args.batch_size or config.data.batch_size
    batch = random_batch(config, batch_size)
    results = []
    for which in [w.strip() for w in args.which.split(",") if w.strip()]:
        keras.utils.set_random_seed(config.seed)
        networks = build_networks(config)
        if which == "generator":
            model = _generator_model(networks, config)
            inputs = {"audio": batch["audio"], "identity": batch["identity"]}

            def step(model=model, inputs=inputs):
                model.train_on_batch(inputs, batch["video"])
        elif which == "gan":
            model = _gan_model(networks, config)
            model.build_from_batch(batch)

            def step(model=model):
                model.train_on_batch(batch)
        else:
            parser.error(f"unknown --which entry {which!r}")
        first, per_step = _time_steps(step, args.steps)
        results.append({
            "step": which,
            "batch_size": batch_size,
            "first_step_s": round(first, 3),
            "step_s": round(per_step, 4),
            "windows_per_s": round(batch_size / per_step, 3),
        })
        del model, networks
        keras.backend.clear_session()

    info = {
        "backend": keras.backend.backend(),
        "config": args.config or "defaults (full size)",
        "overrides": args.overrides,
        "jit_compile": bool(config.train.jit_compile or keras.backend.backend() == "jax"),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "steps": args.steps,
        "results": results,
    }
    print(f"backend {info['backend']}, config {info['config']}, batch {batch_size}")
    print(f"{'step':<10} {'first step s':>13} {'step s':>9} {'windows/s':>10}")
    for r in results:
        print(f"{r['step']:<10} {r['first_step_s']:>13.2f} {r['step_s']:>9.3f} "
              f"{r['windows_per_s']:>10.2f}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
