"""Dubbing quality: each clip dubbed with its own speech, against pasting the identity still.

    python benchmarks/dub_quality.py [--model motion|paper] [--data ../shared/data]
                                     [--checkpoint CKPT] [--json F]

For every clip kept out of the shipped model's training (GRID s3, LRS3 sample4-6, the LRW
``test_*`` clips), runs ``lipmotion dub`` twice with the clip's own sound: with the generator
and with ``--still`` (the paper model: the identity crop pasted unchanged; the motion model:
the mouth held at its rest shape), and measures both against the
source video (:func:`~lipmotion_tf.evaluation.dub_measures.measure_frames`): LMD (lower is
better) and the mouth-opening correlation (higher is better). The dub is also checked as a
photo is: PSNR against the source outside each frame's mouth-and-jaw region (the renderer's
crop; the H.264 encoding included) and the lips' sharpness (variance of the Laplacian of their
box), dubbed over source, median over frames. Prints one row per clip and the frame-weighted
means; ``--keep DIR`` keeps the dubbed videos, ``--figure PNG`` draws the
middle frame of the first clip of each source (GRID, LRS3, LRW) before and after dubbing,
with the mouth enlarged.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def held_out_clips(data: Path) -> list[tuple[Path, Path]]:
    """``(video, speech)`` pairs of the identities kept out of training."""
    clips = [(path, path) for path in sorted((data / "grid" / "speakers" / "s3").glob("*.mpg"))[:2]]
    clips += [(data / "lrs3" / f"sample{i}.mp4", data / "lrs3" / f"sample{i}.wav")
              for i in (4, 5, 6)]
    clips += [(path, path) for path in sorted((data / "lrw").glob("test_*.mp4"))]
    return [(video, speech) for video, speech in clips if video.is_file() and speech.is_file()]


def draw_figure(clips, rows, path: Path, height: int = 288) -> None:
    """Source and dubbed middle frames of the first clip of each dataset, mouths enlarged."""
    import cv2
    import numpy as np

    from lipmotion_tf.generate.dub import track_face
    from lipmotion_tf.video.lip_crop import LipCropper, crop_box
    from lipmotion_tf.video.reader import read_video

    lines, seen = [], set()
    for (video, _), row in zip(clips, rows):
        kind = row["clip"].split("/")[0]
        kind = "grid" if kind.startswith("s") else kind
        if kind in seen:
            continue
        seen.add(kind)
        source, dubbed = read_video(video), read_video(row["dubbed"])
        middle = min(len(source), len(dubbed)) // 2
        track = track_face(iter(source), LipCropper())
        box = track.boxes[middle] * np.array([1, 1, 1.6], np.float32)  # some face around
        scale = height / source.shape[1]
        tiles = [cv2.resize(frame[middle], None, fx=scale, fy=scale) for frame in (source, dubbed)]
        tiles += [crop_box(frame[middle], box, height) for frame in (source, dubbed)]
        lines.append(np.concatenate(tiles, axis=1))
    width = max(line.shape[1] for line in lines)
    sheet = np.concatenate([np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)),
                                   constant_values=255) for line in lines])
    cv2.imwrite(str(path), sheet[..., ::-1])


def region_checks(frames, dubbed, rest_fraction: float = 0.1) -> tuple[float, float]:
    """``(psnr_outside, sharpness)`` of ``dubbed`` frames against the source ``frames`` (see
    the module docstring); the regions are those ``lipmotion dub`` renders in."""
    import numpy as np

    from lipmotion_tf.motion.dub import video_rest
    from lipmotion_tf.motion.extract import track_mesh
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.video_evaluation import laplacian_variance, lips_region
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    count = min(len(frames), len(dubbed))
    with FaceMeshDetector(static_image_mode=False) as detector:
        meshes, found, _ = track_mesh(iter(frames[:count]), detector, indices=None)
    frontal_rest = video_rest(meshes, found, rest_fraction)
    first = int(np.flatnonzero(found)[0])
    side = FaceRig.from_image(frames[first], meshes[first], frontal_rest=frontal_rest).crop_size
    squared, pixels, sharpness = 0.0, 0, []
    for index in range(count):
        source = frames[index]
        made = dubbed[index][:source.shape[0], :source.shape[1]]
        outside = np.ones(source.shape[:2], bool)
        if found[index]:
            rig = FaceRig.from_image(source, meshes[index], frontal_rest=frontal_rest, side=side)
            x0, y0 = rig.origin
            outside[y0:y0 + side, x0:x0 + side] = False
            lips = lips_region(meshes[index])
            sharpness.append(laplacian_variance(made[lips])
                             / max(laplacian_variance(source[lips]), 1e-6))
        difference = made[outside].astype(np.float64) - source[outside]
        squared += float((difference ** 2).sum())
        pixels += difference.size
    mse = squared / max(pixels, 1)
    return (10 * np.log10(255.0 ** 2 / mse) if mse > 0 else 100.0,
            float(np.median(sharpness)) if sharpness else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", choices=("motion", "paper"), default="motion")
    parser.add_argument("--checkpoint", default=None,
                        help="model folder (default: the shipped model of --model)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="folder for the dubbed videos")
    parser.add_argument("--figure", type=Path, default=None, help="before/after picture (PNG)")
    args = parser.parse_args()

    from lipmotion_tf.evaluation.dub_measures import dub_source, measure_frames
    from lipmotion_tf.generate.dub import dub_video
    from lipmotion_tf.motion.dub import dub_motion_video
    from lipmotion_tf.video.reader import read_video

    dub = dub_motion_video if args.model == "motion" else dub_video

    clips = held_out_clips(args.data)
    if not clips:
        raise SystemExit(f"no held-out clips under {args.data}")
    rows = []
    print(f"{'clip':24} {'frames':>6} {'LMD dub':>8} {'LMD still':>9} {'sync dub':>9} "
          f"{'sync still':>10} {'dub s':>6} {'PSNR out':>8} {'sharp':>6}")
    with tempfile.TemporaryDirectory() as folder:
        out = args.keep or Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for video, speech in clips:
            row = {"clip": f"{video.parent.name}/{video.stem}"}
            source = dub_source(video)  # read and measured once for both modes
            for mode in ("dub", "still"):
                target = out / f"{video.parent.name}_{video.stem}_{mode}.mp4"
                start = time.perf_counter()
                dub(video, speech, target, checkpoint=args.checkpoint,
                    still=mode == "still", progress=False)
                row[f"{mode}_seconds"] = time.perf_counter() - start
                dubbed = read_video(target)
                measures = measure_frames(source, dubbed)
                row.update({f"{mode}_lmd": measures.lmd, f"{mode}_sync": measures.sync,
                            f"{mode}_lag": measures.lag, "frames": measures.frames})
                if mode == "dub":
                    row["psnr_outside"], row["sharpness"] = region_checks(source.frames, dubbed)
            rows.append(row)
            row["dubbed"] = str(out / f"{video.parent.name}_{video.stem}_dub.mp4")
            print(f"{row['clip']:24} {row['frames']:6d} {row['dub_lmd']:8.3f} "
                  f"{row['still_lmd']:9.3f} {row['dub_sync']:9.3f} {row['still_sync']:10.3f} "
                  f"{row['dub_seconds']:6.1f} {row['psnr_outside']:8.2f} "
                  f"{row['sharpness']:6.2f}", flush=True)
        if args.figure:
            draw_figure(clips, rows, args.figure)
    for row in rows:
        del row["dubbed"]
    frames = sum(row["frames"] for row in rows)
    summary = {key: sum(row[key] * row["frames"] for row in rows) / frames
               for key in ("dub_lmd", "still_lmd", "dub_sync", "still_sync")}
    print(f"{'mean (frame-weighted)':24} {frames:6d} {summary['dub_lmd']:8.3f} "
          f"{summary['still_lmd']:9.3f} {summary['dub_sync']:9.3f} {summary['still_sync']:10.3f}")
    print(f"lowest PSNR outside the mouth-and-jaw region "
          f"{min(r['psnr_outside'] for r in rows):.2f} dB; lip sharpness over the source's, "
          f"lowest clip {min(r['sharpness'] for r in rows):.2f}")
    if args.json:
        args.json.write_text(json.dumps({"clips": rows, "mean": summary}, indent=2))


if __name__ == "__main__":
    main()
