"""Check whether a video's sound and lips line up.

Tracks the face in every frame (at 25 fps), reads the mouth's motion and the sound, and
searches audio shifts of up to 15 frames (600 ms) each way with the shipped lip-sync judge.
Prints the offset (positive: the audio comes late), the confidence (LSE-C: how clearly the
best shift stands out; the median distance over shifts minus the least) and a verdict.
Frames without a face are left out and counted. Exit code 0 when judged, whatever the
verdict; 2 when the video cannot be judged.
"""

from __future__ import annotations

import argparse

HELP = "measure a video's audio-video offset and lip-sync confidence"


def positive_seconds(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError("must be between 0.5 and 86400 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="a video with a face and sound")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (offset_frames, offset_ms, confidence, "
                             "verdict, frames_without_face, ...) instead of text")
    parser.add_argument("--segments", type=positive_seconds, default=None, metavar="SECONDS",
                        help="also judge each SECONDS-long segment on its own (long videos "
                             "whose offset drifts)")
    parser.add_argument("--checkpoint", default=None, metavar="RUN_DIR",
                        help="a sync expert trained with `lipmotion train --config "
                             "training/sync.yaml` (default: the shipped one)")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")


def run(args: argparse.Namespace) -> int:
    import json

    from lipmotion_tf.sync.check import check_video

    report = check_video(args.video, args.checkpoint, args.segments,
                         progress=not args.no_progress and not args.json)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(f"{args.video}: {report.verdict}")
    print(f"  offset {report.offset_frames:+d} frames ({report.offset_ms:+.0f} ms; positive: "
          f"audio late), confidence {report.confidence:.3f}, distance {report.lse_d:.3f}")
    if report.frames_without_face:
        print(f"  {report.frames_without_face} of {report.frames} frames without a face were "
              "left out")
    for segment in report.segments:
        offset = segment["offset_frames"]
        detail = ("" if offset is None else
                  f" (offset {offset:+d} frames, confidence {segment['confidence']:.3f})")
        print(f"  {segment['start_s']:7.1f}-{segment['end_s']:7.1f} s: {segment['verdict']}"
              f"{detail}")
    return 0
