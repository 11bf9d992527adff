"""Evaluate a model: LMD, SSIM, PSNR, sharpness and lip sync (the paper's Table 3).

The motion model (--model motion, or --data a folder of videos): each video is generated from
its first frame and its own speech as `generate` makes it, and measured against the video in
the mouth-and-jaw region, with the first frame held still as the baseline. With --motion-only,
the motion model is scored on landmarks on `lipmotion prepare-motion` data, without rendering.

The paper generator (--model paper, or --data a `lipmotion prepare` folder): every clip of the split is generated whole from its speech, with the clip's first frame as
identity, and compared with the real clip; a static baseline (the identity frame repeated) and
the ground truth are measured alongside. Lip landmarks are found on the crops pasted back into
the clip's own first video frame: give the folder of the source videos with --videos (the folder
given to `lipmotion prepare`); without it the crops are pasted into a bundled face photo, as
the authors did. Writes OUT/report.json, OUT/report.md, OUT/contact_sheet.png and
OUT/mouth_opening.png.

With --ablation, each variant of the paper's Table 2 is first trained with --config on the
train split (runs in OUT/runs/<variant>), then all variants are evaluated into one table.
"""

from __future__ import annotations

import argparse

from lipmotion_tf.cli.generation_options import add_interior_option, refuse_interior

HELP = "measure a model on videos or prepared clips (or the paper's Table 2 ablations)"
SPLIT_CHOICES = ("test", "val", "train", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DATA",
                        help="motion model: a folder of talking-face videos with sound (or one "
                             "video); paper generator: a folder written by `lipmotion prepare`; "
                             "--motion-only: by `lipmotion prepare-motion`")
    parser.add_argument("--model", choices=("auto", "motion", "paper"), default="auto",
                        help="auto: the --checkpoint's kind, else paper for a `lipmotion "
                             "prepare` folder and motion otherwise")
    parser.add_argument("--motion-only", action="store_true",
                        help="score the motion model on landmarks, without rendering "
                             "(opening ratio, motion ratio, sync, LMD vs static)")
    parser.add_argument("--folder", action="append", default=[], dest="folders",
                        help="with --motion-only: only clips under this top-level folder of "
                             "the data (repeatable), e.g. --folder s3 --folder s5")
    parser.add_argument("--sync-checkpoint", default=None, metavar="RUN_DIR",
                        help="with --motion-only: the sync expert that measures LSE-D, LSE-C "
                             "and the offset (default: the shipped one)")
    parser.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for the report files")
    parser.add_argument("--checkpoint", default=None,
                        help="model folder (default: the shipped model of --model)")
    parser.add_argument("--split", choices=SPLIT_CHOICES, default="test", help="clips to evaluate")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N clips")
    parser.add_argument("--videos", action="append", default=None, metavar="VIDEO_DIR",
                        help="paper generator: folder of the source videos (repeatable); "
                        "without it landmarks are measured on a bundled face photo; motion "
                        "model: more videos or folders to evaluate besides --data")
    parser.add_argument("--background", choices=("first-frame", "frames"), default="first-frame",
                        help="paste crops for landmark detection into the clip's first video frame, "
                        "or each into its own frame (whose moving jaw leaks into the landmarks)")
    add_interior_option(parser)
    parser.add_argument("--name", default=None, help="row label of the model in the table")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per generator call")
    parser.add_argument("--examples", type=int, default=3, help="clips shown in the figures")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    ablation = parser.add_argument_group("ablation (paper Table 2)")
    ablation.add_argument("--ablation", action="store_true",
                          help="train each variant with --config, then evaluate them all")
    ablation.add_argument("--config", default=None, metavar="YAML", help="experiment file to train from")
    ablation.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                          help="config override such as train.gan_epochs=1 (repeatable)")
    ablation.add_argument("--variants", default=None,
                          help="comma-separated variants; None means all of them (see docs/evaluation.md)")
    ablation.add_argument("--stages", default="flow,autoencoder,gan",
                          help="training stages to run for each variant")


