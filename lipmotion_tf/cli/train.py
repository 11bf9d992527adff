"""Train the model: FlowNet fine-tuning, the perceptual autoencoder, then the GAN.

The configuration is built as defaults -> the --config YAML file -> the --ablation preset ->
--set overrides, validated, and saved as RUN_DIR/config.yaml before training starts. Each
stage writes its networks to RUN_DIR (flownet.weights.h5, autoencoder.weights.h5, then
generator.keras) and checkpoints under RUN_DIR/checkpoints; running the same command again
skips finished stages and resumes an interrupted one from its last backup.
"""

from __future__ import annotations

import argparse

from lipmotion_tf.train.ablations import ABLATIONS, describe_ablations

HELP = "train the lip movement generator on prepared data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="experiment file, e.g. training/demo.yaml (default: the paper's "
                             "full-size settings)")
    parser.add_argument("--data", metavar="PREPARED", required=True,
                        help="folder written by `lipmotion prepare`")
    parser.add_argument("--output", metavar="RUN_DIR", required=True,
                        help="run folder for weights, checkpoints and logs")
    parser.add_argument("--stages", default="flow,autoencoder,gan",
                        help="comma-separated stages to run, in training order")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        dest="overrides",
                        help="override one config value (repeatable), e.g. train.gan_epochs=3")
    parser.add_argument("--ablation", choices=sorted(ABLATIONS), default=None,
                        help="paper Table 2 preset applied before --set: " + describe_ablations())
    parser.add_argument("--quiet", action="store_true", help="no per-step progress bar")


def build_config(args: argparse.Namespace):
    """The validated experiment configuration the arguments describe."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.train.ablations import ablation_overrides

    overrides = ablation_overrides(args.ablation) if args.ablation else []
    config = load_config(args.config, overrides + list(args.overrides))
    if args.ablation and args.ablation != "full":
        config.name = f"{config.name}_{args.ablation}"
    return config


def run(args: argparse.Namespace) -> int:
    import time

    from lipmotion_tf.train.runner import parse_stages, train

    config = build_config(args)
    stages = parse_stages(args.stages)
    started = time.perf_counter()
    result = train(config, args.data, args.output, stages, verbose=2 if args.quiet else "auto")
    elapsed = time.perf_counter() - started
    ran = ", ".join(result.stages_run) or "none"
    print(f"trained stages: {ran} in {elapsed:.0f} s; outputs in {result.output_dir}")
    return 0
