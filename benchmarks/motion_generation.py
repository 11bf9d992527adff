"""Motion-first generation speed: speech -> motion -> the photo's own pixels -> mp4.

    python benchmarks/motion_generation.py [--checkpoint DIR] [--seconds 60] [--image PHOTO]

Generates ``--seconds`` of speech (the bundled sample repeated) on a photo (default: the
bundled 720x480 face) with the same path as ``lipmotion generate`` (face layout, the photo's
size), and prints the realtime factor, peak resident memory and the per-frame time of each
part: the motion model (whole utterance), the renderer (warp + interior, per batch) and
paste-back + H.264 encoding. Writes JSON with ``--json``. Nothing is asserted.
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


def main() -> None:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="motion model (default: shipped)")
    parser.add_argument("--image", default=str(SAMPLES / "face.jpg"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.video.image_io import read_image

    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    length = int(args.seconds * rate)
    speech = np.resize(speech, length).astype(np.float32)
    image = read_image(args.image)
    pipeline = MotionPipeline.from_checkpoint(args.checkpoint, batch_size=args.batch_size)
    started = time.perf_counter()
    rig = FaceRig.from_image(image)
    rig_time = time.perf_counter() - started
    motion = pipeline.motion(speech, rate, rig.rest_motion_input)
    motion_time = time.perf_counter() - started - rig_time
    frames = len(motion)
    render_time = 0.0
    with tempfile.TemporaryDirectory() as folder:
        import soxr

        audio = soxr.resample(speech, rate, pipeline.config.audio.sample_rate)
        height, width = image.shape[:2]
        with Mp4Writer(Path(folder) / "out.mp4", pipeline.fps, width, height, audio,
                       pipeline.config.audio.sample_rate) as writer:
            rendered = pipeline.render(rig, motion)
            while True:
                tick = time.perf_counter()
                frame = next(rendered, None)
                render_time += time.perf_counter() - tick
                if frame is None:
                    break
                writer.write(frame)
    total = time.perf_counter() - started
    result = {
        "machine": platform.processor() or platform.machine(),
        "photo": f"{width}x{height}", "crop": rig.crop_size, "seconds": args.seconds,
        "frames": frames, "wall_s": round(total, 2),
        "realtime_factor": round(args.seconds / total, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rig_s": round(rig_time, 3),
        "motion_ms_per_frame": round(1000 * motion_time / frames, 2),
        "render_and_paste_ms_per_frame": round(1000 * render_time / frames, 2),
        "encode_ms_per_frame": round(1000 * (total - rig_time - motion_time - render_time)
                                     / frames, 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