def run(args: argparse.Namespace) -> int:
    from lipmotion_tf.errors import InputError

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.examples < 0:
        raise InputError(f"--examples must be >= 0, got {args.examples}")
    if args.motion_only:
        return run_motion_only(args)
    if args.folders:
        raise InputError("--folder is used with --motion-only")
    if _chosen_model(args) == "motion":
        return run_motion_videos(args)
    refuse_interior(args, "paper", "the motion model on videos")
    common = dict(
        split=args.split, limit=args.limit, video_dirs=args.videos or (), examples=args.examples,
        progress=not args.no_progress, background=args.background.replace("-", "_"),
    )
    if args.ablation:
        if args.checkpoint is not None:
            raise InputError(
                "--checkpoint and --ablation exclude each other: the ablation trains its own models"
            )
        from lipmotion_tf.evaluation.ablation import run_ablation

        variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
        stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
        report, paths = run_ablation(
            args.config, args.data, args.out, variants=variants, overrides=args.overrides,
            stages=stages, batch_size=args.batch_size, **common,
        )
    else:
        if args.config is not None or args.overrides or args.variants:
            raise InputError("--config, --set and --variants are used with --ablation only")
        from lipmotion_tf.evaluation.evaluator import evaluate_checkpoint

        report, paths = evaluate_checkpoint(
            args.data, args.out, checkpoint=args.checkpoint, name=args.name,
            batch_size=args.batch_size, **common,
        )
    print(report.table())
    print(f"wrote {paths['markdown']}, {paths['json']} and figures in {paths['json'].parent}")
    return 0


def _chosen_model(args) -> str:
    from pathlib import Path

    from lipmotion_tf.cli.generation_options import chosen_model
    from lipmotion_tf.data.manifest import MANIFEST_NAME

    if args.model == "auto" and args.checkpoint is None:
        prepared = (Path(args.data) / MANIFEST_NAME).is_file()
        return "paper" if prepared or args.ablation else "motion"
    return chosen_model(args)


def run_motion_videos(args: argparse.Namespace) -> int:
    """The motion model on videos, rendered (see the module docstring)."""
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.video_evaluation import (
        evaluate_motion_videos,
        interval_lines,
        table,
    )

    if args.ablation or args.config is not None or args.overrides or args.variants:
        raise InputError("--ablation, --config, --set and --variants are for --model paper")
    report = evaluate_motion_videos([args.data] + list(args.videos or ()), args.out,
                                    checkpoint=args.checkpoint, limit=args.limit,
                                    examples=args.examples, name=args.name or "motion",
                                    progress=not args.no_progress, interior=args.interior)
    print(table(report["summary"], report["per_folder"]))
    print(interval_lines(report["summary"]))
    for video, reason in report["skipped"].items():
        print(f"skipped {video}: {reason}")
    print(f"wrote {args.out}/report.md, report.json and contact_sheet.png "
          f"({report['clips']} videos)")
    return 0


def run_motion_only(args: argparse.Namespace) -> int:
    """``--motion-only``: the motion model on a motion-data folder."""
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.evaluation import evaluate_motion

    if args.ablation or args.videos:
        raise InputError("--motion-only takes no --ablation or --videos")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    report = evaluate_motion(args.data, args.out, checkpoint=args.checkpoint, split=args.split,
                             limit=args.limit, examples=args.examples,
                             name=args.name or "motion", folders=args.folders,
                             sync_checkpoint=args.sync_checkpoint)
    s = report["summary"]
    print(f"{s['clips']} clips: LMD {s['lmd_vs_static']:.2f}x static, sync {s['sync']:.2f}, "
          f"opening ratio {s['opening_ratio']:.2f}, motion ratio {s['motion_ratio']:.2f}, "
          f"still {s['still_max']:.4f}; LSE-D/LSE-C model {s['generated_lse_d']:.3f}/"
          f"{s['generated_lse_c']:.3f}, real {s['real_lse_d']:.3f}/{s['real_lse_c']:.3f}, "
          f"static {s['static_lse_d']:.3f}/{s['static_lse_c']:.3f}; report in {args.out}")
    return 0
