"""Prepare training data: find videos, crop the lips, load the speech, write sharded TFRecords.

Every video under VIDEO_DIR (.mpg .mpeg .mp4 .mov .avi .mkv .webm, searched recursively) becomes
one clip ``<parent folder>/<stem>``: 25 fps lip crops, speech at the model sample rate and,
for GRID, speech/silence flags from ``.align`` files. Output: OUT_DIR/shards/*.tfrecord,
OUT_DIR/manifest.json and OUT_DIR/failures.json. Rerunning resumes: finished shards are kept.
Videos that cannot be used (corrupt, no audio, no face) are reported and skipped; the command
fails only when no video could be prepared.
"""

from __future__ import annotations

import argparse

HELP = "crop lips and extract speech from videos into training records"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video_dir", metavar="VIDEO_DIR", help="folder of videos (searched recursively)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="prepared-data folder to write")
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="experiment file; its audio and data sections set rates, crop and splits")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: the number of CPUs; 1 runs in-process)")
    parser.add_argument("--limit", type=int, default=None, help="prepare only the first N videos")
    parser.add_argument("--shard-size", type=int, default=64, help="clips per TFRecord shard")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard earlier prepared data in OUT_DIR instead of resuming")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace) -> int:
    import time

    from lipmotion_tf.config import load_config
    from lipmotion_tf.data.prepare import PrepareSettings, prepare

    config = load_config(args.config)
    if args.workers is not None and args.workers < 1:
        from lipmotion_tf.errors import InputError

        raise InputError(f"--workers must be at least 1, got {args.workers}")
    started = time.perf_counter()
    result = prepare(
        args.video_dir,
        args.out_dir,
        PrepareSettings.from_configs(config.audio, config.data),
        workers=args.workers,
        limit=args.limit,
        shard_size=args.shard_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - started
    counts = {split: len(result.manifest.clips_in(split)) for split in ("train", "val", "test")}
    print(
        f"prepared {len(result.manifest.clips)} clips "
        f"(train {counts['train']}, val {counts['val']}, test {counts['test']}) into {args.out_dir} "
        f"in {elapsed:.1f} s; {len(result.failures)} failed; "
        f"{result.shards_written} shards written, {result.shards_reused} reused"
    )
    return 0
