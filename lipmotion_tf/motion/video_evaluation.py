"""``lipmotion evaluate`` on videos with the motion model: what ``generate`` makes, in pixels.

Each talking-face video (with its sound) is generated as a user would: its first frame is the
photo, its own speech drives the motion model, the renderer moves the photo's pixels and the
frames go through the same H.264 encoding as ``generate``'s. Against the real video, in the
square mouth-and-jaw region the renderer works in (at the video's own resolution):

* ``psnr``, ``ssim``: of the region, frame by frame (the real head also moves: both methods
  pay for that alike);
* ``lmd`` and ``sync``: lip landmarks of the region pasted into the first frame, mouth-crop
  units, and the best mouth-opening correlation within +-5 frames
  (:func:`~lipmotion_tf.evaluation.dub_measures.measure_frames`);
* ``opening_ratio``, ``motion_ratio``: how widely and how fast the mouth read back from the
  video moves against the real one's (std of the opening, frame-to-frame lip movement),
  as the face mesh sees the pixels: the motion model's amplitude after rendering;
* ``sharpness``: variance of the Laplacian of the lips' box, generated over real (median);
* ``colour``: mean absolute difference of the region's mean colour (0-255) from the real one;
* ``colour_shift``: the largest difference over R, G and B between the mean colour of the
  region's frames and that of the photo's region, in grey levels (does the method keep the
  given colours? :func:`~lipmotion_tf.evaluation.clip_measures.colour_shift`, as for the
  paper's model); summarised by the worst clip.

The baseline ``still`` is the photo held still (the same encoding). Writes OUT/report.json,
OUT/report.md and OUT/contact_sheet.png (the real, generated and still region of a few frames
of the first clips). The summary is the mean over clips, the ratios' the median, with 95%
bootstrap intervals over the clips and the generated video's difference from the still one,
clip by clip (:func:`summarise`); where the clips lie in more than one folder, also per
folder (``per_folder``: kept-out sets are usually one folder per source or person).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

METHODS = ("generated", "still")
#: Longer videos are skipped: a clip and its two renderings are held in memory.
MAX_SECONDS = 60.0
MEASURES = ("lmd", "sync", "opening_ratio", "motion_ratio", "psnr", "ssim", "sharpness",
            "colour", "colour_shift")
#: Summarised by the median over clips (a still mouth's ratios are near 0, a few clips whose
#: real mouth barely moves would dominate a mean).
MEDIAN_MEASURES = ("opening_ratio", "motion_ratio")
#: Summarised by the worst clip: a bound that every clip must keep.
WORST_MEASURES = ("colour_shift",)
#: Given bootstrap intervals over the clips in the summary.
INTERVAL_MEASURES = ("lmd", "sync", "opening_ratio", "motion_ratio", "psnr", "ssim")
#: Compared clip by clip, generated minus still.
DIFFERENCE_MEASURES = ("lmd", "sync", "psnr", "ssim")
#: How the report names each measure, and its decimals.
LABELS = {"lmd": ("LMD", 3), "sync": ("sync", 3), "opening_ratio": ("opening ratio", 2),
          "motion_ratio": ("motion ratio", 2), "psnr": ("PSNR", 2), "ssim": ("SSIM", 3)}


def lips_region(mesh: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of the lips' box in a frame (mouth corners, upper and lower lip
    middles of the face ``mesh``, 4 pixels round): where lip sharpness is measured."""
    lips = mesh[[61, 291, 0, 17], :2]
    (x0, y0), (x1, y1) = (np.floor(lips.min(axis=0)).astype(int) - 4,
                          np.ceil(lips.max(axis=0)).astype(int) + 4)
    return slice(y0, y1), slice(x0, x1)


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of an RGB image's grey levels (a sharpness measure)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def find_clips(folders) -> list[Path]:
    """The videos under ``folders`` (or the given video files), sorted."""
    from lipmotion_tf.data.prepare import find_videos
    from lipmotion_tf.errors import InputError

    clips = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            clips.append(folder)
        elif folder.is_dir():
            clips.extend(find_videos(folder))
        else:
            raise InputError(f"no such video or folder: {folder}")
    if not clips:
        raise InputError(f"no videos in {', '.join(str(f) for f in folders)}")
    return sorted(clips)


