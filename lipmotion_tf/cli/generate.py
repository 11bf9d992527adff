"""Generate a video of lips saying the given speech, from one face photo or lip image.

With no arguments it uses the bundled speech sample and face photo and the shipped motion
model, and writes lipmotion.mp4 at the photo's size.

--model motion (the default without --checkpoint) predicts lip and jaw landmarks from the
speech and moves the photo's own pixels, painting only the inside of the mouth; --model
paper runs Chen et al.'s one-stage 64-pixel generator (a --checkpoint of either kind picks
its model by itself).
"""

from __future__ import annotations

from pathlib import Path

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
from lipmotion_tf.video.image_io import DEFAULT_MAX_SIZE

HELP = "generate a lip video from speech and one face or lip image"
LAYOUT_CHOICES = ("lips", "side-by-side", "face")


def _assets() -> Path:
    return Path(__file__).resolve().parents[1] / "assets"


def add_arguments(parser) -> None:
    samples = _assets() / "samples"
    parser.add_argument("--audio", default=str(samples / "speech.flac"),
                        help="speech: wav, flac, mp3, ogg, m4a or the audio of a video")
    parser.add_argument("--image", default=str(samples / "face.jpg"),
                        help="a photo with a face, or an already-cropped lip image")
    parser.add_argument("-o", "--output", default="lipmotion.mp4", help="output .mp4 file")
    add_model_options(parser, "landmarks then the photo's own pixels",
                      "the one-stage generator")
    parser.add_argument("--layout", choices=LAYOUT_CHOICES, default=None,
                        help="lips alone, next to the identity image, or the whole photo "
                             "(default: face for the motion model, side-by-side for paper)")
    crop = parser.add_mutually_exclusive_group()
    crop.add_argument("--lip-image", dest="is_lip_crop", action="store_const", const=True,
                      default=None, help="the image is already a lip crop")
    crop.add_argument("--face-image", dest="is_lip_crop", action="store_const", const=False,
                      help="the image must contain a face")
    parser.add_argument("--size", type=int, default=256, help="output height in pixels (lips layouts)")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, metavar="PIXELS",
                        help="a photo with a longer side is scaled down to it for the face "
                             "search and the video, which keeps memory and time bounded "
                             "(0: keep the photo's size)")
    parser.add_argument("--motion-from", metavar="VIDEO", default=None,
                        help="motion model: move the photo's lips as the person in this video "
                             "moves theirs (their speech is muxed in; --audio is not used)")
    add_expressiveness_option(parser, "1")
    add_interior_option(parser)
    add_generation_options(parser)


def note(text: str) -> None:
    """A line on stderr about the inputs that does not stop the command."""
    import sys

    print(f"lipmotion generate: {text}", file=sys.stderr)


def read_photo(path, max_size: int):
    """The photo at ``path``, scaled down to ``max_size`` on its long side (a note says so)."""
    from lipmotion_tf.video.image_io import read_image, scaled_to

    image = read_image(path)
    scaled = scaled_to(image, max_size)
    if scaled is not image:
        note(f"{path} is {image.shape[1]}x{image.shape[0]} pixels: scaled to "
             f"{scaled.shape[1]}x{scaled.shape[0]} (--max-size {max_size}; 0 keeps its size)")
    return scaled


def run(args) -> int:
    apply_device(args)
    from lipmotion_tf.audio.loader import check_declared_duration
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.generate.render import check_not_an_input, check_output, render_video

    model = chosen_model(args)
    if args.motion_from is not None and model != "motion":
        raise InputError("--motion-from needs the motion model")
    if args.expressiveness is not None and (model != "motion" or args.motion_from):
        raise InputError("--expressiveness is for the motion model's speech-driven motion")
    refuse_interior(args, model)
    # The inputs' headers and the output, before the model loads: a 3-hour file is refused
    # without decoding it, an image given as speech without waiting for the model.
    check_output(Path(args.output))
    check_not_an_input(args.output, args.motion_from or args.audio)
    if args.motion_from is None:
        check_declared_duration(args.audio, args.max_duration)
    if model == "motion":
        from lipmotion_tf.motion.render import render_motion_video

        if args.is_lip_crop:
            raise InputError("the motion model needs a photo with a face; for a lip image "
                             "use --model paper")
        if args.ease_in is not None:
            raise InputError("--ease-in is for --model paper (the motion model starts at "
                             "the photo's own mouth)")
        amplitude = speaking_amplitude_option(args)
        image = read_photo(args.image, args.max_size)
        with terminate_as_interrupt():
            render_motion_video(args.audio, image, args.output, checkpoint=args.checkpoint,
                                layout=args.layout or "face", size=args.size,
                                batch_size=args.batch_size, max_duration=args.max_duration,
                                source=str(args.image), motion_from=args.motion_from,
                                amplitude=amplitude, interior=args.interior, on_note=note)
        print(f"wrote {args.output}")
        return 0
    with terminate_as_interrupt():
        render_video(
            audio_path=args.audio,
            image=read_photo(args.image, args.max_size),
            output=args.output,
            checkpoint=args.checkpoint,
            layout=args.layout or "side-by-side",
            is_lip_crop=args.is_lip_crop,
            size=args.size,
            batch_size=args.batch_size,
            max_duration=args.max_duration,
            ease_in=args.ease_in,
            require_gpu=args.device == "gpu",
        )
    print(f"wrote {args.output}")
    return 0
