"""Generate lip frames on-device style with the TFLite models and the LiteRT runtime.

Export the two models first::

    lipmotion export tflite -o generator.tflite [--quantize float16]
    lipmotion export tflite --model log_mel -o log_mel.tflite

then::

    python examples/tflite_runner.py --generator generator.tflite --log-mel log_mel.tflite \
        --audio speech.flac --image lips.png --output lips.mp4

Only ``ai_edge_litert`` and numpy run the models (see
``lipmotion_tf/export/tflite_generator.py``: log-mel of the whole speech, 16-frame windows every
8 frames through ``generate_window``, sin^2 cross-fade, the ease-in from the given image).
``--checkpoint`` names the folder whose ``config.yaml`` gives the window, hop and ease-in
(default: the shipped model's, as ``lipmotion export tflite``). ``--show-signatures`` prints each
model's signature with the tensor shapes and dtypes an app binds to.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", required=True, help="generator .tflite (generate_window)")
    parser.add_argument("--log-mel", required=True, help="front-end .tflite (log_mel)")
    parser.add_argument("--audio", help="speech file")
    parser.add_argument("--image", help="64x64 (or larger, centre-cropped) lip image")
    parser.add_argument("--output", default="lips.mp4", help=".mp4 or .npy file to write")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads")
    parser.add_argument("--checkpoint", default=None,
                        help="folder of the exported model's config.yaml (default: the shipped "
                             "model)")
    parser.add_argument("--show-signatures", action="store_true")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (hidden by default)")
    return parser.parse_args(argv)


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

    import numpy as np

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.errors import LipMotionError
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator
    from lipmotion_tf.generate.checkpoint import checkpoint_config
    from lipmotion_tf.generate.mp4_writer import write_frames
    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.video.lip_crop import crop_box

    try:
        if args.show_signatures:
            show_signatures(args.generator)
            show_signatures(args.log_mel)
        if not (args.audio and args.image):
            return 0
        runner = TFLiteLipGenerator(args.generator, args.log_mel, num_threads=args.threads,
                                    config=checkpoint_config(args.checkpoint))
        waveform = load_audio(args.audio, runner.sample_rate)
        image = read_image(args.image)
        height, width = image.shape[:2]
        identity = crop_box(image, np.array([width / 2, height / 2, min(height, width)]), 64)
        started = time.perf_counter()
        frames = runner.generate(waveform, identity)
        elapsed = time.perf_counter() - started
    except LipMotionError as error:
        print(f"tflite_runner: error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    write_frames(output, frames, waveform, runner.sample_rate)
    print(f"wrote {len(frames)} frames to {output} ({elapsed:.2f} s for "
          f"{len(waveform) / runner.sample_rate:.2f} s of speech)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
