"""The learned mouth interior against the drawn one, on people it never saw.

    python benchmarks/mouth_interior.py [--checkpoint DIR] [--examples prepared/interior/heldout.npz]
        [--figure docs/images/mouth_interior.png] [--json F]

1. Self-reenactment on the kept-out identities' examples (``lipmotion prepare-interior`` of
   ``prepared/motion/heldout``): PSNR and L1 inside the interior's blend mask, the learned
   interior and the drawn one against the real frame, over all examples and over the open
   ones (lip gap above 15% of the mouth width).
2. ``--figure``: the widest kept-out mouths (drawn, learned, real), then the three photos of
   ``benchmarks/motion_faces.py`` at the bundled speech's widest frames (drawn above, learned
   below).

Prints JSON. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "lipmotion_tf" / "assets" / "samples"


def self_reenactment(interior, examples: dict, opening: np.ndarray) -> dict:
    from lipmotion_tf.motion.interior_training import KEYS, evaluate_interior

    open_ = opening > 0.15
    result = {"all": evaluate_interior(interior, {k: examples[k] for k in KEYS})}
    if open_.any():
        result["open"] = evaluate_interior(interior, {k: examples[k][open_] for k in KEYS})
    return {name: {key: round(float(value), 4) for key, value in figures.items()}
            for name, figures in result.items()}


def example_rows(interior, examples: dict, opening: np.ndarray, count: int = 6) -> np.ndarray:
    """The widest mouths, one per clip: drawn | learned | real, in [0, 1]."""
    chosen, seen = [], set()
    for index in np.argsort(-opening):
        if examples["clip"][index] not in seen:
            chosen.append(index)
            seen.add(examples["clip"][index])
        if len(chosen) == count:
            break
    region = examples["region"][chosen].astype(np.float32) / 255.0
    mask = examples["mask"][chosen].astype(np.float32) / 255.0
    learned = np.asarray(interior({"region": region, "mask": mask}))
    target = examples["target"][chosen].astype(np.float32) / 255.0
    return np.concatenate([np.concatenate(triple, 1) for triple in zip(region, learned, target)],
                          0)


def photo_rows(checkpoint, photos, frames: int = 4, width: int = 128) -> list[np.ndarray]:
    """Each photo's mouth box at the bundled speech's widest frames: drawn above, learned
    below."""
    import cv2

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.video.image_io import read_image

    speech = load_audio(SAMPLES / "speech.flac", 44100)
    learned = MotionPipeline.from_checkpoint(checkpoint, interior="learned")
    drawn = MotionPipeline(learned.generator, learned.config)
    rows = []
    for photo in photos:
        rig = FaceRig.from_image(read_image(photo), source=str(photo))
        motion = learned.motion(speech, 44100, rig.rest_motion_input)
        gap = motion[:, :, 1].max(axis=1) - motion[:, :, 1].min(axis=1)
        picks = np.sort(np.argsort(-gap)[:frames])
        top, left, height, box_width = rig.mouth_box
        height_out = int(round(width * height / box_width))

        def cut(crop):
            return cv2.resize(crop[top:top + height, left:left + box_width], (width, height_out),
                              interpolation=cv2.INTER_AREA)

        rows.append(np.concatenate([
            np.concatenate([cut(c) for c in drawn.render_crops(rig, motion[picks])], 1),
            np.concatenate([cut(c) for c in learned.render_crops(rig, motion[picks])], 1)], 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None,
                        help="motion model folder with a learned interior (default: shipped)")
    parser.add_argument("--examples", default="prepared/interior/heldout.npz")
    parser.add_argument("--data", default=os.environ.get("LIPMOTION_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from lipmotion_tf.motion.interior_training import load_examples
    from lipmotion_tf.motion.pipeline import choose_interior, motion_checkpoint
    from lipmotion_tf.motion.training import load_motion_generator

    folder = args.checkpoint or motion_checkpoint()
    _, config = load_motion_generator(folder)
    interior = choose_interior(folder, config, "learned")
    examples = load_examples(args.examples)
    with np.load(args.examples) as data:
        opening = data["opening"]
    result = {"examples": args.examples, "self_reenactment": self_reenactment(
        interior, examples, opening)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.figure:
        import cv2

        sys.path.insert(0, str(ROOT / "benchmarks"))
        from motion_faces import default_photos

        with tempfile.TemporaryDirectory() as work:
            photos = default_photos(Path(args.data), Path(work))
            rows = photo_rows(folder, photos)
        left = example_rows(interior, examples, opening)
        right = np.concatenate([np.pad(r, ((0, 6), (0, 0), (0, 0)), constant_values=1.0)
                                for r in rows], 0)
        height = max(left.shape[0], right.shape[0])
        pad = lambda x: np.pad(x, ((0, height - x.shape[0]), (0, 0), (0, 0)),  # noqa: E731
                               constant_values=1.0)
        sheet = np.concatenate([pad(left), np.ones((height, 12, 3)), pad(right)], 1)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.figure), cv2.cvtColor(
            (np.clip(sheet, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR))
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
