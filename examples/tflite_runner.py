"""Generate a talking video on-device style with the TFLite models and the LiteRT runtime.

**Motion model** (the default): export its three models first::

    lipmotion export tflite --part motion -o motion.tflite [--quantize int8 ...]
    lipmotion export tflite --part renderer -o renderer.tflite
    lipmotion export tflite --part log_mel -o log_mel.tflite

then::

    python examples/tflite_runner.py --motion motion.tflite --renderer renderer.tflite \
        --log-mel log_mel.tflite --audio speech.flac --image face.jpg --output talking.mp4

The photo is rigged with mediapipe's face mesh and numpy (``lipmotion_tf/motion/face_rig.py``),
the speech's log-mel comes from ``log_mel.tflite`` (librosa without ``--log-mel``), then
``motion.tflite`` runs once on the whole speech and ``renderer.tflite`` once a frame; each
rendered crop is pasted into the photo (``lipmotion_tf/export/tflite_motion.py``). The video
has the photo's size.

**Paper model**: ``lipmotion export tflite --model paper -o generator.tflite`` and
``lipmotion export tflite --model paper --part log_mel -o log_mel.tflite``, then::

    python examples/tflite_runner.py --generator generator.tflite --log-mel log_mel.tflite \
        --audio speech.flac --image lips.png --output lips.mp4

(``lipmotion_tf/export/tflite_generator.py``: log-mel of the whole speech, 16-frame windows
every 8 frames through ``generate_window``, sin^2 cross-fade, the ease-in from the given lip
image.)

Only ``ai_edge_litert`` and numpy run the models. ``--checkpoint`` names the folder whose
``config.yaml`` gives the audio settings (and the paper model's window, hop and ease-in;
default: the shipped model's, as ``lipmotion export tflite``). ``--show-signatures`` prints
each model's signature with the tensor shapes and dtypes an app binds to.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--motion", help="motion model .tflite (signature motion)")
    parser.add_argument("--renderer", help="renderer .tflite (signature render)")
    parser.add_argument("--generator", help="paper generator .tflite (generate_window)")
    parser.add_argument("--log-mel", help="front-end .tflite (log_mel); needed for --generator")
    parser.add_argument("--audio", help="speech file")
    parser.add_argument("--image", help="face photo (motion model), or 64x64 (or larger, "
                                        "centre-cropped) lip image (paper model)")
    parser.add_argument("--output", default="talking.mp4", help=".mp4 or .npy file to write")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads")
    parser.add_argument("--checkpoint", default=None,
                        help="folder of the exported model's config.yaml (default: the shipped "
                             "model)")
    parser.add_argument("--max-size", type=int, default=1280, metavar="PIXELS",
                        help="motion model: scale a larger photo down to this many pixels on "
                             "its long side first, as lipmotion generate does (0: any size)")
    parser.add_argument("--show-signatures", action="store_true")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (hidden by default)")
    args = parser.parse_args(argv)
    motion = args.motion is not None or args.renderer is not None
    if motion == (args.generator is not None):
        parser.error("give --motion and --renderer (motion model) or --generator and "
                     "--log-mel (paper model)")
    if motion and not (args.motion and args.renderer):
        parser.error("the motion model needs both --motion and --renderer")
    if args.generator and not args.log_mel:
        parser.error("the paper model needs --log-mel")
    return args


def show_signatures(path: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        print(f"{path}: signature '{name}'")
        for kind, details in (("input", runner.get_input_details()),
                              ("output", runner.get_output_details())):
            for tensor, info in details.items():
                shape = [int(d) for d in info["shape_signature"]]  # -1: resizable
                print(f"  {kind} {tensor}: {info['dtype'].__name__} {shape}")


def main(argv=None) -> int:
    from lipmotion_tf.library_logs import quiet_library_logs

    args = parse_args(argv)
    quiet_library_logs(verbose=args.verbose or None)  # before TensorFlow and LiteRT load

    from lipmotion_tf.errors import LipMotionError

    try:
        if args.show_signatures:
            for path in (args.motion, args.renderer, args.generator, args.log_mel):
                if path:
                    show_signatures(path)
        if not (args.audio and args.image):
            return 0
        run = run_motion if args.motion else run_paper
        frames, waveform, sample_rate, elapsed = run(args)
    except LipMotionError as error:
        print(f"tflite_runner: error: {error}", file=sys.stderr)
        return 2
    from lipmotion_tf.generate.mp4_writer import write_frames

    output = Path(args.output)
    write_frames(output, frames, waveform, sample_rate)
    print(f"wrote {len(frames)} frames to {output} ({elapsed:.2f} s for "
          f"{len(waveform) / sample_rate:.2f} s of speech)")
    return 0


def run_motion(args):
    """The motion model's frames: ``(frames, waveform, sample rate, seconds taken)``."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.export.tflite_motion import TFLiteMotionPipeline, motion_config
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.video.image_io import read_image, scaled_to

    runner = TFLiteMotionPipeline(args.motion, args.renderer, args.log_mel,
                                  num_threads=args.threads, config=motion_config(args.checkpoint))
    waveform = load_audio(args.audio, runner.sample_rate)
    image = scaled_to(read_image(args.image), args.max_size)
    started = time.perf_counter()
    import numpy as np

    frames = np.stack(list(runner.iter_frames(waveform, FaceRig.from_image(image,
                                                                           source=args.image))))
    return frames, waveform, runner.sample_rate, time.perf_counter() - started


def run_paper(args):
    """The paper model's 64x64 lip frames: ``(frames, waveform, sample rate, seconds)``."""
    import numpy as np

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator
    from lipmotion_tf.generate.checkpoint import checkpoint_config
    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.video.lip_crop import crop_box

    runner = TFLiteLipGenerator(args.generator, args.log_mel, num_threads=args.threads,
                                config=checkpoint_config(args.checkpoint))
    waveform = load_audio(args.audio, runner.sample_rate)
    image = read_image(args.image)
    height, width = image.shape[:2]
    identity = crop_box(image, np.array([width / 2, height / 2, min(height, width)]), 64)
    started = time.perf_counter()
    frames = runner.generate(waveform, identity)
    return frames, waveform, runner.sample_rate, time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
