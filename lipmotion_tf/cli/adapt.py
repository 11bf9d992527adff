"""Adapt a model to one person from a video of that person talking.

The first 80% of the video is trained on, the last 20% is kept out; the base and the adapted
model are measured on that part and the table is printed. The motion model (default) is
measured on landmarks (LMD, sync, opening and motion ratios), the paper generator on pixels
(LMD, lip sync, PSNR, SSIM). The output folder is a checkpoint for generate, dub, export and
serve (--checkpoint).
"""

from __future__ import annotations

HELP = "fine-tune the model on one person's talking video"


def add_arguments(parser) -> None:
    from lipmotion_tf.cli.generation_options import add_model_options

    parser.add_argument("--video", required=True, action="append",
                        help="a video of the person talking, with its sound (30 s or more is "
                        "best); repeat it to join several videos of the same person")
    parser.add_argument("-o", "--output", required=True, help="new folder for the adapted model")
    add_model_options(parser, "fine-tune the motion model", "fine-tune Chen et al.'s generator")
    parser.add_argument("--minutes", type=float, default=None,
                        help="time for the whole adaptation, measurement included (default: "
                             "5 for the motion model, 10 for the paper generator)")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="share of the video, at its end, kept out of training and measured")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="fine-tuning learning rate (default: the model's, see the docs)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="windows per training step (default: 16 motion, 4 paper)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after about this many training steps even with time left "
                             "(motion default: 200)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from lipmotion_tf.cli.generation_options import chosen_model
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.errors import InputError

    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    if chosen_model(args) == "motion":
        from lipmotion_tf.motion.adapt import BATCH_SIZE, LEARNING_RATE
        from lipmotion_tf.motion.adapt import adapt_motion as adapt
        minutes = 5.0
    else:
        from lipmotion_tf.train.adapt import BATCH_SIZE, LEARNING_RATE
        from lipmotion_tf.train.adapt import adapt_to_video as adapt
        minutes = 10.0
    with terminate_as_interrupt():
        result = adapt(args.video, args.output, minutes=_or(args.minutes, minutes),
                       checkpoint=args.checkpoint, holdout=args.holdout,
                       learning_rate=_or(args.learning_rate, LEARNING_RATE),
                       batch_size=_or(args.batch_size, BATCH_SIZE),
                       max_steps=args.max_steps, progress=not args.quiet)
    print(result.report.table())
    print(f"adapted on {result.train_frames / result.fps:.1f} s ({result.steps} steps, "
          f"{result.train_seconds / 60:.1f} min of training, {result.total_seconds / 60:.1f} min "
          f"in all); measured on the last {result.heldout_frames / result.fps:.1f} s")
    print(f"wrote {result.checkpoint} (use it as --checkpoint) and {result.checkpoint}/report")
    return 0


def _or(value, default):
    """``value`` unless the option was left out (a given 0 must reach the checks)."""
    return default if value is None else value