def measure_clip(pipeline, video: Path, work: Path) -> tuple[dict, dict]:
    """``({method: {measure: value}}, example)`` of one video (see the module docstring);
    ``example`` holds the regions the contact sheet shows."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.evaluation.clip_measures import colour_shift
    from lipmotion_tf.evaluation.dub_measures import dub_source, measure_frames
    from lipmotion_tf.generate.mp4_writer import write_frames
    from lipmotion_tf.metrics.ssim_psnr import psnr, ssim
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.video.reader import read_video, video_info

    fps = pipeline.fps
    info = video_info(video)
    if info.duration > MAX_SECONDS:
        raise InputError(f"{info.duration:.0f} s long; evaluation takes clips of up to "
                         f"{MAX_SECONDS:.0f} s")
    source = dub_source(video, fps)  # read, tracked and measured once for both methods
    real = source.frames
    rate = pipeline.config.audio.sample_rate
    waveform = load_audio(video, rate)
    rig = FaceRig.from_image(real[0])
    motion = pipeline.motion(waveform, rate, rig.rest_motion_input)[: len(real)]
    count = len(motion)
    real = real[:count]
    made = {"generated": list(pipeline.render(rig, motion)), "still": [real[0]] * count}
    x0, y0, side = *rig.origin, rig.crop_size
    lips = lips_region(rig.mesh)

    def region(frames):
        return np.stack([f[y0:y0 + side, x0:x0 + side] for f in frames])

    truth = region(real)
    real_sharpness = np.array([laplacian_variance(f[lips]) for f in real])
    results, example = {}, {"real": truth}
    for method, frames in made.items():
        path = work / f"{method}.mp4"
        write_frames(path, frames, None, rate, fps)
        decoded = read_video(path, fps=fps)
        dub = measure_frames(source, decoded)
        decoded = decoded[:count, :real.shape[1], :real.shape[2]]
        crops = region(decoded)
        sharp = [laplacian_variance(f[lips]) for f in decoded]
        results[method] = {
            "lmd": dub.lmd, "sync": dub.sync, "opening_ratio": dub.opening_ratio,
            "motion_ratio": dub.motion_ratio,
            "psnr": float(psnr(crops, truth)), "ssim": float(ssim(crops, truth)),
            "sharpness": float(np.median(np.asarray(sharp) / np.maximum(real_sharpness, 1e-6))),
            "colour": float(np.abs(crops.reshape(-1, 3).mean(0) - truth.reshape(-1, 3).mean(0))
                            .mean()),
            "colour_shift": colour_shift(crops, truth[0]),  # the first frame is the photo
        }
        example[method] = crops
    return results, example


def contact_sheet(examples, path: Path, frames: int = 6, tile: int = 96) -> None:
    """Rows of real / generated / still regions of each example at ``frames`` moments."""
    import cv2

    rows = []
    for name, example in examples:
        count = len(example["real"])
        picks = np.linspace(0, count - 1, frames + 2)[1:-1].astype(int)
        for method in ("real",) + METHODS:
            tiles = [cv2.resize(example[method][i], (tile, tile), interpolation=cv2.INTER_AREA)
                     for i in picks]
            label = np.full((tile, tile * 2, 3), 255, np.uint8)
            cv2.putText(label, name[-22:], (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1)
            cv2.putText(label, method, (4, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 0, 1)
            rows.append(np.concatenate([label] + tiles, axis=1))
    from lipmotion_tf.output_files import write_atomically

    with write_atomically(path) as temporary:
        cv2.imwrite(str(temporary), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def summarise(clips) -> dict:
    """``{method: {measure: value}}`` over clips' results: the mean, the ratios' median,
    the colour shift's worst clip; ``intervals``: ``{method: {measure: [low, high]}}``, 95%
    bootstrap intervals over the clips of :data:`INTERVAL_MEASURES`; ``difference``:
    ``{measure: {"mean", "interval"}}``, generated minus still, clip by clip (does the
    method beat the photo held still on these clips, or only on some?); ``lmd_vs_still``:
    ``{"ratio", "interval"}``, the mean LMD over the still's."""
    from lipmotion_tf.evaluation.intervals import (
        bootstrap_interval,
        mean_of,
        median_of,
        ratio_of_means,
    )

    clips = list(clips)

    def values(method, measure):
        return np.array([c[method][measure] for c in clips], float)

    def over(method, measure):
        pool = (np.nanmedian if measure in MEDIAN_MEASURES
                else np.nanmax if measure in WORST_MEASURES else np.nanmean)
        return float(pool(values(method, measure)))

    def interval(method, measure):
        pool = median_of if measure in MEDIAN_MEASURES else mean_of
        return bootstrap_interval(pool, values(method, measure))

    summary = {method: {measure: over(method, measure) for measure in MEASURES}
               for method in METHODS}
    summary["intervals"] = {method: {measure: interval(method, measure)
                                     for measure in INTERVAL_MEASURES} for method in METHODS}
    summary["difference"] = {}
    for measure in DIFFERENCE_MEASURES:
        change = values("generated", measure) - values("still", measure)
        summary["difference"][measure] = {"mean": float(np.nanmean(change)),
                                          "interval": bootstrap_interval(mean_of, change)}
    lmd = values("generated", "lmd"), values("still", "lmd")
    summary["lmd_vs_still"] = {"ratio": float(np.nanmean(lmd[0]) / np.nanmean(lmd[1])),
                               "interval": bootstrap_interval(ratio_of_means, *lmd)}
    return summary


