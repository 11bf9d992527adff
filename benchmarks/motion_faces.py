"""The motion-first pipeline on photos of people it never saw: pictures and the photo checks.

    python benchmarks/motion_faces.py [--checkpoint DIR] [--figure docs/images/motion_faces.png]

For each photo (the bundled face, ``faces/M02`` and a frame of LRS3 ``sample4`` from
``../shared/data``, or ``--photo`` ones), ``lipmotion generate`` runs in a fresh process on
the bundled speech, then the written mp4 is read back and measured:

* ``size``: the video's frame size against the photo's;
* ``psnr_outside``: PSNR (dB) of the frames against the photo outside the mouth-and-jaw
  region (the renderer's crop), the H.264 encoding included;
* ``sharpness``: variance of the Laplacian of the lip region, frames over photo (median);
* ``opening``: the mouth opening (inner-lip gap over width, mediapipe on the frames) per
  frame: its range, and the share of frames more open than the photo.

Prints one JSON object per photo and draws a contact sheet (the photo's mouth at its own
resolution, then the video's two most closed and five widest frames) and the opening series
into ``--figure``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "lipmotion_tf" / "assets" / "samples"


def default_photos(data: Path, folder: Path) -> list[Path]:
    """The bundled photo, faces/M02 and LRS3 sample4's first frame (when the data is there)."""
    import cv2

    from lipmotion_tf.video.reader import video_frame

    photos = [SAMPLES / "face.jpg"]
    m02 = data / "faces" / "M02_CID_Sentences_List_A_058.jpg"
    if m02.is_file():
        photos.append(m02)
    sample4 = data / "lrs3" / "sample4.mp4"
    if sample4.is_file():
        frame = video_frame(sample4, 0)
        path = folder / "lrs3_sample4.png"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        photos.append(path)
    return photos


def measure(photo: Path, video: Path) -> dict:
    from lipmotion_tf.metrics.ssim_psnr import psnr
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.video_evaluation import laplacian_variance, lips_region
    from lipmotion_tf.video.face_mesh import FaceMeshDetector, mouth_opening
    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.video.reader import read_video

    image = read_image(photo)
    decoded = read_video(video)
    frames = decoded[:, : image.shape[0], : image.shape[1]]
    rig = FaceRig.from_image(image)
    x0, y0, side = *rig.origin, rig.crop_size
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y0 + side, x0:x0 + side] = False
    lips = lips_region(rig.mesh)
    photo_sharpness = laplacian_variance(image[lips])
    sharpness = [laplacian_variance(f[lips]) / photo_sharpness for f in frames]
    with FaceMeshDetector(static_image_mode=False) as detector:
        openings = []
        for frame in frames:
            mesh = detector.detect(frame)
            openings.append(mouth_opening(mesh) if mesh is not None else np.nan)
    openings = np.array(openings)
    with FaceMeshDetector(static_image_mode=True) as detector:
        rest = mouth_opening(detector.detect(image))
    diff = (frames[:, outside].astype(np.float64) - image[outside][None]) ** 2
    mse = diff.mean()
    return {
        "photo": photo.name, "photo_size": list(image.shape[:2]),
        "video_size": list(decoded.shape[1:3]), "frames": int(len(frames)),
        "crop": int(side),
        "psnr_outside": round(float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else 100.0, 2),
        "psnr_all": round(float(psnr(frames, np.repeat(image[None], len(frames), 0))), 2),
        "sharpness": round(float(np.median(sharpness)), 3),
        "opening_photo": round(float(rest), 3),
        "opening_min": round(float(np.nanmin(openings)), 3),
        "opening_max": round(float(np.nanmax(openings)), 3),
        "more_open_share": round(float(np.nanmean(openings > rest + 0.02)), 3),
        "openings": [round(float(v), 4) for v in openings],
    }


def chosen_frames(openings: np.ndarray, closed: int = 2, widest: int = 5,
                  apart: int = 6) -> np.ndarray:
    """The indices of the ``closed`` least and ``widest`` most open frames (read-back
    openings; NaN for no face), at least ``apart`` frames from each other, in time order."""
    chosen: list[int] = []
    for order in (np.argsort(np.nan_to_num(openings, nan=np.inf)),
                  np.argsort(-np.nan_to_num(openings, nan=-np.inf))):
        wanted = len(chosen) + (closed if not chosen else widest)
        for index in order:
            if len(chosen) == wanted:
                break
            if all(abs(int(index) - other) >= apart for other in chosen):
                chosen.append(int(index))
    return np.sort(np.asarray(chosen, int))


def figure(results, videos, photos, path: Path) -> None:
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.interior_data import square_around
    from lipmotion_tf.video.face_mesh import LIP_INDICES
    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.video.reader import read_video

    rows, picks = [], []
    for photo, video, result in zip(photos, videos, results):
        image = read_image(photo)
        rig = FaceRig.from_image(image)
        frames = read_video(video)[:, : image.shape[0], : image.shape[1]]
        pick = chosen_frames(np.asarray(result["openings"], np.float64))
        picks.append(pick)
        lips = rig.mesh[list(LIP_INDICES), :2]
        left, top, size = square_around(lips, float(np.ptp(lips[:, 0])), image.shape, 1.8)
        tiles = [t[top:top + size, left:left + size] for t in [image, *frames[pick]]]
        rows.append(np.concatenate([cv2.resize(t, (160, 160), interpolation=cv2.INTER_AREA)
                                    for t in tiles], axis=1))
    fig = plt.figure(figsize=(12, 1.7 * len(rows) + 2.6))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.7 * len(rows), 2.4])
    ax = fig.add_subplot(grid[0])
    ax.imshow(np.concatenate(rows, axis=0))
    ax.set_axis_off()
    ax.set_title("each photo's mouth (left), then the video's frames: its two most closed "
                 "and five widest, in time order (dots below)", fontsize=9)
    ax = fig.add_subplot(grid[1])
    for result, pick in zip(results, picks):
        openings = np.asarray(result["openings"])
        line, = ax.plot(np.arange(len(openings)) / 25.0, openings, label=result["photo"])
        ax.plot(pick / 25.0, openings[pick], "o", color=line.get_color(), markersize=4)
    ax.set_xlabel("seconds")
    ax.set_ylabel("mouth opening\n(gap / width)", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--photo", action="append", default=None)
    parser.add_argument("--audio", default=str(SAMPLES / "speech.flac"))
    parser.add_argument("--data", default=os.environ.get("LIPMOTION_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        photos = [Path(p) for p in args.photo] if args.photo else default_photos(
            Path(args.data), folder)
        results, videos = [], []
        for index, photo in enumerate(photos):
            video = folder / f"video_{index}.mp4"
            command = [sys.executable, "-m", "lipmotion_tf.cli.main", "generate", "--image",
                       str(photo), "--audio", args.audio, "-o", str(video)]
            if args.checkpoint:
                command += ["--checkpoint", args.checkpoint]
            subprocess.run(command, check=True, capture_output=True)
            result = measure(photo, video)
            print(json.dumps({k: v for k, v in result.items() if k != "openings"}))
            results.append(result)
            videos.append(video)
        if args.figure:
            figure(results, videos, photos, args.figure)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
