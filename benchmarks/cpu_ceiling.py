"""The CPU's practical float32 ceiling: GFLOP/s of a large matrix product in TensorFlow.

    python benchmarks/cpu_ceiling.py [--size 4096] [--repeats 5] [--json OUT.json]

A square float32 matrix product is the best case for the CPU's vector units and for
TensorFlow's kernels, so it bounds what any float32 convolution of the generator can reach.
Prints the median over ``--repeats`` products after one untimed product, and whether
TensorFlow runs its oneDNN kernels: it turns them on by default only on CPUs with AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX; this script, the other benchmarks and ``lipmotion`` set
``TF_ENABLE_ONEDNN_OPTS=1`` on AVX2 CPUs too (:mod:`lipmotion_tf.cpu_kernels`) unless the
variable is already set (``TF_ENABLE_ONEDNN_OPTS=0`` measures Eigen's kernels).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main(argv=None) -> int:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()  # as `lipmotion` does, before TensorFlow loads
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    onednn = bool(_pywrap_util_port.IsMklEnabled())

    matrix = tf.constant(np.random.default_rng(0).standard_normal((args.size, args.size)),
                         tf.float32)
    product = tf.function(lambda m: tf.matmul(m, m))
    product(matrix).numpy()
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        product(matrix).numpy()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    rate = 2 * args.size ** 3 / seconds / 1e9
    kernels = "oneDNN" if onednn else "Eigen"
    print(f"{args.size}x{args.size} float32 matmul ({kernels}): {seconds * 1000:.0f} ms, "
          f"{rate:.0f} GFLOP/s")
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "seconds": seconds,
                                         "gflop_per_s": rate, "onednn": onednn}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
