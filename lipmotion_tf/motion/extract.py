"""Motion training data: per-clip face-mesh trajectories and log-mel, one ``.npz`` per clip.

The pixel records of ``lipmotion prepare`` keep 64-pixel lip crops and 2-D lip points only;
the motion model needs the jaw, mediapipe's depth (for pose removal) and the stable points.
``lipmotion prepare-motion VIDEO_DIR OUT_DIR`` reads every video under ``VIDEO_DIR`` once
(frames streamed, face mesh in video mode) and writes ``OUT_DIR/<folder>/<stem>.npz`` with:

============  ===================  ===================================================
key           shape, dtype         content
============  ===================  ===================================================
mesh          (T, K, 3) float32    :data:`~.representation.STORED_INDICES` points,
                                   ``x, y`` pixels and depth at 25 fps
found         (T,) bool            the face was found (other frames hold the nearest
                                   found frame's points)
log_mel       (4T, M) float16      the speech's log-mel (the project's front end)
frame_size    (2,) int64           source ``height, width``
============  ===================  ===================================================

Files are written under a temporary name and renamed, so a rerun resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from lipmotion_tf.config import AudioConfig
from lipmotion_tf.errors import InputError, NoFaceError
from lipmotion_tf.motion.representation import STORED_INDICES

#: A clip needs a face in at least this share of its frames.
MIN_FOUND_FRACTION = 0.5


@dataclasses.dataclass
class MotionClip:
    """One clip's motion data in memory (see the module docstring for the arrays)."""

    clip_id: str
    mesh: np.ndarray
    found: np.ndarray
    log_mel: np.ndarray
    frame_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return int(self.mesh.shape[0])


def fill_missing(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Copies the nearest found frame's points into frames without a face."""
    if found.all():
        return points
    found_at = np.flatnonzero(found)
    nearest = found_at[np.abs(np.arange(len(found))[:, None] - found_at[None]).argmin(axis=1)]
    return points[nearest]


def track_mesh(frames, detector, indices=STORED_INDICES):
    """Face mesh (with depth) of every frame: ``(T, K, 3)`` points (``indices`` of the mesh;
    None: all 468), the found flags (zeros where no face), and the frame size."""
    count = 468 if indices is None else len(indices)
    points, found, size = [], [], (0, 0)
    for frame in frames:
        size = frame.shape[:2]
        mesh = detector.detect(frame, depth=True)
        found.append(mesh is not None)
        if mesh is None:
            points.append(np.zeros((count, 3), np.float32))
        else:
            points.append(mesh[:468] if indices is None else mesh[list(indices)])
    return np.stack(points), np.asarray(found, bool), (int(size[0]), int(size[1]))


def track_video(path: Path, detector, fps: int):
    """:func:`track_mesh` of a video's frames, the gaps filled from the nearest face.

    Raises:
        InputError: the video cannot be read.
        NoFaceError: a face was found in fewer than half of the frames.
    """
    from lipmotion_tf.video.reader import iter_video

    mesh, found, size = track_mesh(iter_video(path, fps=fps), detector)
    if found.mean() < MIN_FOUND_FRACTION:
        raise NoFaceError(f"{path}: a face in only {int(found.sum())} of {len(found)} frames")
    return fill_missing(mesh, found), found, size


def speech_log_mel(path: Path, num_frames: int, audio: AudioConfig) -> np.ndarray:
    """The log-mel of a video's speech, ``mel_frames_per_frame`` rows per video frame."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.audio.log_mel_numpy import log_mel_of_frames

    return log_mel_of_frames(load_audio(path, audio.sample_rate), num_frames, audio)


def extract_clip(path: Path, clip_id: str, detector, audio: AudioConfig) -> MotionClip:
    """Reads one video's motion data.

    Raises:
        InputError: the video or its sound cannot be read.
        NoFaceError: a face was found in fewer than half of the frames.
    """
    mesh, found, size = track_video(path, detector, audio.fps)
    log_mel = speech_log_mel(path, len(found), audio)
    return MotionClip(clip_id, mesh, found, log_mel.astype(np.float16), size)


def save_clip(clip: MotionClip, path: Path) -> None:
    """Writes a clip atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, mesh=clip.mesh.astype(np.float32), found=clip.found,
             log_mel=clip.log_mel, frame_size=np.asarray(clip.frame_size, np.int64))
    os.replace(partial, path)


def load_clip(path: Path, clip_id: str | None = None) -> MotionClip:
    """Reads a clip written by :func:`save_clip`."""
    with np.load(path) as data:
        mesh = data["mesh"]
        if mesh.shape[1] != len(STORED_INDICES):
            raise InputError(
                f"{path}: {mesh.shape[1]} landmarks, this version stores {len(STORED_INDICES)}"
                " (prepare the motion data again)")
        return MotionClip(clip_id or path.stem, mesh, data["found"], data["log_mel"],
                          tuple(int(v) for v in data["frame_size"]))


def clip_files(motion_dir: str | Path) -> list[Path]:
    """The clip files under a motion-data folder, sorted.

    Raises:
        InputError: the folder is missing or holds no clip.
    """
    motion_dir = Path(motion_dir)
    if not motion_dir.is_dir():
        raise InputError(f"motion data folder not found: {motion_dir}")
    files = sorted(p for p in motion_dir.rglob("*.npz") if not p.name.endswith(".partial.npz"))
    if not files:
        raise InputError(f"no motion clips (.npz) in {motion_dir}: run `lipmotion prepare-motion`")
    return files


def _worker_clip(task: tuple[str, str, str, dict]) -> tuple[str, str | None]:
    """Extracts one clip (in a worker process); returns (clip id, error or None)."""
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    source, target, clip_id, audio_fields = task
    # A fresh mesh per clip: video mode tracks across calls, and a new clip starts afresh.
    try:
        with FaceMeshDetector(static_image_mode=False) as detector:
            clip = extract_clip(Path(source), clip_id, detector, AudioConfig(**audio_fields))
    except InputError as error:
        return clip_id, str(error)
    save_clip(clip, Path(target))
    return clip_id, None


def prepare_motion(video_dir: str | Path, out_dir: str | Path, audio: AudioConfig,
                   workers: int = 1, progress: bool = True) -> dict:
    """Extracts the motion data of every video under ``video_dir`` into ``out_dir``.

    Clips already written are kept (resume). Returns a summary with the clips written, kept
    and failed (with reasons, also written to ``out_dir/failures.json``).
    """
    from concurrent.futures import ProcessPoolExecutor
    from contextlib import nullcontext

    from tqdm import tqdm

    from lipmotion_tf.data.prepare import find_videos

    video_dir, out_dir = Path(video_dir), Path(out_dir)
    tasks, kept = [], 0
    for video in find_videos(video_dir):
        relative = video.relative_to(video_dir).with_suffix(".npz")
        target = out_dir / relative
        if target.is_file():
            kept += 1
            continue
        clip_id = relative.with_suffix("").as_posix()
        tasks.append((str(video), str(target), clip_id, dataclasses.asdict(audio)))
    failures = {}
    with (ProcessPoolExecutor(max_workers=workers) if workers > 1 else nullcontext()) as pool, \
            tqdm(total=len(tasks), desc="motion data", unit="clip", disable=not progress) as bar:
        results = (pool.map(_worker_clip, tasks, chunksize=4) if pool is not None
                   else map(_worker_clip, tasks))
        for clip_id, error in results:
            if error:
                failures[clip_id] = error
            bar.update()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "failures.json").write_text(json.dumps(failures, indent=2) + "\n")
    return {"written": len(tasks) - len(failures), "kept": kept, "failed": failures}