def interval_lines(summary: dict) -> str:
    """The bootstrap intervals of a :func:`summarise` summary, in words."""
    from lipmotion_tf.evaluation.intervals import format_interval, format_intervals

    spans = format_intervals(summary["intervals"]["generated"], LABELS)
    change = ", ".join(
        f"{LABELS[measure][0]} {d['mean']:+.{LABELS[measure][1]}f} "
        f"({format_interval(d['interval'], LABELS[measure][1])})"
        for measure, d in summary["difference"].items())
    ratio = summary["lmd_vs_still"]
    return (f"95% intervals over the videos (bootstrap), generated: {spans}; LMD over the "
            f"still's {ratio['ratio']:.2f} ({format_interval(ratio['interval'])}). Generated "
            f"minus still, clip by clip: {change}.")


def table(summary: dict, folders: dict | None = None) -> str:
    """The summary of each method, a Markdown table; with ``folders`` (``{folder: {"clips":
    n, "summary": ...}}``), each folder's rows after them."""
    rows = [("", None, summary)] + [(name, group["clips"], group["summary"])
                                    for name, group in (folders or {}).items()]
    first = "| folder | videos " if folders else ""
    lines = [f"{first}| method | LMD | sync | opening ratio | motion ratio | PSNR | SSIM "
             f"| sharpness | colour | colour shift (worst) |",
             "|---" * (12 if folders else 10) + "|"]
    for folder, count, values in rows:
        for method in METHODS:
            v = values[method]
            start = f"| {folder or 'all'} | {count or ''} " if folders else ""
            lines.append(f"{start}| {method} | {v['lmd']:.3f} | {v['sync']:.3f} | "
                         f"{v['opening_ratio']:.2f} | {v['motion_ratio']:.2f} | "
                         f"{v['psnr']:.2f} | {v['ssim']:.3f} | {v['sharpness']:.2f} | "
                         f"{v['colour']:.2f} | {v['colour_shift']:.2f} |")
    return "\n".join(lines)


def evaluate_motion_videos(videos, out_dir, checkpoint=None, limit: int | None = None,
                           examples: int = 3, name: str = "motion",
                           progress: bool = True, interior: str = "auto") -> dict:
    """Generates every video of ``videos`` (folders or files) from its first frame and
    speech and measures it (see the module docstring). Clips where no face is found are
    listed under ``skipped``, as are clips longer than :data:`MAX_SECONDS`. Returns the
    report (also written to ``out_dir``)."""
    from tqdm import tqdm

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.pipeline import MotionPipeline, motion_checkpoint
    from lipmotion_tf.output_files import ensure_writable_folder, write_atomically

    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    clips = find_clips(videos)[:limit]
    out_dir = ensure_writable_folder(out_dir)
    pipeline = MotionPipeline.from_checkpoint(checkpoint, interior=interior)
    per_clip, skipped, shown = {}, {}, []
    with tempfile.TemporaryDirectory() as work:
        for video in tqdm(clips, desc="evaluating", unit="clip", disable=not progress):
            try:
                results, example = measure_clip(pipeline, video, Path(work))
            except InputError as error:  # no face, no sound, unreadable: said, not fatal
                skipped[str(video)] = str(error)
                continue
            per_clip[str(video)] = results
            if len(shown) < examples:
                shown.append((video.stem, example))
    if not per_clip:
        raise InputError(f"no video could be evaluated: {next(iter(skipped.values()))}")

    summary = summarise(per_clip.values())
    grouped: dict = {}
    for clip, results in per_clip.items():
        grouped.setdefault(Path(clip).parent.name, []).append(results)
    folders = ({folder: {"clips": len(clips), "summary": summarise(clips)}
                for folder, clips in sorted(grouped.items())} if len(grouped) > 1 else {})
    report = {"name": name, "checkpoint": str(checkpoint or motion_checkpoint()),
              "clips": len(per_clip), "summary": summary, "per_folder": folders,
              "per_clip": per_clip, "skipped": skipped}
    with write_atomically(out_dir / "report.json") as temporary:
        temporary.write_text(json.dumps(report, indent=2) + "\n")
    with write_atomically(out_dir / "report.md") as temporary:
        temporary.write_text(f"# {name}: {len(per_clip)} videos generated from their first "
                             f"frame and own speech\n\n{table(summary, folders)}\n\n"
                             f"{interval_lines(summary)}\n")
    if shown:
        contact_sheet(shown, out_dir / "contact_sheet.png")
    return report
