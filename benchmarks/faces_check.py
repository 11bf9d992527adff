"""Photos never trained on: does the model keep their colours and their still mouth?

    python benchmarks/faces_check.py [--checkpoint CKPT ...] [--figure PNG] [--json F]

For the bundled face and the photos in ``../shared/data/faces``, generates 3 s of the bundled
speech and 1 s of quiet noise (the evaluator's level, -60 dBFS) from each photo's lip crop
and prints, per checkpoint and photo: the colour shift (largest per-channel difference of
mean colour between the speech frames and the identity crop, grey levels) and the still-mouth
PSNR (quiet frames against the identity crop, dB). ``--figure`` draws, for the first
checkpoint, one row per photo: the identity crop, then every 8th speech frame.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "lipmotion_tf" / "assets" / "samples"


def photos(data: Path) -> list[Path]:
    faces = sorted((data / "faces").glob("*.jpg")) if (data / "faces").is_dir() else []
    return [SAMPLES / "face.jpg", *faces]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="generator checkpoint (repeatable; default: the shipped model)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from lipmotion_tf.evaluation.clip_measures import colour_shift
    from lipmotion_tf.evaluation.evaluator import QUIET_LEVEL, QUIET_SECONDS
    from lipmotion_tf.generate.pipeline import LipMotionPipeline
    from lipmotion_tf.metrics.ssim_psnr import psnr
    from lipmotion_tf.video.image_io import read_image

    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    speech = speech[: 3 * rate]
    quiet = (QUIET_LEVEL * np.random.default_rng(0).standard_normal(int(QUIET_SECONDS * rate))
             ).astype(np.float32)
    results, sheet = [], []
    for index, checkpoint in enumerate(args.checkpoint or [None]):
        pipeline = LipMotionPipeline.from_checkpoint(checkpoint)
        for path in photos(args.data):
            crop, _ = pipeline.identity_from_image(read_image(str(path)))
            frames = np.stack(list(pipeline.iter_frames(speech, rate, crop)))
            still = np.stack(list(pipeline.iter_frames(quiet, rate, crop)))
            row = {"checkpoint": str(checkpoint or "shipped"), "photo": path.name,
                   "colour_shift": colour_shift(frames, crop),
                   "still_psnr": psnr(still, np.repeat(crop[None], len(still), axis=0))}
            results.append(row)
            print(f"{row['checkpoint']:28} {path.name:36} colour shift {row['colour_shift']:5.1f}"
                  f"  still {row['still_psnr']:5.1f} dB", flush=True)
            if index == 0:
                sheet.append(np.concatenate([crop, *frames[::8]], axis=1))
    if args.figure and sheet:
        import cv2

        image = np.concatenate(sheet, axis=0)
        image = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(args.figure), image[..., ::-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
