"""Evaluates generators on the whole clips of a prepared split (the paper's Table 3).

For every clip of the split, in record order (shard after shard, clips sorted by id):

1. the identity image is the clip's first real crop (the authors drew a random frame of the
   clip; a fixed one keeps the numbers reproducible, and GRID clips open in silence with a
   closed mouth, so it is a neutral face);
2. each generator makes the whole clip from the clip's speech through
   :class:`~lipmotion_tf.generate.pipeline.LipMotionPipeline` (the path ``lipmotion generate``
   takes), and the static baseline repeats the identity image;
3. real and generated crops are pasted into the same face image (by default the clip's first
   video frame)
   (:class:`~lipmotion_tf.evaluation.background_source.BackgroundSource`) and their lip
   landmarks are detected with mediapipe's face mesh in static-image mode (each frame on its
   own, so nothing depends on the frames before it);
4. LMD, SSIM, PSNR, CPBD and the lip-sync correlation are measured
   (:func:`~lipmotion_tf.evaluation.clip_measures.measure_clip`).

Everything is deterministic: the same checkpoint, data and videos give the same numbers.
Real-side work (background, real landmarks) is done once per clip however many generators
are measured, so ablation variants share it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.errors import DataError, InputError
from lipmotion_tf.evaluation.clip_measures import SYNC_MAX_LAG, colour_shift, measure_clip
from lipmotion_tf.evaluation.report import STATIC_BASELINE, ClipExample, ClipResult, EvaluationReport

DEFAULT_EXAMPLES = 3


def _iter_clips(manifest, split: str, window: int, limit: int | None) -> Iterator:
    """Prepared clips of ``split`` in record order, at least ``window`` frames long."""
    import tensorflow as tf

    from lipmotion_tf.data import records

    wanted = {c.clip_id for c in manifest.clips_in(split)}
    files = [str(p) for p in manifest.shards(split)]
    count = 0
    for serialized in tf.data.TFRecordDataset(files):
        if limit is not None and count >= limit:
            return
        t = {k: v.numpy() for k, v in records.parse_clip(serialized).items()}
        if t["clip_id"].decode() not in wanted or int(t["num_frames"]) < window:
            continue
        count += 1
        yield records.clip_from_parsed(t)


def _check_landmarks(manifest, split: str, window: int, limit: int | None) -> None:
    """Refuses clips without lip landmarks (no face ever found), before any work is done.

    Reads only the landmark features of the clips to evaluate.

    Raises:
        DataError: naming the first such clip.
    """
    import tensorflow as tf

    from lipmotion_tf.data import records

    spec = {k: v for k, v in records.feature_spec().items()
            if k in ("clip_id", "num_frames", "landmarks", "face_found")}
    wanted = {c.clip_id for c in manifest.clips_in(split)}
    count = 0
    for serialized in tf.data.TFRecordDataset([str(p) for p in manifest.shards(split)]):
        if limit is not None and count >= limit:
            return
        parsed = tf.io.parse_single_example(serialized, spec)
        clip_id = parsed["clip_id"].numpy().decode()
        if clip_id not in wanted or int(parsed["num_frames"]) < window:
            continue
        count += 1
        landmarks = parsed["landmarks"].values.numpy()
        found = parsed["face_found"].values.numpy()
        if landmarks.size == 0 or not np.isfinite(landmarks).any() or not found.any():
            raise DataError(
                f"clip {clip_id} of split '{split}' in {manifest.root} has no lip landmarks "
                "(no face was found when it was prepared): prepare the data again"
            )


def _manifest_video_dirs(manifest) -> list[Path]:
    """The source-video folder recorded in the manifest, if it records one and it exists."""
    folders = []
    for name in ("video_dir", "source_dir"):
        value = getattr(manifest, name, None)
        if value:
            path = Path(value)
            path = path if path.is_absolute() else manifest.root / path
            if path.is_dir():
                folders.append(path)
    return folders


def _warn(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"lipmotion evaluate: warning: {message}", file=sys.stderr)


def _generate(pipeline, clip, identity: np.ndarray) -> np.ndarray:
    """The clip generated whole: ``(T, S, S, 3)`` uint8, exactly one frame per real frame.

    The pipeline makes ``round(duration * fps)`` frames; the prepared audio lasts exactly the
    clip's frames, so this is ``T`` (a resampled rate could round one frame off: the last
    frame is then repeated or dropped).
    """
    waveform = clip.audio.astype(np.float32) / 32768.0
    frames = np.stack(list(pipeline.iter_frames(waveform, clip.sample_rate, identity)))
    count = clip.num_frames
    if len(frames) < count:
        frames = np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), axis=0)])
    return frames[:count]


#: Length and level of the quiet audio the still measure uses (-60 dBFS noise: a room with
#: nobody speaking, not digital silence, which speech recordings never contain).
QUIET_SECONDS = 1.0
QUIET_LEVEL = 1e-3


def _generate_quiet(pipeline, clip, identity: np.ndarray) -> np.ndarray:
    """Frames made from one second of quiet noise: the mouth should stay as given."""
    rng = np.random.default_rng(0)
    waveform = (QUIET_LEVEL * rng.standard_normal(int(QUIET_SECONDS * clip.sample_rate)))
    return np.stack(list(pipeline.iter_frames(waveform.astype(np.float32), clip.sample_rate,
                                              identity)))


def _envelope(clip, fps: int) -> np.ndarray:
    """Audio level of every frame: RMS in dB (floored at -100 dB)."""
    audio = clip.audio.astype(np.float64) / 32768.0
    per_frame = len(audio) // clip.num_frames
    blocks = audio[: per_frame * clip.num_frames].reshape(clip.num_frames, max(per_frame, 1))
    rms = np.sqrt(np.mean(blocks * blocks, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-5))


def evaluate_generators(
    pipelines: dict,
    data_dir: str | Path,
    split: str = "test",
    limit: int | None = None,
    video_dirs=(),
    examples: int = DEFAULT_EXAMPLES,
    progress: bool = True,
    info: dict | None = None,
    background: str = "first_frame",
    warn=None,
) -> EvaluationReport:
    """Measures generators and the static baseline on every clip of a split.

    Args:
        pipelines: method name -> :class:`~lipmotion_tf.generate.pipeline.LipMotionPipeline`;
            names become table rows, in this order after the static baseline.
        data_dir: prepared folder (``lipmotion prepare`` output).
        split: ``test``, ``val``, ``train`` or ``all``.
        limit: evaluate only the first ``limit`` clips.
        video_dirs: folders holding the source videos (see
            :class:`~lipmotion_tf.evaluation.background_source.BackgroundSource`); a folder
            recorded in the manifest is tried after them.
        examples: clips kept for the figures (the first ones).
        progress: show a progress bar.
        info: extra settings to record in the report.
        background: ``first_frame`` or ``frames``: where crops are pasted for landmark
            detection (see :mod:`~lipmotion_tf.evaluation.background_source`).
        warn: receives one line when some clips had to be measured on the face photo
            (default: printed to stderr).

    Raises:
        DataError: missing or inconsistent data, data prepared with other audio settings or
            crop size than a generator's configuration, an empty split, a clip without lip
            landmarks.
        InputError: a bad ``limit`` or video folder.
    """
    from tqdm import tqdm

    from lipmotion_tf.data.manifest import load_manifest
    from lipmotion_tf.data.pipeline import check_manifest
    from lipmotion_tf.evaluation.background_source import FACE_PHOTO, BackgroundSource
    from lipmotion_tf.metrics.lip_sync import mouth_opening_series
    from lipmotion_tf.metrics.lmd import lip_landmarks_from_crops
    from lipmotion_tf.metrics.sharpness import cpbd_video
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    if not pipelines:
        raise InputError("no generator to evaluate")
    if STATIC_BASELINE in pipelines:
        raise InputError(f"'{STATIC_BASELINE}' is reserved for the baseline row")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    manifest = load_manifest(data_dir)
    for pipeline in pipelines.values():  # every generator must fit the data
        usable = check_manifest(manifest, split, pipeline.config)
    config = next(iter(pipelines.values())).config
    total = len(usable) if limit is None else min(limit, len(usable))
    _check_landmarks(manifest, split, config.data.window, limit)
    backgrounds = BackgroundSource(
        list(video_dirs) + _manifest_video_dirs(manifest),
        fps=config.audio.fps, image_size=manifest.image_size, crop_scale=manifest.crop_scale,
        mode=background,
    )
    methods = [STATIC_BASELINE] + list(pipelines)
    clips: list[ClipResult] = []
    kept: list[ClipExample] = []
    bar = tqdm(total=total, unit="clip", desc="evaluate", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    detector = FaceMeshDetector(static_image_mode=True)
    try:
        for clip in _iter_clips(manifest, split, config.data.window, limit):
            scene = backgrounds.for_clip(clip)

            def landmarks_of(crops):
                return lip_landmarks_from_crops(crops, scene.images, scene.boxes, detector)

            real = clip.frames
            real_landmarks = landmarks_of(real)
            identity = real[0]
            crops = {STATIC_BASELINE: np.repeat(identity[None], clip.num_frames, axis=0)}
            still = {STATIC_BASELINE: None}
            for name, pipeline in pipelines.items():
                crops[name] = _generate(pipeline, clip, identity)
                still[name] = _generate_quiet(pipeline, clip, identity)
            measures = {
                name: measure_clip(real, crops[name], real_landmarks, landmarks_of(crops[name]),
                                   max_lag=SYNC_MAX_LAG, identity=identity, still=still[name])
                for name in methods
            }
            clips.append(ClipResult(
                clip_id=clip.clip_id,
                num_frames=clip.num_frames,
                background=scene.kind,
                note=scene.note,
                real_cpbd=cpbd_video(real),
                real_landmark_frames=int(np.count_nonzero(np.all(np.isfinite(real_landmarks), axis=(1, 2)))),
                measures=measures,
                real_colour_shift=colour_shift(real, identity),
            ))
            if len(kept) < examples:
                kept.append(ClipExample(
                    clip_id=clip.clip_id,
                    fps=config.audio.fps,
                    real=real,
                    frames={name: crops[name] for name in pipelines},
                    real_openings=mouth_opening_series(real_landmarks),
                    openings={name: measures[name].openings for name in methods},
                    envelope=_envelope(clip, config.audio.fps),
                    speech=clip.speech,
                ))
            bar.update(1)
    finally:
        detector.close()
        bar.close()
    if not clips:
        raise DataError(f"split '{split}' of {manifest.root} holds no clip to evaluate")
    on_photo = [c for c in clips if c.background == FACE_PHOTO]
    if on_photo:
        message = (f"{len(on_photo)} of {len(clips)} clips measured on the bundled face photo "
                   f"({on_photo[0].note}); pass --videos with the folder given to `lipmotion prepare`")
        (warn or _warn)(message)
    record = {
        "data": str(Path(data_dir)),
        "split": split,
        "limit": limit,
        "identity": "first frame of each clip",
        "ease_in_frames": {name: pipeline.ease_in for name, pipeline in pipelines.items()},
        "landmarks": "mediapipe face mesh, 40 lip points, static-image mode",
        "sync_max_lag": SYNC_MAX_LAG,
        "background_mode": background,
        "video_dirs": [str(d) for d in backgrounds.video_dirs],
    }
    record.update(info or {})
    return EvaluationReport(methods=methods, clips=clips, examples=kept, info=record)


def check_generator_matches(generator, config, path) -> None:
    """Refuses a generator whose sizes differ from the configuration saved beside it.

    Weight files are checked when they are loaded; a full ``.keras`` save carries its own
    architecture, so here its sizes are compared with ``config.model``.

    Raises:
        InputError: a size differs.
    """
    from lipmotion_tf.models.factory import generator_arguments

    for key, value in generator_arguments(config.model).items():
        actual = getattr(generator, key, value)
        if actual != value:
            raise InputError(
                f"checkpoint {path}: the generator has {key}={actual} but its config says {value}"
            )


def evaluate_checkpoint(
    data_dir: str | Path,
    out_dir: str | Path,
    checkpoint: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    video_dirs=(),
    name: str | None = None,
    batch_size: int = 8,
    examples: int = DEFAULT_EXAMPLES,
    progress: bool = True,
    background: str = "first_frame",
) -> tuple[EvaluationReport, dict[str, Path]]:
    """Evaluates one generator checkpoint and writes the report (``lipmotion evaluate``).

    Args:
        data_dir: prepared folder.
        out_dir: report folder (created).
        checkpoint: generator checkpoint folder; None for the shipped demonstration model.
        split, limit, video_dirs, examples, progress, background: as
            :func:`evaluate_generators`.
        name: the model's row label (default: ``Model (<checkpoint folder name>)``).
        batch_size: windows per generator call.

    Returns:
        The report and the paths of its files.

    Raises:
        InputError: a checkpoint that is missing or does not match its configuration.
        DataError: see :func:`evaluate_generators`.
    """
    from lipmotion_tf.evaluation.report import write_report
    from lipmotion_tf.generate.checkpoint import demo_checkpoint, load_generator
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"report folder {out_dir} exists and is not a folder")
    path = Path(checkpoint) if checkpoint is not None else demo_checkpoint()
    generator, config = load_generator(path)
    check_generator_matches(generator, config, path)
    label = name or f"Model ({path.name})"
    pipeline = LipMotionPipeline(generator, config, batch_size=batch_size)
    report = evaluate_generators(
        {label: pipeline}, data_dir, split=split, limit=limit, video_dirs=video_dirs,
        examples=examples, progress=progress, info={"checkpoints": {label: str(path)}},
        background=background,
    )
    return report, write_report(report, out_dir)
