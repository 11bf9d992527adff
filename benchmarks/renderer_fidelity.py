"""Does the rendered face move as the motion says? Real motion in, the face mesh read back.

    python benchmarks/renderer_fidelity.py [--data ../shared/data] [--json F] [--figure PNG]
    python benchmarks/renderer_fidelity.py --reenact VIDEO_DIR [--limit N] [--gains 1,1.6]

The real lip motion of a kept-out GRID s3 clip (no motion model involved) drives each photo
(the bundled face, ``faces/M02`` and LRS3 sample4's first frame) through the renderer; the
frames are tracked with the face mesh like any video and turned into motion the same way
(:func:`~lipmotion_tf.motion.dataset.mouth_motion`). Printed per photo: the commanded and the
read-back inner-lip opening (5th and 95th percentiles, mouth widths), their correlation and the
slope of read-back over commanded (1: the face opens exactly as commanded), and the mean lip
point movement of each. ``--figure`` draws the photo's mouth region, the frame of the widest
commanded opening and a middle one, per photo.

``--reenact`` fits the renderer's gain
(:data:`~lipmotion_tf.motion.face_rig.DRAW_GAIN`): each video (training people's, so
that the kept-out ones judge it) is re-enacted from its first frame with its own tracked
motion, rendered with each gain, and read back by the face mesh; printed per gain, the median
over videos of the slope of the read-back opening over the real one (1: the rendered mouth
reads as open as the real one did) and their correlation, the slope per folder, and the
slope of all 40 read-back lip coordinates (displacements from rest) over the real ones.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def real_motion(data: Path, audio):
    """The motion of GRID s3's first clip (kept out of training), tracked from its video."""
    from lipmotion_tf.motion.adapt import track_person

    clip = sorted((data / "grid" / "speakers" / "s3").glob("*.mpg"))[0]
    return clip.name, track_person([clip], audio, progress=False)[0].motion


def read_back(frames):
    """``(motion, rest)`` of rendered frames, tracked as prepared videos are."""
    from lipmotion_tf.motion.dataset import mouth_motion
    from lipmotion_tf.motion.extract import track_mesh
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    with FaceMeshDetector(static_image_mode=False) as detector:
        mesh, found, _ = track_mesh(frames, detector)
    return mouth_motion(mesh, found, FRONTAL_TEMPLATE)


def reenact(pipeline, videos, gains) -> dict:
    """``{gain: [(folder, slope, correlation, lip slope) per video]}`` of self-re-enactment
    (module docstring; ``folder``: the name of the video's folder)."""
    from tqdm import tqdm

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.adapt import track_person
    from lipmotion_tf.motion.face_rig import DRAW_GAIN, FaceRig
    from lipmotion_tf.motion.measures import LIP_POINTS, opening
    from lipmotion_tf.video.reader import video_frame

    results = {gain: [] for gain in gains}
    for video in tqdm(videos, desc="re-enacting", unit="video"):
        try:
            sequence = track_person([video], pipeline.config.audio, progress=False)[0]
        except InputError as error:  # no face in half the frames: not a re-enactment
            print(f"skipped {video}: {error}")
            continue
        rig = FaceRig.from_image(video_frame(video, 0, fps=pipeline.fps))
        real = opening(sequence.rest, sequence.motion)
        for gain in gains:
            # The renderer moves the lips DRAW_GAIN times as far: scaled so that it moves
            # them `gain` times as far.
            drawn = sequence.motion * np.float32(gain / DRAW_GAIN)
            tracked, rest = read_back(list(pipeline.render(rig, drawn)))
            read = opening(rest, tracked)
            read_lips = tracked[:, :LIP_POINTS].ravel()
            real_lips = sequence.motion[:, :LIP_POINTS].ravel()
            results[gain].append((video.parent.name, float(np.polyfit(real, read, 1)[0]),
                                  float(np.corrcoef(real, read)[0, 1]),
                                  float(np.polyfit(real_lips, read_lips, 1)[0])))
    return results


def fidelity(pipeline, photo: Path, motion: np.ndarray) -> tuple[dict, list]:
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.measures import LIP_POINTS, opening
    from lipmotion_tf.video.image_io import read_image

    image = read_image(photo)
    rig = FaceRig.from_image(image)
    frames = list(pipeline.render(rig, motion))
    tracked, rest = read_back(frames)
    commanded, read = opening(rig.rest_motion_input, motion), opening(rest, tracked)
    lips = slice(0, LIP_POINTS)
    result = {
        "photo": photo.name,
        "commanded_opening_p5_p95": [round(float(np.percentile(commanded, q)), 3) for q in (5, 95)],
        "read_opening_p5_p95": [round(float(np.percentile(read, q)), 3) for q in (5, 95)],
        "correlation": round(float(np.corrcoef(commanded, read)[0, 1]), 3),
        "slope": round(float(np.polyfit(commanded, read, 1)[0]), 3),
        "commanded_lip_motion": round(float(np.linalg.norm(motion[:, lips], axis=-1).mean()), 4),
        "read_lip_motion": round(float(np.linalg.norm(tracked[:, lips], axis=-1).mean()), 4),
    }
    x0, y0, side = *rig.origin, rig.crop_size
    widest, middle = int(np.argmax(commanded)), int(np.argsort(commanded)[len(commanded) // 2])
    tiles = [f[y0:y0 + side, x0:x0 + side] for f in (image, frames[widest], frames[middle])]
    return result, tiles


def main() -> None:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("LIPMOTION_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--checkpoint", default=None, help="motion model (its renderer settings)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--reenact", type=Path, nargs="+", default=None,
                        help="folders of training people's videos: fit the renderer's gain")
    parser.add_argument("--limit", type=int, default=4, help="videos per --reenact folder")
    parser.add_argument("--gains", default="1.0,1.3,1.6,1.9")
    args = parser.parse_args()

    import sys

    import cv2

    from lipmotion_tf.motion.pipeline import MotionPipeline

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from motion_faces import default_photos

    data = Path(args.data)
    pipeline = MotionPipeline.from_checkpoint(args.checkpoint)
    if args.reenact:
        from lipmotion_tf.data.prepare import find_videos

        videos = [v for folder in args.reenact for v in find_videos(folder)[:args.limit]]
        gains = [float(g) for g in args.gains.split(",")]
        results = reenact(pipeline, videos, gains)
        for gain, values in results.items():
            slope, corr, lip_slope = np.median(np.array([v[1:] for v in values]), axis=0)
            folders = {name: round(float(np.median([v[1] for v in values if v[0] == name])), 3)
                       for name in dict.fromkeys(v[0] for v in values)}
            print(json.dumps({"gain": gain, "videos": len(values), "median_slope":
                              round(float(slope), 3), "median_correlation": round(float(corr), 3),
                              "median_lip_slope": round(float(lip_slope), 3),
                              "median_slope_per_folder": folders}))
        if args.json:
            args.json.write_text(json.dumps({str(g): v for g, v in results.items()}, indent=2))
        return
    clip, motion = real_motion(data, pipeline.config.audio)
    results, rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        for photo in default_photos(data, Path(folder)):
            result, tiles = fidelity(pipeline, photo, motion)
            result["motion_from"] = clip
            print(json.dumps(result))
            results.append(result)
            rows.append(np.concatenate([cv2.resize(t, (200, 200), interpolation=cv2.INTER_AREA)
                                        for t in tiles], axis=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.figure:
        cv2.imwrite(str(args.figure), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
