"""Prepare the learned mouth interior's training examples by self-reenactment.

From each clip of a `prepare-motion` folder (MOTION_DIR) and its video (under VIDEO_DIR at the
same relative path, any extension), a few frames, more often the open ones: the renderer's
drawn interior over the frame's own inner lips is the input, the frame the target, both the
mouth box resampled to --box-size pixels. Writes one .npz for
`lipmotion train --config training/interior.yaml --data OUT.npz`.
"""

from __future__ import annotations

import argparse

HELP = "make the mouth interior's training examples from motion data and its videos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("motion_dir", metavar="MOTION_DIR", help="folder written by prepare-motion")
    parser.add_argument("video_dir", metavar="VIDEO_DIR",
                        help="the videos MOTION_DIR was prepared from (same relative paths)")
    parser.add_argument("output", metavar="OUT.npz", help="examples file to write")
    parser.add_argument("--frames-per-clip", type=int, default=4,
                        help="examples per clip (default 4)")
    parser.add_argument("--box-size", type=int, default=128,
                        help="side of the resampled mouth box in pixels, a multiple of 8 "
                             "(default 128; the interior's model.size)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the frame choice")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT.npz")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.interior_data import prepare_interior

    if args.box_size % 8:
        raise InputError(f"--box-size must be a multiple of 8, got {args.box_size}")
    if not Path(args.video_dir).is_dir():
        raise InputError(f"video folder not found: {args.video_dir}")
    if not args.output.endswith(".npz"):
        raise InputError(f"the output must be an .npz file, got {args.output}")
    if Path(args.output).exists() and not args.force:
        raise InputError(f"{args.output} exists (use --force to replace it)")
    summary = prepare_interior(args.motion_dir, args.video_dir, args.output,
                               args.frames_per_clip, args.box_size, args.seed,
                               progress=not args.no_progress)
    print(f"interior examples: {summary['examples']} from {summary['clips']} clips, "
          f"{len(summary['skipped'])} clips skipped -> {args.output}")
    return 0
