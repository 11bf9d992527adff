"""``lipmotion prepare``: videos of people speaking -> sharded TFRecords of lip crops and audio.

For every video found under the input folder: decode at the model frame rate, track the lips
and cut smoothed square crops (:class:`~lipmotion_tf.video.lip_crop.LipCropper`), load the
speech at the model sample rate and pad or trim it to exactly ``T * samples_per_frame``
samples, read per-frame speech flags from a GRID alignment when one exists, and store the
clip as a :class:`~lipmotion_tf.data.records.PreparedClip`.

Layout and guarantees:

* Clip ids are ``<parent folder>/<file stem>``; the speaker is the parent folder's name.
  A clip's split comes from its id's hash (:mod:`lipmotion_tf.data.splits`). Within a split,
  clips are sorted by id and cut into shards of ``shard_size`` clips,
  ``shards/<split>-<NNNNN>.tfrecord``, so the plan depends only on the inputs and settings.
* A shard is written under a temporary name and renamed once complete; then a sidecar
  ``<split>-<NNNNN>.json`` records its inputs, settings, clips and failures. A shard is
  finished when its sidecar matches the current plan and settings, so a rerun after an
  interruption skips finished shards and never sees half a shard. The manifest is removed
  when a run starts and written last.
* Videos that cannot be used (corrupt, no audio track, no face) are listed in
  ``failures.json`` and reported as warnings; the run fails only when no clip succeeds.

Clips are processed in parallel by spawned worker processes (one face mesh each); the main
process collects the serialized clips in shard order and writes each shard when its last clip
arrives, so a progress bar can count clips and memory holds about one shard.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lipmotion_tf.config import AudioConfig, DataConfig
from lipmotion_tf.data import manifest as manifest_lib
from lipmotion_tf.data import records
from lipmotion_tf.errors import DataError, InputError, LipMotionError, NoFaceError
from lipmotion_tf.output_files import ensure_writable_folder, write_atomically

VIDEO_EXTENSIONS = (".mpg", ".mpeg", ".mp4", ".mov", ".avi", ".mkv", ".webm")
SIDECAR_SUFFIX = ".json"
# Bump when the content of prepared clips changes, so old shards are redone.
PREPARE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class PrepareSettings:
    """Everything a prepared clip depends on besides its video.

    Attributes:
        audio: the audio front end (sample rate and frame rate matter here).
        image_size: side of the lip crops.
        crop_scale: crop side relative to the lips' bounding box.
        smoothing: temporal box smoothing (see :class:`~lipmotion_tf.video.lip_crop.LipCropper`).
        smoothing_window: frames in the smoothing window.
        val_fraction: share of clips in the validation split.
        test_fraction: share of clips in the test split.
        min_frames: shortest usable clip (the training window); shorter videos fail.
        max_missing_audio: largest share of the video the audio may leave uncovered (the
            gap is filled with silence; GRID's audio ends about half a frame early).
    """

    audio: AudioConfig
    image_size: int = 64
    crop_scale: float = 1.3
    smoothing: str = "savgol"
    smoothing_window: int = 7
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    min_frames: int = 16
    max_missing_audio: float = 0.1

    @classmethod
    def from_configs(cls, audio: AudioConfig, data: DataConfig) -> "PrepareSettings":
        return cls(
            audio=audio,
            image_size=data.image_size,
            crop_scale=data.crop_scale,
            val_fraction=data.val_fraction,
            test_fraction=data.test_fraction,
            min_frames=data.window,
        )

    def fingerprint(self) -> dict[str, Any]:
        """What a finished shard must have been made with to be reused."""
        content = dataclasses.asdict(self)
        content["version"] = PREPARE_VERSION
        return content


@dataclasses.dataclass(frozen=True)
class ClipSource:
    """A video to prepare: its id and its path relative to the input folder."""

    clip_id: str
    speaker: str
    source: str  # POSIX path relative to the input folder


@dataclasses.dataclass
class ShardPlan:
    """The clips of one shard, in order."""

    split: str
    index: int
    clips: list[ClipSource]

    @property
    def name(self) -> str:
        return f"{self.split}-{self.index:05d}"

    @property
    def record_name(self) -> str:
        return f"{manifest_lib.SHARD_DIR}/{self.name}{records.RECORD_SUFFIX}"


@dataclasses.dataclass
class PrepareResult:
    """What a run produced: the saved manifest, the failures and the shards (re)written."""

    manifest: manifest_lib.Manifest
    failures: list[dict[str, str]]
    shards_written: int
    shards_reused: int


def find_videos(video_dir: str | Path) -> list[Path]:
    """Video files under ``video_dir`` (recursively, links followed), sorted.

    Raises:
        InputError: the folder does not exist or holds no video.
    """
    video_dir = Path(video_dir)
    if not video_dir.is_dir():
        raise InputError(f"video folder not found: {video_dir}")
    # os.walk, unlike Path.rglob before Python 3.13, can follow symlinked folders; a folder
    # reached twice (a link to a parent, two links to one place) is walked once.
    videos, seen = [], set()
    for folder, subfolders, files in os.walk(video_dir, followlinks=True):
        info = os.stat(folder)
        key = info.st_ino, info.st_dev
        if key in seen:
            subfolders[:] = []
            continue
        seen.add(key)
        subfolders.sort()
        videos += [Path(folder) / name for name in files
                   if Path(name).suffix.lower() in VIDEO_EXTENSIONS
                   and (Path(folder) / name).is_file()]
    videos.sort()
    if not videos:
        raise InputError(
            f"no videos ({', '.join(VIDEO_EXTENSIONS)}) found in {video_dir}"
        )
    return videos


def clip_source(video_dir: Path, path: Path) -> ClipSource:
    """The id ``<parent folder>/<stem>`` and relative source of a video."""
    speaker = path.parent.name or "clips"
    return ClipSource(
        clip_id=f"{speaker}/{path.stem}",
        speaker=speaker,
        source=path.relative_to(video_dir).as_posix(),
    )


def plan_shards(
    sources: list[ClipSource], settings: PrepareSettings, shard_size: int
) -> list[ShardPlan]:
    """Cuts each split's clips, sorted by id, into shards of ``shard_size``."""
    from lipmotion_tf.data.splits import assign_split

    by_split: dict[str, list[ClipSource]] = {split: [] for split in manifest_lib.SPLITS}
    for source in sorted(sources, key=lambda s: s.clip_id):
        split = assign_split(source.clip_id, settings.val_fraction, settings.test_fraction)
        by_split[split].append(source)
    plans = []
    for split, clips in by_split.items():
        for index, start in enumerate(range(0, len(clips), shard_size)):
            plans.append(ShardPlan(split, index, clips[start:start + shard_size]))
    return plans


def prepare_clip(
    video_path: Path, source: ClipSource, settings: PrepareSettings, cropper
) -> records.PreparedClip:
    """Prepares one video, its frames streamed: decoded once to track the lips and once more
    to cut the crops, so memory holds the crops, never the frames (a 60 s 720p clip would
    take 4 GB of frames; a 5-minute 1080p talk 45 GB).

    Audio and video are assumed to start together (the streams' start offsets are ignored).

    Args:
        video_path: the video file.
        source: its id and relative path.
        settings: audio and crop settings.
        cropper: a :class:`~lipmotion_tf.video.lip_crop.LipCropper`.

    Raises:
        InputError: unreadable video, no audio track, a clip shorter than
            ``settings.min_frames`` or audio much shorter than the video, malformed alignment.
        NoFaceError: no face in any frame.
    """
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.data.alignment import speech_flags_for_video
    from lipmotion_tf.video.reader import iter_video

    audio_config = settings.audio
    audio = load_audio(video_path, audio_config.sample_rate)  # first: cheap, fails fast
    frame_size: tuple[int, int] = (0, 0)

    def measured(frames):
        nonlocal frame_size
        for frame in frames:
            frame_size = (int(frame.shape[0]), int(frame.shape[1]))
            yield frame

    # The boxes are smoothed over the whole clip (a centred filter), so they are known only
    # once every frame was seen: the frames are decoded a second time to be cut.
    landmarks, face_found = cropper.track_lips(
        measured(iter_video(video_path, fps=audio_config.fps)))
    num_frames = int(face_found.size)
    if num_frames < settings.min_frames:
        raise InputError(
            f"{video_path} has {num_frames} frames at {audio_config.fps} fps, "
            f"fewer than the {settings.min_frames}-frame training window"
        )
    wanted = num_frames * audio_config.samples_per_frame
    if audio.size < wanted * (1.0 - settings.max_missing_audio):
        raise InputError(
            f"{video_path}: the audio lasts {audio.size / audio_config.sample_rate:.2f} s "
            f"but the video {num_frames / audio_config.fps:.2f} s"
        )
    try:
        boxes, landmarks = cropper.smooth_boxes(landmarks, face_found)
    except NoFaceError as error:
        raise NoFaceError(f"{video_path}: {error}") from None
    crops = cropper.crop_frames(iter_video(video_path, fps=audio_config.fps), boxes)
    audio = np.pad(audio[:wanted], (0, max(0, wanted - audio.size)))
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    return records.PreparedClip(
        clip_id=source.clip_id,
        speaker=source.speaker,
        source=source.source,
        frames=crops,
        audio=pcm,
        sample_rate=audio_config.sample_rate,
        boxes=boxes,
        landmarks=landmarks,
        face_found=face_found,
        speech=speech_flags_for_video(video_path, num_frames),
        frame_size=frame_size,
    )


def _process(
    video_dir: str, settings: PrepareSettings, source: ClipSource
) -> tuple[ClipSource, bytes | None, dict[str, Any]]:
    """Prepares one clip (in a worker): ``(source, serialized record or None, info)``.

    A failure the user can act on (LipMotionError) becomes ``info["reason"/"message"]``;
    anything else is a bug and propagates.
    """
    from lipmotion_tf.video.lip_crop import LipCropper

    cropper = LipCropper(
        image_size=settings.image_size,
        crop_scale=settings.crop_scale,
        smoothing=settings.smoothing,
        smoothing_window=settings.smoothing_window,
    )
    try:
        clip = prepare_clip(Path(video_dir) / source.source, source, settings, cropper)
    except LipMotionError as error:
        return source, None, {"reason": type(error).__name__, "message": str(error)}
    info = {"num_frames": clip.num_frames, "faces_found": int(np.count_nonzero(clip.face_found))}
    return source, records.serialize_clip(clip), info


def _sidecar_path(shard_dir: Path, plan: ShardPlan) -> Path:
    return shard_dir / f"{plan.name}{SIDECAR_SUFFIX}"


def _inputs(plan: ShardPlan) -> list[list[str]]:
    return [[c.clip_id, c.source] for c in plan.clips]


def _finished(out_dir: Path, plan: ShardPlan, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """The sidecar of a shard finished with the same inputs and settings, else ``None``."""
    sidecar = _sidecar_path(out_dir / manifest_lib.SHARD_DIR, plan)
    try:
        content = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    if content.get("settings") != fingerprint or content.get("inputs") != _inputs(plan):
        return None
    if content.get("clips") and not (out_dir / plan.record_name).is_file():
        return None
    return content


def _write_json(path: Path, content: Any) -> None:
    """Writes JSON atomically: a temporary file renamed over the target."""
    with write_atomically(path) as temporary:
        temporary.write_text(json.dumps(content, indent=1))


def _write_shard(
    out_dir: Path, plan: ShardPlan, results: list[tuple[ClipSource, bytes | None, dict]],
    fingerprint: dict[str, Any],
) -> dict[str, Any]:
    """Writes a finished shard (records, then sidecar) and returns the sidecar's content."""
    import tensorflow as tf

    shard_dir = out_dir / manifest_lib.SHARD_DIR
    clips, failures = [], []
    for source, payload, info in results:
        if payload is None:
            failures.append({"clip_id": source.clip_id, "source": source.source, **info})
            continue
        clips.append(dataclasses.asdict(manifest_lib.ClipEntry(
            clip_id=source.clip_id, speaker=source.speaker, source=source.source,
            split=plan.split, shard=plan.record_name, **info,
        )))
    record_path = out_dir / plan.record_name
    if clips:
        with write_atomically(record_path) as temporary:
            with tf.io.TFRecordWriter(str(temporary)) as writer:
                for _, payload, _ in results:
                    if payload is not None:
                        writer.write(payload)
    else:
        record_path.unlink(missing_ok=True)
    content = {"settings": fingerprint, "inputs": _inputs(plan), "clips": clips, "failures": failures}
    _write_json(_sidecar_path(shard_dir, plan), content)
    return content


def _clean_shard_dir(shard_dir: Path, plans: list[ShardPlan]) -> None:
    """Removes temporary files and shards that are not part of the current plan."""
    keep = {f"{p.name}{suffix}" for p in plans for suffix in (records.RECORD_SUFFIX, SIDECAR_SUFFIX)}
    for path in shard_dir.iterdir():
        # Temporaries of write_atomically end in the same suffixes.
        ours = path.name.endswith((records.RECORD_SUFFIX, SIDECAR_SUFFIX))
        if path.is_file() and ours and path.name not in keep:
            path.unlink()


def _start_worker(parent_pid: int) -> None:
    """Worker initializer: the libraries' logs hidden as in the main process (before the worker
    loads TensorFlow and mediapipe; ``LIPMOTION_VERBOSE=1`` shows them), and
    :func:`_exit_with_parent`."""
    from lipmotion_tf.library_logs import quiet_library_logs

    quiet_library_logs()
    _exit_with_parent(parent_pid)


def _exit_with_parent(parent_pid: int) -> None:
    """Ends this worker when the main process is gone (killed hard).

    Workers of a killed process would otherwise wait on their task queue forever.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _results(
    pending: list[ClipSource], video_dir: Path, settings: PrepareSettings, workers: int
) -> Iterator[tuple[ClipSource, bytes | None, dict]]:
    """Processes clips and yields their results in order, in this process or in workers.

    With workers, at most a few clips per worker are in flight, so finished but not yet
    written clips never pile up in memory.
    """
    task = functools.partial(_process, str(video_dir), settings)
    if workers <= 1 or len(pending) <= 1:
        yield from map(task, pending)
        return
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # spawn: mediapipe and TensorFlow are not fork-safe once imported. A pool of futures
    # (unlike multiprocessing.Pool) reports a worker that dies instead of waiting forever.
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        max_workers=min(workers, len(pending)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    in_flight: collections.deque = collections.deque()
    queue = iter(pending)
    try:
        for source in queue:
            in_flight.append((source, executor.submit(task, source)))
            if len(in_flight) >= 4 * workers:
                break
        while in_flight:
            source, future = in_flight.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                raise DataError(
                    "a worker process stopped unexpectedly (out of memory, or a crash in a "
                    f"decoder) while preparing {video_dir / source.source} or a clip after it; "
                    "finished shards are kept: rerun to resume, or use --workers 1"
                ) from None
            next_source = next(queue, None)
            if next_source is not None:
                in_flight.append((next_source, executor.submit(task, next_source)))
            yield result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _warn(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"lipmotion prepare: warning: {message}", file=sys.stderr)


def prepare(
    video_dir: str | Path,
    out_dir: str | Path,
    settings: PrepareSettings,
    workers: int | None = None,
    limit: int | None = None,
    shard_size: int = 64,
    overwrite: bool = False,
    progress: bool = True,
    warn: Callable[[str], None] = _warn,
) -> PrepareResult:
    """Prepares every video under ``video_dir`` into ``out_dir`` (see the module docstring).

    Args:
        video_dir: folder searched recursively for videos.
        out_dir: prepared-data folder (created; finished shards in it are reused).
        settings: audio, crop and split settings.
        workers: worker processes (default: the CPU count; 1 runs in this process).
        limit: prepare only the first ``limit`` videos (sorted by path).
        shard_size: clips per shard.
        overwrite: remove earlier prepared data in ``out_dir`` instead of resuming.
        progress: show a progress bar.
        warn: receives one line per video that could not be prepared.

    Returns:
        A :class:`PrepareResult`; its manifest is saved in ``out_dir``.

    Raises:
        InputError: ``video_dir`` is missing or holds no video.
        DataError: no video could be prepared (failures are in ``out_dir/failures.json``).
    """
    from tqdm import tqdm

    settings.audio.validate()
    if shard_size < 1:
        raise InputError(f"--shard-size must be at least 1, got {shard_size}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    video_dir, out_dir = Path(video_dir), Path(out_dir)
    videos = find_videos(video_dir)[:limit]

    sources, failures = [], []
    seen: dict[str, str] = {}
    for path in videos:
        source = clip_source(video_dir, path)
        if source.clip_id in seen:
            failures.append({
                "clip_id": source.clip_id, "source": source.source, "reason": "DuplicateClipId",
                "message": f"{source.source} has the same clip id as {seen[source.clip_id]}; skipped",
            })
            warn(failures[-1]["message"])
            continue
        seen[source.clip_id] = source.source
        sources.append(source)
    plans = plan_shards(sources, settings, shard_size)

    shard_dir = out_dir / manifest_lib.SHARD_DIR
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output path is not a folder: {out_dir}")
    if overwrite and shard_dir.is_dir():
        _clean_shard_dir(shard_dir, [])
    ensure_writable_folder(shard_dir, "prepared-data folder")
    (out_dir / manifest_lib.MANIFEST_NAME).unlink(missing_ok=True)
    _clean_shard_dir(shard_dir, plans)

    fingerprint = settings.fingerprint()
    done = {plan.name: _finished(out_dir, plan, fingerprint) for plan in plans}
    todo = [plan for plan in plans if done[plan.name] is None]
    pending = [source for plan in todo for source in plan.clips]
    total = sum(len(plan.clips) for plan in plans)

    bar = tqdm(
        total=total, initial=total - len(pending), unit="clip", desc="prepare",
        disable=not progress, file=sys.stderr, dynamic_ncols=True,
    )
    results = _results(pending, video_dir, settings, workers or os.cpu_count() or 1)
    try:
        for plan in todo:
            shard_results = []
            for _ in plan.clips:
                result = next(results)
                if result[1] is None:
                    warn(result[2]["message"])
                shard_results.append(result)
                bar.update(1)
            done[plan.name] = _write_shard(out_dir, plan, shard_results, fingerprint)
    finally:
        results.close()  # stops the workers, also on an interruption
        bar.close()

    clips, failures = [], failures + [f for plan in plans for f in done[plan.name]["failures"]]
    for plan in plans:
        clips.extend(manifest_lib.ClipEntry(**entry) for entry in done[plan.name]["clips"])
    clips.sort(key=lambda c: c.clip_id)
    failures.sort(key=lambda f: (f["clip_id"], f["source"]))
    _write_json(out_dir / manifest_lib.FAILURES_NAME, failures)
    if not clips:
        raise DataError(
            f"none of the {len(videos)} videos could be prepared "
            f"(reasons in {out_dir / manifest_lib.FAILURES_NAME})"
        )
    manifest = manifest_lib.Manifest(
        root=out_dir,
        audio=dataclasses.asdict(settings.audio),
        image_size=settings.image_size,
        crop_scale=settings.crop_scale,
        clips=clips,
    )
    manifest.save()
    return PrepareResult(
        manifest=manifest,
        failures=failures,
        shards_written=len(todo),
        shards_reused=len(plans) - len(todo),
    )
