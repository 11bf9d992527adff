"""Train the model: FlowNet fine-tuning, the perceptual autoencoder, a warm-up, then the GAN.

The configuration is built as defaults -> the --config YAML file -> the --ablation preset ->
--set overrides, validated, and saved as RUN_DIR/config.yaml before training starts. Each
stage writes its networks to RUN_DIR (flownet.weights.h5, autoencoder.weights.h5,
warmup.weights.h5, then generator.keras) and checkpoints under RUN_DIR/checkpoints; running the
same command again skips finished stages and resumes an interrupted one from its last backup.
--time-budget stops at the end of the last epoch that fits (the same command continues).
"""

from __future__ import annotations

import argparse

from lipmotion_tf.train.ablations import ABLATIONS, describe_ablations

HELP = "train the lip movement generator on prepared data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="experiment file, e.g. training/demo.yaml (default: the paper's "
                             "full-size settings)")
    parser.add_argument("--data", metavar="PREPARED", required=True, action="append",
                        help="folder written by `lipmotion prepare`; repeat it to mix more "
                             "folders into training (all their clips; proportions: "
                             "data.source_weights); validation uses the first")
    parser.add_argument("--output", metavar="RUN_DIR", required=True,
                        help="run folder for weights, checkpoints and logs")
    parser.add_argument("--stages", default="flow,autoencoder,warmup,gan",
                        help="comma-separated stages to run, in training order")
    parser.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        dest="overrides",
                        help="override one config value (repeatable), e.g. train.gan_epochs=3")
    parser.add_argument("--ablation", choices=sorted(ABLATIONS), default=None,
                        help="paper Table 2 preset applied before --set: " + describe_ablations())
    parser.add_argument("--time-budget", metavar="DURATION", default=None,
                        help="stop cleanly after this long (e.g. 2h, 90m, 1h30m, 600) at an "
                             "epoch end; run the same command again to continue")
    parser.add_argument("--init-from", metavar="CHECKPOINT", default=None,
                        help="start the generator from this checkpoint's weights (a run folder, "
                             "or 'shipped' for the model inside the package); for the mouth "
                             "interior, a folder holding mouth_interior.weights.h5")
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


def time_budget(args: argparse.Namespace) -> float | None:
    """``--time-budget`` in seconds (None: no budget)."""
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.train.time_budget import parse_duration

    if args.time_budget is None:
        return None
    try:
        return parse_duration(args.time_budget)
    except ValueError as error:
        raise ConfigError(f"--time-budget: {error}") from None


def run(args: argparse.Namespace) -> int:
    import time

    from lipmotion_tf.generate.checkpoint import demo_checkpoint
    from lipmotion_tf.motion.config import experiment_kind
    from lipmotion_tf.train.runner import parse_stages, train

    kind = experiment_kind(args.config)
    if kind == "motion":
        return run_motion(args)
    if kind == "sync":
        return run_sync(args)
    if kind == "interior":
        return run_interior(args)
    config = build_config(args)
    stages = parse_stages(args.stages)
    budget = time_budget(args)
    init_from = args.init_from
    if init_from == "shipped":
        init_from = demo_checkpoint()
    started = time.perf_counter()
    main_data, *extra_data = args.data
    result = train(config, main_data, args.output, stages, verbose=2 if args.quiet else "auto",
                   extra_data=extra_data, time_budget=budget, init_from=init_from)
    elapsed = time.perf_counter() - started
    ran = ", ".join(result.stages_run) or "none"
    if result.budget_reached:
        print(f"time budget reached after {elapsed:.0f} s (finished stages: {ran}); run the "
              f"same command to continue from {result.output_dir}")
    else:
        print(f"trained stages: {ran} in {elapsed:.0f} s; outputs in {result.output_dir}")
    return 0


