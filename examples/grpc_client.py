"""Call a served lip motion model over gRPC (TensorFlow Serving or ``lipmotion serve``).

    python examples/grpc_client.py --target 127.0.0.1:8500 --metadata
    python examples/grpc_client.py --target 127.0.0.1:8500 --audio speech.flac --image lips.png \
        --output lips.mp4

The image is sent as it is (the ``serving_default`` signature centre-crops and resizes it to
64x64 in the graph), so pass a lip crop, not a whole face photo. The speech is resampled to
44.1 kHz here. The frames come back as uint8 (T, 64, 64, 3) at 25 fps and are written with the
speech as an MP4 (or as a .npy array).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:8500", help="server host:port")
    parser.add_argument("--model-name", default="lipmotion", help="model_spec.name")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument("--metadata", action="store_true", help="print the served signatures")
    parser.add_argument("--audio", help="speech file (wav, flac, mp3, m4a...)")
    parser.add_argument("--image", help="lip image (png, jpg)")
    parser.add_argument("--output", default="lips.mp4", help=".mp4 or .npy file to write")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (hidden by default)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from lipmotion_tf.library_logs import quiet_library_logs

    args = parse_args(argv)
    quiet_library_logs(verbose=args.verbose or None)  # before TensorFlow and LiteRT load

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.errors import LipMotionError
    from lipmotion_tf.config import SPEECH_SAMPLE_RATE
    from lipmotion_tf.generate.mp4_writer import write_frames
    from lipmotion_tf.serving.client import LipMotionClient
    from lipmotion_tf.video.image_io import read_image

    try:
        with LipMotionClient(args.target, args.model_name, timeout=args.timeout) as client:
            if args.metadata or not (args.audio and args.image):
                metadata = client.metadata()
                print(f"model '{args.model_name}' version {metadata['version']} at {args.target}")
                for name, signature in metadata["signatures"].items():
                    print(f"  {name}: {signature['inputs']} -> {signature['outputs']}")
                if not (args.audio and args.image):
                    return 0
            waveform = load_audio(args.audio, SPEECH_SAMPLE_RATE)
            image = read_image(args.image)
            frames = client.generate(waveform, SPEECH_SAMPLE_RATE, image)
    except LipMotionError as error:
        print(f"grpc_client: error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    write_frames(output, frames, waveform, SPEECH_SAMPLE_RATE)
    print(f"wrote {len(frames)} frames to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
