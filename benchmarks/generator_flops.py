"""Size, floating-point work and CPU latency of the networks at their full (paper) size.

Usage::

    python benchmarks/generator_flops.py [--repeats 5] [--batch 1] [--json OUT.json]

For each network prints the parameters (trainable, as PyTorch counts them) and the
floating-point operations of one forward pass on one 16-frame clip, counted by the
TensorFlow profiler on the traced graph (a multiply-add counts 2). Then times the
generator's forward pass (batch ``--batch``, inference mode, inside ``tf.function``) with
its residual convolutions as Conv3D and as per-frame Conv2D (``frame_conv_2d``): median
wall-clock seconds over ``--repeats`` runs after one warm-up run, and process CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def count_flops(fn, specs) -> int:
    """FLOPs of one call of the ``tf.function`` ``fn`` traced for ``specs``."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = fn.get_concrete_function(*specs).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    counted = int(model_analyzer.profile(graph, options=options).total_float_ops)
    return counted + transposed_conv_flops(graph)


def transposed_conv_flops(graph) -> int:
    """FLOPs of the transposed convolutions, which the profiler does not count: every input
    element meets every kernel tap (2 per multiply-add)."""
    total = 0
    for op in graph.get_operations():
        if op.type in ("Conv2DBackpropInput", "Conv3DBackpropInputV2"):
            kernel, layer_input = op.inputs[1].shape, op.inputs[2].shape
            total += 2 * int(np.prod(layer_input[:-1])) * int(np.prod(kernel))
    return total


def time_calls(fn, args, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds of ``fn(*args)``."""
    fn(*args)  # warm-up: tracing and first-run allocation
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn(*args)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant")
    parser.add_argument("--batch", type=int, default=1, help="clips per timed call")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from lipmotion_tf.models import (
        AudioDerivativeEncoder,
        FlowEncoder,
        FlowNet,
        LipDiscriminator,
        LipGenerator,
        VideoAutoencoder,
    )

    def trainable(model) -> int:
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    spec = tf.TensorSpec
    generator_specs = [{"audio": spec((1, 64, 128)), "identity": spec((1, 64, 64, 3))}]
    networks = {
        "generator": (LipGenerator(), generator_specs),
        "discriminator": (LipDiscriminator(), [{
            "video": spec((1, 16, 64, 64, 3)), "audio": spec((1, 64, 128)),
            "flow": spec((1, 15, 16, 16, 2)),
        }]),
        "flownet (15 pairs)": (FlowNet(), [spec((15, 64, 64, 6))]),
        "audio_derivative_encoder": (AudioDerivativeEncoder(), [spec((1, 16, 16, 256))]),
        "flow_encoder": (FlowEncoder(), [spec((1, 15, 16, 16, 2))]),
        "autoencoder": (VideoAutoencoder(), [spec((1, 16, 64, 64, 3))]),
    }
    results: dict = {"networks": {}, "generator_latency": {}}
    print(f"{'network':28s} {'params (M)':>11s} {'GFLOPs/clip':>12s}")
    for name, (model, specs) in networks.items():
        fn = tf.function(lambda inputs, model=model: model(inputs, training=False))
        flops = count_flops(fn, specs)
        params = trainable(model)
        results["networks"][name] = {"params": params, "flops": flops}
        print(f"{name:28s} {params / 1e6:11.2f} {flops / 1e9:12.1f}")

    rng = np.random.default_rng(0)
    inputs = {
        "audio": rng.uniform(-80, 0, (args.batch, 64, 128)).astype("float32"),
        "identity": rng.uniform(-1, 1, (args.batch, 64, 64, 3)).astype("float32"),
    }
    weights = networks["generator"][0].get_weights()
    print(f"\ngenerator forward, batch {args.batch}, median of {args.repeats}:")
    for frame_conv_2d in (False, True):
        generator = LipGenerator(frame_conv_2d=frame_conv_2d)
        generator(inputs)
        generator.set_weights(weights)
        fn = tf.function(lambda x, g=generator: g(x, training=False)["video"])
        wall, cpu = time_calls(fn, (inputs,), args.repeats)
        label = "Conv2D per frame" if frame_conv_2d else "Conv3D"
        results["generator_latency"][label] = {"wall_s": wall, "cpu_s": cpu}
        print(f"  residual convs as {label:16s} {wall:7.3f} s wall  {cpu:7.3f} s CPU")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
