"""Windows for the joint stage (speech -> motion -> pixels), by self-reenactment.

From each clip of the motion data and its video: the identity is the clip's most closed frame,
rigged as a photo is (:class:`~lipmotion_tf.motion.face_rig.FaceRig`) after scaling the frame
so that its crop is ``crop_size`` pixels; the window is the ``window`` frames in which the
mouth moves most. Each real frame is brought into the identity's crop by the similarity that
maps its stable face points (forehead, nose, eyes, temples) onto the identity's, so the head's
motion is taken out as the rendered frames have none; the real and the rendered frames' mouth
boxes are resampled the same way (:func:`~lipmotion_tf.motion.joint_generator.mouth_region`).

``lipmotion prepare-joint MOTION_DIR VIDEO_DIR OUT_DIR`` writes ``OUT_DIR/train.npz`` and
``OUT_DIR/val.npz`` (the motion data's splits; its test clips are left for evaluation), or
with ``--all`` every clip in ``OUT_DIR/all.npz`` (kept-out people, to measure on):

=================  ==========================  =========================================
key                shape                       content
=================  ==========================  =========================================
audio              (N, 4T, M) float16          the window's log-mel (dB)
video              (N, T, S, S, 3) uint8       the real mouth boxes
identity           (N, S, S, 3) uint8          the identity's mouth box
crop               (N, C, C, 3) uint8          the identity crop the renderer moves
controls ...       (N, ...)                    the rig tensors of :data:`RIG_ARRAYS`
clip               (N,) str                    the clip id
=================  ==========================  =========================================

:class:`JointWindows` serves them to ``keras fit`` as the paper model's batches are served,
with the thin-plate basis of each rig computed as it is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np

from lipmotion_tf.errors import DataError, InputError
from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.face_rig import GRID_SIZE

#: Rig tensors stored per window (the crop and the basis apart).
RIG_ARRAYS = ("controls", "rest", "mouth_scale", "mouth_rotation", "mouth_translation",
              "origin", "colours", "mouth_box")
#: The splits written, with the clips' split names.
SPLITS = ("train", "val")


def similarity_2d(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The ``2 x 3`` scale-rotation-translation taking ``(K, 2)`` ``source`` points closest
    to ``target`` (least squares)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    # As complex numbers, the best similarity is one complex factor a + ib.
    norm = max(float((s ** 2).sum()), 1e-12)
    a = float((s * t).sum()) / norm
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / norm
    linear = np.array([[a, -b], [b, a]])
    return np.hstack([linear, (mu_t - linear @ mu_s)[:, None]])


def busiest_window(opening: np.ndarray, found: np.ndarray, window: int) -> int | None:
    """The start of the ``window`` frames, all with a face, over which the lip opening varies
    most; None if there are none."""
    starts = [s for s in range(len(opening) - window + 1) if found[s:s + window].all()]
    if not starts:
        return None
    return max(starts, key=lambda s: float(np.std(opening[s:s + window])))


def clip_window(clip_path: Path, video: Path, detector, window: int, crop_size: int,
                image_size: int, fps: int = 25) -> dict:
    """One window of a clip (see the module docstring).

    Raises:
        InputError: no window with a face in every frame, no face in the identity frame,
            or a face too small.
    """
    import cv2

    from lipmotion_tf.motion.extract import load_clip
    from lipmotion_tf.motion.face_rig import FaceRig, crop_to_uint8
    from lipmotion_tf.motion.interior_data import lip_points, openings, read_frames
    from lipmotion_tf.motion.joint_generator import mouth_region
    from lipmotion_tf.motion.rig_tensors import rig_tensors

    clip = load_clip(clip_path)
    opening, _ = openings(lip_points(clip.mesh))
    start = busiest_window(opening, clip.found, window)
    if start is None:
        raise InputError(f"no {window} frames in a row with a face")
    found = np.flatnonzero(clip.found)
    closed = int(found[np.argmin(opening[found])])
    wanted = set(range(start, start + window)) | {closed}
    frames = read_frames(video, wanted, fps)
    if not wanted <= frames.keys():
        raise InputError("the video is shorter than its motion data")
    mesh = detector.detect(frames[closed], depth=True)
    if mesh is None:
        raise InputError("no face in the identity frame")
    natural = FaceRig.from_image(frames[closed], mesh=mesh)
    scale = crop_size / natural.crop_size
    image = cv2.resize(frames[closed], None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    rig = FaceRig.from_image(image, mesh=np.asarray(mesh, np.float32) * scale, side=crop_size)
    if rig.crop_size != crop_size:
        raise InputError(f"the frame is smaller than a {crop_size}-pixel crop")
    anchor = rig.mesh[list(rep.STABLE_INDICES), :2] - np.asarray(rig.origin, np.float32)
    stable = rep.select(clip.mesh, rep.STABLE_INDICES, rep.STORED_INDICES)[..., :2]
    real = np.stack([
        cv2.warpAffine(frames[t], similarity_2d(stable[t], anchor), (crop_size, crop_size),
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for t in range(start, start + window)]).astype(np.float32) / 255.0
    crop = rig.crop()
    tensors = rig_tensors(rig)
    return {
        "audio": clip.log_mel[4 * start:4 * (start + window)].astype(np.float16),
        "video": crop_to_uint8(mouth_region(real, rig.mouth_box, image_size).numpy()),
        "identity": crop_to_uint8(mouth_region(crop[None], rig.mouth_box, image_size)[0].numpy()),
        "crop": crop_to_uint8(crop),
        **{key: np.asarray(tensors[key]) for key in RIG_ARRAYS},
    }


def prepare_joint(motion_dir: str | Path, video_dir: str | Path, output_dir: str | Path,
                  window: int = 16, crop_size: int = 128, image_size: int = 64,
                  val_fraction: float = 0.05, test_fraction: float = 0.05,
                  progress: bool = True, split: bool = True) -> dict:
    """Writes ``train.npz`` and ``val.npz`` of every clip under ``motion_dir`` (videos
    under ``video_dir`` at the same relative paths) into ``output_dir``, each under a
    temporary name first; with ``split`` False, every clip into ``all.npz`` (people kept
    out of training, to measure on).

    Returns a summary: windows per split, clips skipped with reasons.

    Raises:
        InputError: no clips, or no window could be made.
    """
    from tqdm import tqdm

    from lipmotion_tf.data.splits import assign_split
    from lipmotion_tf.motion.extract import clip_files
    from lipmotion_tf.motion.interior_data import find_video
    from lipmotion_tf.video.face_mesh import FaceMeshDetector

    motion_dir, video_dir, output_dir = Path(motion_dir), Path(video_dir), Path(output_dir)
    windows = {name: [] for name in (SPLITS if split else ("all",))}
    skipped = {}
    files = clip_files(motion_dir)
    with FaceMeshDetector(static_image_mode=True) as detector:
        for path in tqdm(files, desc="joint windows", unit="clip", disable=not progress):
            relative = path.relative_to(motion_dir).with_suffix("")
            clip_id = relative.as_posix()
            # The motion data's split (the pixel data's clip id), so test clips stay unseen.
            name = (assign_split(f"{relative.parent.name}/{relative.name}", val_fraction,
                                 test_fraction) if split else "all")
            if name not in windows:
                continue
            video = find_video(video_dir, clip_id)
            if video is None:
                skipped[clip_id] = "no video"
                continue
            try:
                example = clip_window(path, video, detector, window, crop_size, image_size)
            except InputError as error:
                skipped[clip_id] = str(error)
                continue
            windows[name].append({**example, "clip": clip_id})
    if not windows["train" if split else "all"]:
        raise InputError(f"no joint windows could be made from {motion_dir}")
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, examples in windows.items():
        if not examples:
            continue
        path = output_dir / f"{name}.npz"
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(partial, **{key: np.stack([e[key] for e in examples]) for key in examples[0]})
        os.replace(partial, path)
    return {"windows": {name: len(e) for name, e in windows.items()}, "skipped": skipped}


class JointWindows(keras.utils.PyDataset):
    """Batches of a joint ``.npz`` as :class:`~lipmotion_tf.motion.joint_generator.
    JointGenerator` and :class:`~lipmotion_tf.train.gan.LipMotionGAN` read them: ``audio``
    float32, ``video`` and ``identity`` in [-1, 1], ``crop`` in [0, 1], ``basis`` per rig.
    Full batches only, reshuffled every epoch when ``training``."""

    def __init__(self, path: str | Path, batch_size: int, seed: int, training: bool,
                 grid_size: int = GRID_SIZE, window: int | None = None,
                 image_size: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        path = Path(path)
        if not path.is_file():
            raise DataError(f"joint windows not found: {path} (run `lipmotion prepare-joint`)")
        with np.load(path) as data:
            self.arrays = {key: data[key] for key in data.files if key != "clip"}
        video = self.arrays["video"]
        if window is not None and video.shape[1] != window:
            raise DataError(f"{path} holds windows of {video.shape[1]} frames; the "
                            f"configuration asks for {window} (data.window)")
        if image_size is not None and video.shape[2] != image_size:
            raise DataError(f"{path} holds {video.shape[2]}-pixel mouths; the configuration "
                            f"asks for {image_size} (data.image_size)")
        self.batch_size = int(batch_size)
        if len(video) < self.batch_size:
            raise DataError(f"{path} holds {len(video)} windows, fewer than one batch of "
                            f"{self.batch_size}")
        self.seed, self.training, self.grid_size = int(seed), bool(training), int(grid_size)
        self.epoch = 0

    @property
    def num_windows(self) -> int:
        return len(self.arrays["video"])

    def __len__(self) -> int:
        return self.num_windows // self.batch_size

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def _order(self) -> np.ndarray:
        if not self.training:
            return np.arange(self.num_windows)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.num_windows)

    def basis(self, index: int) -> np.ndarray:
        """The thin-plate basis of window ``index``'s rig, as :class:`FaceRig` makes it
        (computed as read: 1.7 MB a window, about 25 ms)."""
        from lipmotion_tf.motion.face_rig import grid_basis

        return grid_basis(self.arrays["controls"][index], self.arrays["crop"].shape[1],
                          self.grid_size)

    def __getitem__(self, index: int) -> dict:
        chosen = np.sort(self._order()[index * self.batch_size:(index + 1) * self.batch_size])
        a = self.arrays
        unit = np.float32(1.0 / 255.0)
        batch = {
            "audio": a["audio"][chosen].astype(np.float32),
            "video": a["video"][chosen].astype(np.float32) * (2 * unit) - 1.0,
            "identity": a["identity"][chosen].astype(np.float32) * (2 * unit) - 1.0,
            "crop": a["crop"][chosen].astype(np.float32) * unit,
            "basis": np.stack([self.basis(int(i)) for i in chosen]),
        }
        batch.update({key: a[key][chosen] for key in RIG_ARRAYS})
        return batch
