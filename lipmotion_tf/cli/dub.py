"""Dub a video: the person in it says new speech.

The face is tracked in every frame, the identity is the frame with the most closed mouth (or
--identity-frame), and generated lips are blended into every frame at the mouth. The output
lasts as long as the speech: a shorter video plays forward and backward in turn, a longer one
is cut. Frames without a face pass through unchanged.
"""

from __future__ import annotations

from lipmotion_tf.cli.generation_options import add_generation_options, apply_device

HELP = "put new speech into the mouth of a person's video"


def add_arguments(parser) -> None:
    parser.add_argument("--video", required=True, help="video of one person's face")
    parser.add_argument("--audio", required=True,
                        help="the new speech: wav, flac, mp3, ogg, m4a or the audio of a video")
    parser.add_argument("-o", "--output", default="dubbed.mp4", help="output .mp4 file")
    parser.add_argument("--checkpoint", default=None,
                        help="generator checkpoint folder (default: the shipped demo model)")
    parser.add_argument("--identity-frame", type=int, default=None, metavar="N",
                        help="take the identity from frame N (none: the frame with the most "
                        "closed mouth)")
    parser.add_argument("--still", action="store_true",
                        help="paste the identity crop unchanged (a baseline, no generator)")
    add_generation_options(parser)


def run(args) -> int:
    apply_device(args)
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.generate.dub import dub_video

    with terminate_as_interrupt():
        result = dub_video(
            args.video,
            args.audio,
            args.output,
            checkpoint=args.checkpoint,
            identity_frame=args.identity_frame,
            batch_size=args.batch_size,
            max_duration=args.max_duration,
            ease_in=args.ease_in or 0,  # a dub opens on the video, not on a photo
            still=args.still,
            require_gpu=args.device == "gpu",
        )
    print(result.summary(args.output))
    return 0