def refuse_paper_options(args: argparse.Namespace, init_from: bool = False) -> None:
    """The motion model, the sync expert and the interior train on one data set; only the
    interior (``init_from``) may start from another run."""
    from lipmotion_tf.errors import ConfigError

    if args.ablation or len(args.data) > 1:
        raise ConfigError("--ablation and a second --data are for the paper model; the "
                          "motion model, the sync expert and the mouth interior take one "
                          "data set")
    if args.init_from and not init_from:
        raise ConfigError("--init-from is for the paper model and the mouth interior")


def run_motion(args: argparse.Namespace) -> int:
    """Trains the motion model (a config file with ``kind: motion``)."""
    import time

    from lipmotion_tf.config import load_config
    from lipmotion_tf.motion.config import MotionExperimentConfig
    from lipmotion_tf.motion.training import train_motion

    refuse_paper_options(args)
    config = load_config(args.config, list(args.overrides), config_class=MotionExperimentConfig)
    budget = time_budget(args)
    started = time.perf_counter()
    result = train_motion(config, args.data[0], args.output, time_budget=budget,
                          verbose=2 if args.quiet else "auto")
    elapsed = time.perf_counter() - started
    summary = result.validation
    print(f"validation: LMD {summary['lmd_vs_static']:.2f}x static, sync {summary['sync']:.2f}, "
          f"opening ratio {summary['opening_ratio']:.2f}, motion ratio "
          f"{summary['motion_ratio']:.2f}, still {summary['still_max']:.3f}")
    if result.budget_reached:
        print(f"time budget reached after {elapsed:.0f} s; run the same command to continue "
              f"in {result.output_dir}")
    else:
        print(f"trained the motion model in {elapsed:.0f} s; outputs in {result.output_dir}")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    """Trains the sync expert (a config file with ``kind: sync``)."""
    import time

    from lipmotion_tf.config import load_config
    from lipmotion_tf.sync.config import SyncExperimentConfig
    from lipmotion_tf.sync.training import train_sync

    refuse_paper_options(args)
    config = load_config(args.config, list(args.overrides), config_class=SyncExperimentConfig)
    budget = time_budget(args)
    started = time.perf_counter()
    result = train_sync(config, args.data[0], args.output, time_budget=budget,
                        verbose=2 if args.quiet else "auto")
    elapsed = time.perf_counter() - started
    summary = result.validation
    print(f"validation: offset found within 1 frame on {summary['offset_accuracy']:.1%} of "
          f"{summary['pairs']} (clip, shift) pairs; in sync on {summary['in_sync']:.1%} of "
          f"{summary['clips']} clips")
    if result.budget_reached:
        print(f"time budget reached after {elapsed:.0f} s; run the same command to continue "
              f"in {result.output_dir}")
    else:
        print(f"trained the sync expert in {elapsed:.0f} s; outputs in {result.output_dir}")
    return 0


def run_interior(args: argparse.Namespace) -> int:
    """Trains the learned mouth interior (a config file with ``kind: interior``)."""
    import time

    from lipmotion_tf.config import load_config
    from lipmotion_tf.motion.interior_config import InteriorExperimentConfig
    from lipmotion_tf.motion.interior_training import train_interior
    from lipmotion_tf.motion.pipeline import motion_checkpoint

    refuse_paper_options(args, init_from=True)
    # An interior run or a motion model folder; "shipped": the package's.
    init_from = motion_checkpoint() if args.init_from == "shipped" else args.init_from
    config = load_config(args.config, list(args.overrides),
                         config_class=InteriorExperimentConfig)
    budget = time_budget(args)
    started = time.perf_counter()
    result = train_interior(config, args.data[0], args.output, time_budget=budget,
                            verbose=2 if args.quiet else "auto", init_from=init_from)
    elapsed = time.perf_counter() - started
    summary = result.validation
    print(f"validation: PSNR in the mouth {summary['psnr_learned']:.2f} dB learned, "
          f"{summary['psnr_drawn']:.2f} dB drawn ({summary['examples']} examples)")
    if result.budget_reached:
        print(f"time budget reached after {elapsed:.0f} s; run the same command to continue "
              f"in {result.output_dir}")
    else:
        print(f"trained the mouth interior in {elapsed:.0f} s; outputs in {result.output_dir}")
    return 0
