"""Motion models rendered on joint-stage windows, against the real lips.

    python benchmarks/joint_windows.py --checkpoint lipmotion_tf/assets/motion \\
        --checkpoint runs/joint/motion [--windows prepared/joint_heldout/all.npz] \\
        [--figure docs/images/joint_stage.jpg] [--json F]

Each window (``lipmotion prepare-joint``; ``--all`` for the kept-out people) is rendered from
its identity crop and its own speech by each motion model, through the same renderer and the
same mouth-box resampling as the joint stage trains with, and compared with the real lips
brought into the identity's crop: L1 and PSNR of the 64x64 mouth boxes in [0, 1], over all
frames, and the mouth's vertical motion energy (mean absolute frame-to-frame change of the
rows, generated over real: how much the rendered lips move). ``still``: the identity's mouth
held still. ``--figure``: the busiest window of three people, real above each model.

Prints JSON. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def render_windows(generator, windows) -> np.ndarray:
    """Every window's rendered lips, ``(N, T, S, S, 3)`` in [0, 1]; ``generator`` None: still."""
    videos = []
    for index in range(len(windows)):
        batch = windows[index]
        if generator is None:
            frames = batch["video"].shape[1]
            videos.append(np.repeat(batch["identity"][:, None], frames, axis=1))
        else:
            inputs = {name: batch[name] for name in generator.INPUTS}
            videos.append(np.asarray(generator(inputs, training=False)["video"]))
    return (np.concatenate(videos) + 1.0) / 2.0


def scores(fake: np.ndarray, real: np.ndarray) -> dict:
    error = np.abs(fake - real)
    mse = np.mean(np.square(fake - real), axis=(2, 3, 4))
    psnr = 10 * np.log10(1.0 / np.maximum(mse, 1e-10))

    def motion(video):
        return np.mean(np.abs(np.diff(video.mean(axis=(3, 4)), axis=1)), axis=(1, 2))

    ratio = motion(fake) / np.maximum(motion(real), 1e-6)
    return {"l1": round(float(error.mean()), 4), "psnr": round(float(psnr.mean()), 3),
            "motion_ratio": round(float(np.median(ratio)), 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="a motion model folder (repeatable)")
    parser.add_argument("--windows", default="prepared/joint_heldout/all.npz")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from lipmotion_tf.motion.joint_data import JointWindows
    from lipmotion_tf.motion.joint_generator import JointGenerator
    from lipmotion_tf.motion.training import load_motion_generator

    windows = JointWindows(args.windows, batch_size=1, seed=0, training=False)
    side = windows.arrays["crop"].shape[1]
    real = windows.arrays["video"].astype(np.float32) / 255.0
    results, videos = {}, {}
    for name in ["still"] + args.checkpoint:
        generator = None
        if name != "still":
            motion, _ = load_motion_generator(name)
            generator = JointGenerator(motion, image_size=real.shape[2], crop_size=side)
        videos[name] = render_windows(generator, windows)
        results[name] = scores(videos[name], real)
        print(name, results[name], file=sys.stderr)
    report = {"windows": args.windows, "count": len(real), "results": results}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.figure:
        import cv2

        energy = np.abs(np.diff(real.mean(axis=(3, 4)), axis=1)).mean(axis=(1, 2))
        with np.load(args.windows) as data:
            people = [str(clip).split("_")[0] for clip in data["clip"]]
        chosen = []  # the busiest window of three different people (or videos)
        for index in np.argsort(-energy):
            if people[index] not in {people[i] for i in chosen}:
                chosen.append(index)
        rows = []
        for index in chosen[:3]:
            for name in ["real"] + args.checkpoint:
                video = real if name == "real" else videos[name]
                rows.append(np.concatenate(list(video[index, ::2]), axis=1))
            rows.append(np.ones_like(rows[-1][:4]))
        sheet = (np.clip(np.concatenate(rows[:-1]), 0, 1) * 255).astype(np.uint8)
        cv2.imwrite(args.figure, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    return 0


if __name__ == "__main__":
    sys.exit(main())
