"""Adapt the generator to one person from a video of that person talking.

The first 80% of the video is trained on, the last 20% is kept out; the base and the adapted
generator are measured on that part (LMD, lip sync, PSNR, SSIM) and the table is printed.
The output folder is a checkpoint for generate, dub, export and serve (--checkpoint).
"""

from __future__ import annotations

from lipmotion_tf.train.adapt import BATCH_SIZE, LEARNING_RATE

HELP = "fine-tune the generator on one person's talking video"


def add_arguments(parser) -> None:
    parser.add_argument("--video", required=True, action="append",
                        help="a video of the person talking, with its sound (30 s or more is "
                        "best); repeat it to join several videos of the same person")
    parser.add_argument("-o", "--output", required=True, help="new folder for the adapted model")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="time for the whole adaptation, measurement included")
    parser.add_argument("--checkpoint", default=None,
                        help="generator to start from (default: the shipped demo model)")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="share of the video, at its end, kept out of training and measured")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE,
                        help="fine-tuning learning rate")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="windows per training step")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after about this many training steps even with time left")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.train.adapt import adapt_to_video

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    with terminate_as_interrupt():
        result = adapt_to_video(args.video, args.output, minutes=args.minutes,
                                checkpoint=args.checkpoint, holdout=args.holdout,
                                learning_rate=args.learning_rate, batch_size=args.batch_size,
                                max_steps=args.max_steps,
                                progress=not args.quiet)
    print(result.report.table())
    print(f"adapted on {result.train_frames / result.fps:.1f} s ({result.steps} steps, "
          f"{result.train_seconds / 60:.1f} min of training, {result.total_seconds / 60:.1f} min "
          f"in all); measured on the last {result.heldout_frames / result.fps:.1f} s")
    print(f"wrote {result.checkpoint} (use it as --checkpoint) and {result.checkpoint}/report")
    return 0
