"""Prepare the joint stage's windows (speech -> motion -> pixels) by self-reenactment.

From each clip of a `prepare-motion` folder (MOTION_DIR) and its video (under VIDEO_DIR at the
same relative path, any extension): the clip's most closed frame rigged as a photo, the window
of --window frames in which the mouth moves most, its speech, and its real frames brought into
the identity's crop. Writes OUT_DIR/train.npz and OUT_DIR/val.npz for
`lipmotion train --config training/joint.yaml --data OUT_DIR` (with --all: OUT_DIR/all.npz,
every clip, to measure on people kept out of training).
"""

from __future__ import annotations

import argparse

HELP = "make the joint stage's training windows from motion data and its videos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("motion_dir", metavar="MOTION_DIR", help="folder written by prepare-motion")
    parser.add_argument("video_dir", metavar="VIDEO_DIR",
                        help="the videos MOTION_DIR was prepared from (same relative paths)")
    parser.add_argument("output", metavar="OUT_DIR", help="folder to write train.npz and val.npz in")
    parser.add_argument("--window", type=int, default=16,
                        help="frames per window (default 16: the discriminator's)")
    parser.add_argument("--crop-size", type=int, default=128,
                        help="side of the identity crop the renderer moves, in pixels "
                             "(default 128; the joint model's model.motion_crop)")
    parser.add_argument("--image-size", type=int, default=64,
                        help="side of the resampled mouth box the losses see (default 64)")
    parser.add_argument("--all", action="store_true",
                        help="every clip into OUT_DIR/all.npz instead of the train and val "
                             "splits (people kept out of training, to measure on)")
    parser.add_argument("--force", action="store_true", help="replace existing windows")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.joint_data import SPLITS, prepare_joint

    if args.image_size % 4:
        raise InputError(f"--image-size must be a multiple of 4, got {args.image_size}")
    if not Path(args.video_dir).is_dir():
        raise InputError(f"video folder not found: {args.video_dir}")
    output = Path(args.output)
    names = ("all",) if args.all else SPLITS
    existing = [output / f"{name}.npz" for name in names if (output / f"{name}.npz").exists()]
    if existing and not args.force:
        raise InputError(f"{existing[0]} exists (use --force to replace it)")
    summary = prepare_joint(args.motion_dir, args.video_dir, output, args.window, args.crop_size,
                            args.image_size, progress=not args.no_progress,
                            split=not args.all)
    counts = ", ".join(f"{n} {split}" for split, n in summary["windows"].items())
    print(f"joint windows: {counts}; {len(summary['skipped'])} clips skipped -> {output}")
    return 0
