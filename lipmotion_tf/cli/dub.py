"""Dub a video: the person in it says new speech.

The face is tracked in every frame, the identity is the frame with the most closed mouth (or
--identity-frame), and generated lips are blended into every frame at the mouth. The output
lasts as long as the speech: a shorter video plays forward and backward in turn, a longer one
is cut. Frames without a face pass through unchanged.
"""

from __future__ import annotations

from lipmotion_tf.cli.generation_options import (
    add_expressiveness_option,
    add_generation_options,
    add_interior_option,
    add_model_options,
    apply_device,
    chosen_model,
    refuse_interior,
    speaking_amplitude_option,
)

HELP = "put new speech into the mouth of a person's video"


def add_arguments(parser) -> None:
    parser.add_argument("--video", required=True, help="video of one person's face")
    parser.add_argument("--audio", required=True,
                        help="the new speech: wav, flac, mp3, ogg, m4a or the audio of a video")
    parser.add_argument("-o", "--output", default="dubbed.mp4", help="output .mp4 file")
    add_model_options(parser, "the video's own lips moved to the new speech's landmarks",
                      "64-pixel generated lips pasted in")
    parser.add_argument("--identity-frame", type=int, default=None, metavar="N",
                        help="take the identity from frame N (none: the frame with the most "
                        "closed mouth)")
    parser.add_argument("--still", action="store_true",
                        help="a baseline without the speech: the identity crop pasted (paper) "
                             "or the mouth held at its rest shape (motion)")
    add_expressiveness_option(parser, "the video's own for a model that reads it, else 1")
    add_interior_option(parser)
    add_generation_options(parser)


def run(args) -> int:
    apply_device(args)
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.errors import InputError
    from pathlib import Path

    from lipmotion_tf.audio.loader import check_declared_duration
    from lipmotion_tf.generate.dub import dub_video
    from lipmotion_tf.generate.render import check_not_an_input, check_output

    # The output and the speech's header before the model loads: a 3-hour file is refused
    # without decoding it.
    check_output(Path(args.output))
    check_not_an_input(args.output, args.video, args.audio)
    check_declared_duration(args.audio, args.max_duration)
    if args.expressiveness is not None and chosen_model(args) != "motion":
        raise InputError("--expressiveness is for the motion model")
    refuse_interior(args, chosen_model(args))
    if chosen_model(args) == "motion":
        from lipmotion_tf.motion.dub import dub_motion_video

        if args.identity_frame is not None or args.ease_in:
            raise InputError("--identity-frame and --ease-in are for --model paper")
        amplitude = speaking_amplitude_option(args)
        with terminate_as_interrupt():
            result = dub_motion_video(args.video, args.audio, args.output,
                                      checkpoint=args.checkpoint, batch_size=args.batch_size,
                                      max_duration=args.max_duration, still=args.still,
                                      amplitude=amplitude, interior=args.interior)
        print(result.summary(args.output))
        return 0
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
