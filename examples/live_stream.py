"""Drive a photo live from speech as it arrives, with the motion model's stream.

A recording stands in for a microphone: it is pushed 40 ms at a time into a
``MotionStream`` (``lipmotion_tf/motion/stream.py``); each push returns the mouth motion of the
frames it completes, which are rendered into the photo straight away. The script prints the
stream's latency and the compute per pushed chunk, and writes the frames as a video::

    python examples/live_stream.py --audio speech.flac --image face.jpg --output live.mp4
    python examples/live_stream.py --lookahead 10     # 0.6 s latency instead of 1.0 s

An app would show each frame as it comes and play the speech delayed by the latency.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "lipmotion_tf" / "assets" / "samples"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", default=str(SAMPLES / "speech.flac"),
                        help="speech to push as if live (default: the bundled speech)")
    parser.add_argument("--image", default=str(SAMPLES / "face.jpg"),
                        help="a photo with a face (default: the bundled face)")
    parser.add_argument("--output", "-o", default="live.mp4", help="the video written")
    parser.add_argument("--checkpoint", default=None, help="a motion model folder")
    parser.add_argument("--lookahead", type=int, default=20,
                        help="frames of speech heard after a block before it is computed "
                             "(0-100; default 20, all the model reaches)")
    parser.add_argument("--chunk-ms", type=float, default=40.0,
                        help="milliseconds of speech per push (default 40)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.errors import InputError, LipMotionError
    from lipmotion_tf.generate.mp4_writer import write_frames
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.motion.stream import MotionStream
    from lipmotion_tf.video.image_io import read_image

    try:
        if not 1.0 <= args.chunk_ms <= 1000.0:
            raise InputError(f"--chunk-ms must be within 1-1000, got {args.chunk_ms}")
        pipeline = MotionPipeline.from_checkpoint(args.checkpoint)
        rate = pipeline.config.audio.sample_rate
        speech = load_audio(args.audio, rate)
        rig = FaceRig.from_image(read_image(args.image), source=args.image)
        stream = MotionStream(pipeline, rig.rest_motion_input, rate, lookahead=args.lookahead)
        chunk = max(1, int(rate * args.chunk_ms / 1000.0))
        frames, blocks = [], []  # blocks: (seconds, frames) of each push that gave frames
        for start in range(0, len(speech), chunk):
            began = time.perf_counter()
            made = list(pipeline.render(rig, stream.push(speech[start:start + chunk])))
            if made:
                blocks.append((time.perf_counter() - began, len(made)))
            frames += made
        frames += list(pipeline.render(rig, stream.close()))
    except LipMotionError as error:
        print(f"live_stream.py: error: {error}", file=sys.stderr)
        return 2
    write_frames(args.output, np.stack(frames), speech, rate, pipeline.fps)
    # The first block also builds the model's and the renderer's graphs.
    steady = [1000.0 * seconds / count for seconds, count in blocks[1:]] or [float("nan")]
    print(f"latency {stream.latency:.2f} s + compute: {1000.0 * blocks[0][0]:.0f} ms for the "
          f"first block (graphs built), then {np.median(steady):.1f} ms a frame (median) "
          f"for motion and rendering; {len(frames)} frames -> {args.output}" if blocks else
          f"{len(frames)} frames -> {args.output} (the speech ended before the look-ahead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
