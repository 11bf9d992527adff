"""Where does the renderer's warp fold? Each video's own motion on its first frame.

    python benchmarks/warp_folds.py VIDEO_OR_FOLDER... [--gain G] [--json F]

Each video is tracked like a prepared clip (:func:`~lipmotion_tf.motion.adapt.track_person`),
its first frame is rigged as a photo, and its own motion (drawn as ``generate`` draws it,
:data:`~lipmotion_tf.motion.face_rig.DRAW_GAIN` times as far unless ``--gain``) gives the
warp's forward field on the rig's coarse grid, frame by frame, the rest shape first. A grid
cell folds where the field's Jacobian determinant is negative: there the inverse field has
no single answer and the output samples the photo from the wrong side of the fold (a seam).
Printed per video: its turn (degrees), the frames with a fold, the folded cells and those of
the rest shape alone; then the totals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def folded_cells(rig, motion: np.ndarray, gain: float) -> np.ndarray:
    """Folded grid cells per frame of ``(T, 59, 2)`` motion: ``(T,)`` int."""
    grid, step = rig.grid_size, rig.crop_size / rig.grid_size
    displacement = rig.targets(motion, gain=gain)["displacement"]
    field = np.einsum("mn,tnc->tmc", rig.basis, displacement).reshape(-1, grid, grid, 2)
    along_x = np.diff(field, axis=2)[:, :-1] / step
    along_y = np.diff(field, axis=1)[:, :, :-1] / step
    determinant = ((1 + along_x[..., 0]) * (1 + along_y[..., 1])
                   - along_x[..., 1] * along_y[..., 0])
    return (determinant < 0).sum(axis=(1, 2))


def main() -> None:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path, nargs="+", help="videos or folders of them")
    parser.add_argument("--checkpoint", default=None, help="motion model (its audio settings)")
    parser.add_argument("--gain", type=float, default=None, help="default: DRAW_GAIN")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from lipmotion_tf.data.prepare import find_videos
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.adapt import track_person
    from lipmotion_tf.motion.face_rig import DRAW_GAIN, FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.video.reader import video_frame

    gain = DRAW_GAIN if args.gain is None else args.gain
    pipeline = MotionPipeline.from_checkpoint(args.checkpoint)
    videos = [v for path in args.videos for v in (find_videos(path) if path.is_dir() else [path])]
    results = []
    for video in videos:
        try:
            sequence = track_person([video], pipeline.config.audio, progress=False)[0]
            rig = FaceRig.from_image(video_frame(video, 0, fps=pipeline.fps),
                                     source=str(video))
        except InputError as error:  # no face in the first frame or in half the frames
            print(json.dumps({"video": video.name, "skipped": str(error)}))
            continue
        motion = np.concatenate([np.zeros_like(sequence.motion[:1]), sequence.motion])
        folds = folded_cells(rig, motion, gain)
        result = {"video": video.name, "turn": round(rig.turn, 1), "frames": len(folds),
                  "folded_frames": int((folds > 0).sum()), "folded_cells": int(folds.sum()),
                  "rest_cells": int(folds[0])}
        print(json.dumps(result))
        results.append(result)
    print(json.dumps({"gain": gain, "videos": len(results),
                      "videos_folding": sum(1 for r in results if r["folded_cells"]),
                      "frames": sum(r["frames"] for r in results),
                      "folded_frames": sum(r["folded_frames"] for r in results),
                      "folded_cells": sum(r["folded_cells"] for r in results)}))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
