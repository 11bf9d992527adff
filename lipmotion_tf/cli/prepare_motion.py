"""Prepare motion data: face-mesh trajectories (with depth) and log-mel of every video.

Every video under VIDEO_DIR (searched recursively) becomes OUT_DIR/<folder>/<stem>.npz for
`lipmotion train --config training/motion.yaml`. Rerunning resumes: finished clips are kept.
Videos that cannot be used (corrupt, no sound, a face in fewer than half the frames) are
listed in OUT_DIR/failures.json and skipped.
"""

from __future__ import annotations

import argparse

HELP = "extract lip/jaw landmark trajectories and speech features for the motion model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video_dir", metavar="VIDEO_DIR", help="folder of videos (searched recursively)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="motion-data folder to write")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace) -> int:
    from lipmotion_tf.config import AudioConfig
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.extract import prepare_motion

    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    summary = prepare_motion(args.video_dir, args.out_dir, AudioConfig(),
                             workers=args.workers, progress=not args.no_progress)
    print(f"motion data: {summary['written']} clips written, {summary['kept']} kept, "
          f"{len(summary['failed'])} failed -> {args.out_dir}")
    if summary["written"] + summary["kept"] == 0:
        raise InputError(f"no usable clip in {args.video_dir}")
    return 0
