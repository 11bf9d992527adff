"""The renderer's drawn mouth interior against real mouths, on people it never saw.

    python benchmarks/drawn_interior.py EXAMPLES.npz [EXAMPLES.npz ...] [--label NAME ...]
        [--figure docs/images/drawn_interior.png] [--json F]

Each file is ``lipmotion prepare-interior`` of the same clips (for example
``prepared/motion/heldout`` with ``--frames-per-clip 8``, made once by an older renderer and
once by this one): the same frames, each with the drawn interior painted over its own
inner-lip polygon (``region``) and as the camera saw it (``target``). For each file: PSNR and
L1 inside the learned interior's blend mask (the inner-lip mask widened by 3 pixels, where
:class:`~lipmotion_tf.motion.mouth_interior.MouthInterior` would repaint), over all examples
and over the open ones (lip gap above 15% of the mouth width). ``--figure``: the widest mouth
of each of the eight clips that open widest, one column per file, then the real one.

Prints JSON. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OPEN = 0.15


def mask_errors(region: np.ndarray, target: np.ndarray, blend: np.ndarray) -> dict:
    """PSNR (dB) and L1 of uint8 ``region`` against ``target`` inside ``blend`` (0-1)."""
    difference = region.astype(np.float64) / 255.0 - target.astype(np.float64) / 255.0
    weight = max(float(blend.sum()) * 3, 1e-6)
    mse = float((np.square(difference) * blend).sum()) / weight
    return {"psnr": round(10 * np.log10(1.0 / max(mse, 1e-12)), 2),
            "l1": round(float((np.abs(difference) * blend).sum()) / weight, 4)}


def widest_per_clip(clips: np.ndarray, opening: np.ndarray, count: int = 8) -> list[int]:
    """The widest example of each of the ``count`` clips whose widest is widest."""
    chosen, seen = [], set()
    for index in np.argsort(-opening):
        if clips[index] not in seen:
            seen.add(clips[index])
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="+", type=Path)
    parser.add_argument("--label", action="append", default=None,
                        help="a name per file (default: the file names)")
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    labels = args.label or [path.stem for path in args.examples]
    if len(labels) != len(args.examples):
        parser.error("give one --label per examples file")

    from lipmotion_tf.motion.mouth_interior import MouthInterior

    files = [np.load(path) for path in args.examples]
    first = files[0]
    for path, data in zip(args.examples[1:], files[1:]):
        if not np.array_equal(data["clip"], first["clip"]):
            parser.error(f"{path} does not hold the same examples as {args.examples[0]}")
    blend = np.asarray(MouthInterior(size=first["mask"].shape[1]).blend_mask(
        first["mask"].astype(np.float32) / 255.0))
    wide = first["opening"] > OPEN
    result = {"examples": int(len(first["clip"])), "open": int(wide.sum())}
    for label, data in zip(labels, files):
        result[label] = {
            "all": mask_errors(data["region"], data["target"], blend),
            "open": mask_errors(data["region"][wide], data["target"][wide], blend[wide])}
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.figure:
        from PIL import Image

        rows = [np.concatenate([data["region"][i] for data in files] + [first["target"][i]],
                               axis=1)
                for i in widest_per_clip(first["clip"], first["opening"])]
        half = (len(rows) + 1) // 2
        left, right = np.concatenate(rows[:half]), np.concatenate(rows[half:])
        if len(right) < len(left):
            right = np.concatenate([right, np.zeros((len(left) - len(right),) + right.shape[1:],
                                                    right.dtype)])
        gap = np.full((len(left), 6, 3), 255, np.uint8)
        Image.fromarray(np.concatenate([left, gap, right], axis=1)).save(args.figure)


if __name__ == "__main__":
    main()
