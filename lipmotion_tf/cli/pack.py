"""Pack prepared data for training on a machine without TensorFlow (Keras on JAX).

Writes PACK/train.npz (the other folders' clips, then the first folder's training clips up
to --max-mib), PACK/val.npz and PACK/pack.json, frames JPEG-coded. `lipmotion train --data
PACK` reads it under KERAS_BACKEND=jax; training/device_train.sh runs that on a GPU machine.
"""

from __future__ import annotations

import argparse

HELP = "pack prepared data as numpy files for Keras on JAX (the GPU machine)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="experiment file (crop size, window, audio, data.source_weights)")
    parser.add_argument("--data", metavar="PREPARED", required=True, action="append",
                        help="folder written by `lipmotion prepare`; repeatable, as for train")
    parser.add_argument("--out", metavar="PACK", required=True, help="pack folder to write")
    parser.add_argument("--max-mib", type=float, default=40.0,
                        help="size limit of the pack in MiB")
    parser.add_argument("--quality", type=int, default=92, help="JPEG quality of the frames")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        dest="overrides", help="override one config value (repeatable)")


def run(args: argparse.Namespace) -> int:
    import math

    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import InputError

    if not 0 < args.max_mib < math.inf:
        raise InputError(f"--max-mib must be a finite number > 0, got {args.max_mib}")
    config = load_config(args.config, list(args.overrides))
    from lipmotion_tf.data.device_pack import write_device_pack  # slow: after the checks

    summary = write_device_pack(args.data, args.out, config, max_mib=args.max_mib,
                                quality=args.quality, progress=print)
    print(f"pack: {sum(summary['train_clips'])} training clips "
          f"({summary['train_windows']} windows), {summary['val_clips']} validation clips, "
          f"{summary['mib']} MiB in {args.out}")
    return 0
