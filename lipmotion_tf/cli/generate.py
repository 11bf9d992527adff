"""Generate a video of lips saying the given speech, from one face photo or lip image.

With no arguments it uses the bundled speech sample and face photo and the shipped
demonstration model, and writes lipmotion.mp4.
"""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.cli.generation_options import add_generation_options, apply_device

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
    parser.add_argument("--checkpoint", default=None,
                        help="generator checkpoint folder (default: the shipped demo model)")
    parser.add_argument("--layout", choices=LAYOUT_CHOICES, default="side-by-side",
                        help="lips alone, next to the identity image, or pasted into the photo")
    crop = parser.add_mutually_exclusive_group()
    crop.add_argument("--lip-image", dest="is_lip_crop", action="store_const", const=True,
                      default=None, help="the image is already a lip crop")
    crop.add_argument("--face-image", dest="is_lip_crop", action="store_const", const=False,
                      help="the image must contain a face")
    parser.add_argument("--size", type=int, default=256, help="output height in pixels (lips layouts)")
    add_generation_options(parser)


def run(args) -> int:
    apply_device(args)
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.generate.render import render_video
    from lipmotion_tf.video.image_io import read_image

    with terminate_as_interrupt():
        render_video(
            audio_path=args.audio,
            image=read_image(args.image),
            output=args.output,
            checkpoint=args.checkpoint,
            layout=args.layout,
            is_lip_crop=args.is_lip_crop,
            size=args.size,
            batch_size=args.batch_size,
            max_duration=args.max_duration,
            ease_in=args.ease_in,
            require_gpu=args.device == "gpu",
        )
    print(f"wrote {args.output}")
    return 0
