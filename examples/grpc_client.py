"""Call a served lip motion model over gRPC (TensorFlow Serving or ``lipmotion serve``).

    python examples/grpc_client.py --target 127.0.0.1:8500 --metadata
    python examples/grpc_client.py --target 127.0.0.1:8500 --audio speech.flac --image face.jpg \
        --output talking.mp4

Which model the server holds is read from its signatures. **Motion model** (``lipmotion export
saved-model``, the default): ``--image`` is a face photo. The photo is rigged here (mediapipe's
face mesh and the numpy set-up of ``lipmotion_tf/motion/face_rig.py``), sent with the speech
and the rig tensors to ``serving_default``, and the mouth-region crops that come back are
pasted into the photo: the video has the photo's size. ``--frames-per-request N`` sends the
speech's log-mel to ``motion`` and the frames to ``render``, N a request, instead (for long
speech, whose one ``serving_default`` answer would pass the server's size limit). **Paper
model** (``lipmotion export saved-model --model paper``): ``--image`` is a lip image, sent as
it is (the graph centre-crops and resizes it to 64x64); the frames are the 64x64 lips.

The speech is resampled to 44.1 kHz here. The frames are written with the speech as an MP4
(or as a .npy array).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: A serving_default answer above this many bytes goes through motion + render instead.
MAX_ONE_ANSWER_BYTES = 256 << 20


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:8500", help="server host:port")
    parser.add_argument("--model-name", default="lipmotion", help="model_spec.name")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument("--metadata", action="store_true", help="print the served signatures")
    parser.add_argument("--audio", help="speech file (wav, flac, mp3, m4a...)")
    parser.add_argument("--image", help="face photo (motion model) or lip image (paper model)")
    parser.add_argument("--output", default="talking.mp4", help=".mp4 or .npy file to write")
    parser.add_argument("--frames-per-request", type=int, default=None,
                        help="motion model: render this many frames a request through the "
                             "motion and render signatures (default: one serving_default "
                             "request, unless its answer would pass 256 MiB)")
    parser.add_argument("--max-size", type=int, default=1280, metavar="PIXELS",
                        help="motion model: scale a larger photo down to this many pixels on "
                             "its long side first, as lipmotion generate does (0: any size)")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (hidden by default)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from lipmotion_tf.library_logs import quiet_library_logs

    args = parse_args(argv)
    quiet_library_logs(verbose=args.verbose or None)  # before TensorFlow and LiteRT load

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.config import SPEECH_SAMPLE_RATE
    from lipmotion_tf.errors import LipMotionError
    from lipmotion_tf.generate.blending import num_output_frames
    from lipmotion_tf.generate.mp4_writer import write_frames
    from lipmotion_tf.serving.client import LipMotionClient
    from lipmotion_tf.video.image_io import read_image

    try:
        with LipMotionClient(args.target, args.model_name, timeout=args.timeout) as client:
            metadata = client.metadata()
            motion = "render" in metadata["signatures"]
            if args.metadata or not (args.audio and args.image):
                kind = "motion" if motion else "paper"
                print(f"model '{args.model_name}' version {metadata['version']} ({kind} "
                      f"model) at {args.target}")
                for name, signature in metadata["signatures"].items():
                    print(f"  {name}: {signature['inputs']} -> {signature['outputs']}")
                if not (args.audio and args.image):
                    return 0
            waveform = load_audio(args.audio, SPEECH_SAMPLE_RATE)
            image = read_image(args.image)
            if motion:
                from lipmotion_tf.motion.face_rig import FaceRig
                from lipmotion_tf.video.image_io import scaled_to

                image = scaled_to(image, args.max_size)
                rig = FaceRig.from_image(image, source=args.image)
                per_request = args.frames_per_request
                answer = (num_output_frames(len(waveform), SPEECH_SAMPLE_RATE // 25)
                          * rig.crop_size ** 2 * 3)
                if per_request is None and answer > MAX_ONE_ANSWER_BYTES:
                    per_request = 100
                frames = client.generate_motion(waveform, SPEECH_SAMPLE_RATE, image, rig=rig,
                                                frames_per_request=per_request)
            else:
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
