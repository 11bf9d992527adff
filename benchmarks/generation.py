"""Any-length generation speed and peak memory: seconds of video per second of compute.

    python benchmarks/generation.py [--checkpoint CKPT] [--seconds 60] [--batch-size 8]
    python benchmarks/generation.py --config training/grid.yaml   # full size, random weights

Generates ``--seconds`` of speech (the bundled sample repeated) into an mp4 in a temporary
folder, through the same path as ``lipmotion generate`` (face photo, side-by-side layout),
and prints the realtime factor and the process's peak resident memory. Writes JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "lipmotion_tf" / "assets" / "samples"


def random_checkpoint(config_path: str, folder: Path) -> Path:
    """A checkpoint folder holding a randomly initialised generator of ``config_path``'s size."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.generate.checkpoint import save_generator_npz
    from lipmotion_tf.models.factory import build_generator

    config = load_config(config_path)
    save_generator_npz(build_generator(config), config, folder, dtype="float32")
    return Path(folder)


def main() -> None:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()  # as `lipmotion` does, before TensorFlow loads
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="generator checkpoint (default: demo)")
    parser.add_argument("--config", default=None,
                        help="experiment YAML: measure a generator of that size with random "
                             "weights instead of a checkpoint")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the speech")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--layout", default="side-by-side")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.config and args.checkpoint:
        parser.error("give --checkpoint or --config, not both")

    import numpy as np
    import soundfile as sf

    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.generate.render import render_video

    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    length = int(args.seconds * rate)
    speech = np.tile(speech, length // len(speech) + 1)[:length]
    image = read_image(str(SAMPLES / "face.jpg"))
    with tempfile.TemporaryDirectory() as folder:
        if args.config:
            args.checkpoint = random_checkpoint(args.config, Path(folder) / "checkpoint")
        audio_path = Path(folder) / "speech.wav"
        sf.write(audio_path, speech, rate)
        # A short untimed run loads the model and traces the graph.
        render_video(SAMPLES / "speech.flac", image, Path(folder) / "warm.mp4",
                     checkpoint=args.checkpoint, layout=args.layout, progress=False,
                     batch_size=args.batch_size)
        started, cpu_started = time.perf_counter(), time.process_time()
        frames = render_video(audio_path, image, Path(folder) / "out.mp4",
                              checkpoint=args.checkpoint, layout=args.layout, progress=False,
                              batch_size=args.batch_size, max_duration=args.seconds + 1)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "checkpoint": (f"random weights, {args.config}" if args.config
                       else args.checkpoint or "demo"),
        "speech_seconds": args.seconds,
        "frames": frames,
        "wall_seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "video_seconds_per_second": round(args.seconds / elapsed, 3),
        "frames_per_second": round(frames / elapsed, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"{args.seconds:.0f} s of speech -> {frames} frames in {elapsed:.1f} s "
          f"({result['video_seconds_per_second']}x realtime, {result['frames_per_second']} frames/s); "
          f"peak memory {peak_mb:.0f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
