"""The face images that lip crops are pasted into before their landmarks are detected.

A face landmark detector needs a face, not a 64x64 lip crop, so LMD and the mouth-opening
series are measured on crops pasted back into a face
(:func:`~lipmotion_tf.metrics.lmd.lip_landmarks_from_crops`).
The real and the generated crop of a frame are always pasted into the same image at the same
box, so whatever the background adds, it adds to both.

Backgrounds (``kind`` in the report):

* ``first_frame`` (the default mode): the clip's first frame, re-decoded from its source video,
  with every crop pasted at the first frame's box. This is the authors' protocol (one still
  face, ``bg.jpg``, crops pasted at a fixed place) with the clip's own face and lighting.
* ``frames``: every crop pasted into its own re-decoded frame at its stored box. It looks the
  most natural, but the face mesh reads the jaw and cheeks around the crop, which move with
  the real speech. On the 14 test clips of GRID s1 a static crop (the identity repeated)
  pasted into the moving frames gets a mouth-opening correlation of 0.09 with the real lips
  (0.10-0.46 on single clips) instead of none, and an untrained generator 0.26 instead of
  0.07. Use it to compare with numbers measured that way, not to rank methods.
* ``face_photo``: when the source video cannot be found or does not match the prepared clip,
  the bundled face photo (``assets/samples/face.jpg``), every crop pasted at the photo's own
  lip box. Another person's face around the lips: values are comparable between methods
  measured this way but not with the two kinds above.

The video is looked for as ``<folder>/<source>`` and then ``<folder>/<file name of source>`` in
each candidate folder, and is used only if it has the clip's frame count and frame size and its
crops at the stored boxes match the prepared crops (a different file of the same name is refused).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

FIRST_FRAME = "first_frame"
FRAMES = "frames"
FACE_PHOTO = "face_photo"
MODES = (FIRST_FRAME, FRAMES)
# Largest mean absolute difference (gray levels) between a prepared crop and the crop cut
# again from the re-decoded video for the video to count as the clip's source.
MAX_CROP_DIFFERENCE = 6.0


@dataclasses.dataclass
class Background:
    """Where the crops of one clip are pasted.

    Attributes:
        images: ``(T, H, W, 3)`` uint8 frames (one per crop) or one ``(H, W, 3)`` photo.
        boxes: ``(T, 3)`` crop squares ``(centre x, centre y, side)`` in image pixels.
        kind: ``first_frame``, ``frames`` or ``face_photo``.
        note: why the photo was used (empty otherwise).
    """

    images: np.ndarray
    boxes: np.ndarray
    kind: str
    note: str = ""


def bundled_face_photo() -> Path:
    """The face photo shipped with the package (the ``face_photo`` background)."""
    return Path(__file__).resolve().parents[1] / "assets" / "samples" / "face.jpg"


class BackgroundSource:
    """Finds the background of each clip (see the module docstring).

    Args:
        video_dirs: folders that hold the source videos (the folder ``lipmotion prepare``
            was given, or one that holds the files themselves), tried in order.
        fps: model frame rate the clips were prepared at.
        image_size: side of the prepared crops.
        crop_scale: crop side relative to the lips' bounding box (to find the photo's box).
        mode: ``first_frame`` or ``frames`` (see the module docstring).
        photo: face photo of the fallback (default: the bundled one).
    """

    def __init__(self, video_dirs=(), fps: int = 25, image_size: int = 64, crop_scale: float = 1.3,
                 mode: str = FIRST_FRAME, photo: str | Path | None = None):
        if mode not in MODES:
            raise InputError(f"background mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.video_dirs = [Path(d) for d in video_dirs]
        for folder in self.video_dirs:
            if not folder.is_dir():
                raise InputError(f"video folder not found: {folder}")
        self.fps = int(fps)
        self.image_size = int(image_size)
        self.crop_scale = float(crop_scale)
        self.photo_path = Path(photo) if photo is not None else bundled_face_photo()
        self._photo: tuple[np.ndarray, np.ndarray] | None = None

    def find_video(self, source: str) -> Path | None:
        """The first existing ``<folder>/<source>`` or ``<folder>/<file name>``, else None."""
        relative = Path(source)
        for folder in self.video_dirs:
            for candidate in (folder / relative, folder / relative.name):
                if candidate.is_file():
                    return candidate
        return None

    def photo(self) -> tuple[np.ndarray, np.ndarray]:
        """The fallback photo (RGB uint8) and its lip box ``(cx, cy, side)``, found once."""
        if self._photo is None:
            from lipmotion_tf.video.image_io import read_image
            from lipmotion_tf.video.lip_crop import LipCropper

            image = read_image(self.photo_path)
            cropper = LipCropper(image_size=self.image_size, crop_scale=self.crop_scale)
            _, box, _ = cropper.crop_image(image)
            self._photo = (image, np.asarray(box, np.float32))
        return self._photo

    def for_clip(self, clip) -> Background:
        """The background of a :class:`~lipmotion_tf.data.records.PreparedClip`."""
        path = self.find_video(clip.source)
        if path is None:
            where = ", ".join(str(d) for d in self.video_dirs) or "no video folder given"
            return self._photo_background(clip, f"source video {clip.source} not found ({where})")
        try:
            frames = self._decode(path)
        except InputError as error:
            return self._photo_background(clip, str(error))
        problem = self._mismatch(frames, clip)
        if problem:
            return self._photo_background(clip, f"{path}: {problem}")
        boxes = np.asarray(clip.boxes, np.float32)
        if self.mode == FIRST_FRAME:
            return Background(images=frames[0], boxes=np.repeat(boxes[:1], clip.num_frames, axis=0),
                              kind=FIRST_FRAME)
        return Background(images=frames, boxes=boxes, kind=FRAMES)

    def _decode(self, path: Path) -> np.ndarray:
        from lipmotion_tf.video.reader import read_video

        return read_video(path, fps=self.fps)

    def _mismatch(self, frames: np.ndarray, clip) -> str:
        """Why ``frames`` are not the frames ``clip`` was cut from ('' when they are)."""
        from lipmotion_tf.video.lip_crop import crop_box

        if frames.shape[0] != clip.num_frames:
            return f"{frames.shape[0]} frames, the prepared clip has {clip.num_frames}"
        if tuple(frames.shape[1:3]) != tuple(clip.frame_size):
            return f"frame size {frames.shape[1:3]}, the prepared clip has {tuple(clip.frame_size)}"
        size = clip.frames.shape[1]
        for t in sorted({0, clip.num_frames // 2, clip.num_frames - 1}):
            crop = crop_box(frames[t], clip.boxes[t], size)
            difference = float(np.mean(np.abs(crop.astype(np.float32) - clip.frames[t].astype(np.float32))))
            if difference > MAX_CROP_DIFFERENCE:
                return f"frame {t} differs from the prepared crop (mean difference {difference:.1f})"
        return ""

    def _photo_background(self, clip, note: str) -> Background:
        image, box = self.photo()
        boxes = np.repeat(box[None], clip.num_frames, axis=0)
        return Background(images=image, boxes=boxes, kind=FACE_PHOTO, note=note)
