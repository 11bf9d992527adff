"""Training examples for the learned mouth interior, by single-frame self-reenactment.

From each clip of the motion data (its tracked lip points) and its video, a few frames are
taken, more often the open ones. For each, the renderer's drawn interior (cavity colour and
teeth band, :meth:`MotionRenderer.draw <lipmotion_tf.motion.renderer.MotionRenderer.draw>`)
is painted over the frame's own inner-lip polygon: that is the input, and the frame as the
camera saw it is the target. The warp is the identity (the frame's own landmarks), so the
example is exactly what the renderer hands the interior network at run time, minus the
stretch of the identity's lips. The colours come from the clip's most closed frame, as they
come from a closed-mouth photo in use. The mouth box (:func:`~.face_rig.lips_box`) is
jittered in size and place so that the network does not rely on where the mouth sits in it.

``lipmotion prepare-interior MOTION_DIR VIDEO_DIR OUT.npz`` writes (uint8 unless said):

==========  ======================  ================================================
key         shape                   content
==========  ======================  ================================================
region      (N, size, size, 3)      the drawn frame's mouth box (the input)
mask        (N, size, size, 1)      the inner-lip polygon's soft mask, 0-255
target      (N, size, size, 3)      the real frame's mouth box
opening     (N,) float32            lip gap over mouth width
clip        (N,) str                the clip id
==========  ======================  ================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.motion import representation as rep

#: Mouths narrower than this (pixels) are skipped: too few pixels to learn an interior from.
MIN_MOUTH_WIDTH = 24


def lip_points(mesh: np.ndarray) -> np.ndarray:
    """The 59 motion points ``(T, 59, 2)`` in pixels from stored motion-data points."""
    stored = {index: i for i, index in enumerate(rep.STORED_INDICES)}
    return mesh[:, [stored[i] for i in rep.MOTION_INDICES], :2]


def openings(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lip gap over mouth width per frame, and the mouth width in pixels."""
    gap = np.linalg.norm(points[:, rep.UPPER_INNER] - points[:, rep.LOWER_INNER], axis=-1)
    width = np.linalg.norm(points[:, rep.LEFT_CORNER] - points[:, rep.RIGHT_CORNER], axis=-1)
    return gap / np.maximum(width, 1e-6), width


def choose_frames(opening: np.ndarray, found: np.ndarray, count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct found frames, drawn in proportion to how open the mouth is (a
    closed mouth has little interior to learn from), sorted."""
    candidates = np.flatnonzero(found)
    if len(candidates) == 0:
        return candidates
    weight = np.clip(opening[candidates], 0.0, None) + 0.02
    count = min(count, len(candidates))
    return np.sort(rng.choice(candidates, count, replace=False, p=weight / weight.sum()))


def square_around(points: np.ndarray, width: float, frame_shape,
                  widths: float = 2.4) -> tuple[int, int, int]:
    """``(x0, y0, side)`` of a square of ``widths`` mouth widths around the mouth (the 40 lip
    points first in ``points``), inside the frame."""
    height, frame_width = frame_shape[:2]
    side = int(min(np.ceil(widths * width), height, frame_width))
    centre = points[:40].mean(axis=0)
    x0 = int(np.clip(round(centre[0] - side / 2), 0, frame_width - side))
    y0 = int(np.clip(round(centre[1] - side / 2), 0, height - side))
    return x0, y0, side


def jitter_box(box, side: int, rng: np.random.Generator, amount: float = 0.12):
    """The box scaled by up to ``1 +- amount`` and moved by up to ``amount / 2`` of its size,
    inside a ``side``-pixel crop."""
    top, left, height, width = box
    scale = 1.0 + rng.uniform(-amount, amount, size=2)
    new_h, new_w = (int(np.clip(round(v * s), 8, side)) for v, s in zip((height, width), scale))
    shift = rng.uniform(-amount / 2, amount / 2, size=2) * (height, width)
    cy, cx = top + height / 2 + shift[0], left + width / 2 + shift[1]
    new_top = int(np.clip(round(cy - new_h / 2), 0, side - new_h))
    new_left = int(np.clip(round(cx - new_w / 2), 0, side - new_w))
    return new_top, new_left, new_h, new_w


def example_function(size: int = 128):
    """``(crop, inner_lip, teeth, colours, mouth_box) -> (region, mask, target)`` at
    ``size``, as one ``tf.function`` for crops of any size (the renderer's own drawing and
    resampling)."""
    import tensorflow as tf

    from lipmotion_tf.motion.graph_functions import render_specs
    from lipmotion_tf.motion.renderer import MotionRenderer

    renderer = MotionRenderer(own_interior=False)  # the frame's own inside is the target
    specs = render_specs(renderer.grid_size, batch=1)

    @tf.function(input_signature=[specs[name] for name in
                                  ("crop", "inner_lip", "teeth", "colours", "mouth_box")])
    def example(crop, inner_lip, teeth, colours, mouth_box):
        inputs = {"inner_lip": inner_lip, "teeth": teeth, "colours": colours,
                  "mouth_box": mouth_box}
        box = tuple(mouth_box[i] for i in range(4))
        painted, mouth = renderer.draw(crop, inputs)
        drawn = renderer.interior_inputs(painted, mouth, box, size)
        real = renderer.interior_inputs(crop, mouth, box, size)["region"]
        return drawn["region"], drawn["mask"], real

    return example


def frame_example(frame: np.ndarray, points: np.ndarray, colours: np.ndarray,
                  rng: np.random.Generator, function) -> dict:
    """One example (see the module docstring) from a frame and its 59 motion points;
    ``function`` is :func:`example_function`'s."""
    from lipmotion_tf.motion.face_rig import crop_to_uint8, interior_targets, lips_box

    width = float(np.linalg.norm(points[rep.LEFT_CORNER] - points[rep.RIGHT_CORNER]))
    x0, y0, side = square_around(points, width, frame.shape)
    local = points - np.array([x0, y0], np.float32)
    box = jitter_box(lips_box(local[:40], width, side), side, rng)
    crop = frame[y0:y0 + side, x0:x0 + side].astype(np.float32)[None] / 255.0
    targets = interior_targets(local[None], colours)
    region, mask, real = function(crop, targets["inner_lip"], targets["teeth"],
                                  targets["colours"], np.asarray(box, np.int32))
    return {name: crop_to_uint8(np.asarray(value)[0])
            for name, value in (("region", region), ("mask", mask), ("target", real))}


def clip_examples(clip_path: Path, video: Path, count: int, rng: np.random.Generator,
                  function, fps: int = 25) -> list[dict]:
    """Examples from one clip (none if its mouth is too small or never found);
    ``function`` is :func:`example_function`'s."""
    from lipmotion_tf.motion.extract import load_clip
    from lipmotion_tf.motion.face_rig import interior_colours

    clip = load_clip(clip_path)
    points = lip_points(clip.mesh)
    opening, width = openings(points)
    found = clip.found & (width >= MIN_MOUTH_WIDTH)
    chosen = choose_frames(opening, found, count, rng)
    if len(chosen) == 0:
        return []
    closed = int(np.flatnonzero(found)[np.argmin(opening[found])])
    frames = read_frames(video, set(chosen.tolist()) | {closed}, fps)
    if closed not in frames:
        return []
    x0, y0, side = square_around(points[closed], width[closed], frames[closed].shape)
    colours = interior_colours(frames[closed][y0:y0 + side, x0:x0 + side],
                               points[closed, :40] - np.array([x0, y0], np.float32))
    examples = []
    for index in chosen:
        if index in frames:
            example = frame_example(frames[index], points[index], colours, rng, function)
            example["opening"] = np.float32(opening[index])
            examples.append(example)
    return examples


def read_frames(video: Path, wanted: set, fps: int = 25) -> dict:
    """``{index: frame}`` of the ``wanted`` frame indices that ``video`` has, read once up to
    the last of them."""
    from lipmotion_tf.video.reader import iter_video

    frames = {}
    for index, frame in enumerate(iter_video(video, fps=fps)):
        if index in wanted:
            frames[index] = frame
        if index >= max(wanted):
            break
    return frames


def find_video(video_dir: Path, clip_id: str) -> Path | None:
    """The video under ``video_dir`` that a clip id names (any extension)."""
    candidates = sorted((video_dir / clip_id).parent.glob(Path(clip_id).name + ".*"))
    return candidates[0] if candidates else None


def prepare_interior(motion_dir: str | Path, video_dir: str | Path, output: str | Path,
                     frames_per_clip: int = 3, size: int = 128, seed: int = 0,
                     progress: bool = True) -> dict:
    """Writes the examples of every clip under ``motion_dir`` (videos under ``video_dir``
    at the same relative paths) to ``output`` (written under a temporary name, then renamed).

    Returns a summary: examples written, clips used, clips skipped with reasons.

    Raises:
        InputError: no clips, or no example could be made.
    """
    import os

    from tqdm import tqdm

    from lipmotion_tf.motion.extract import clip_files

    motion_dir, video_dir, output = Path(motion_dir), Path(video_dir), Path(output)
    rng = np.random.default_rng(seed)
    arrays = {"region": [], "mask": [], "target": [], "opening": [], "clip": []}
    skipped = {}
    files = clip_files(motion_dir)
    function = example_function(size)
    for path in tqdm(files, desc="interior examples", unit="clip", disable=not progress):
        clip_id = path.relative_to(motion_dir).with_suffix("").as_posix()
        video = find_video(video_dir, clip_id)
        if video is None:
            skipped[clip_id] = "no video"
            continue
        try:
            examples = clip_examples(path, video, frames_per_clip, rng, function)
        except InputError as error:
            skipped[clip_id] = str(error)
            continue
        if not examples:
            skipped[clip_id] = f"mouth narrower than {MIN_MOUTH_WIDTH} pixels or no face"
        for example in examples:
            for key in ("region", "mask", "target", "opening"):
                arrays[key].append(example[key])
            arrays["clip"].append(clip_id)
    if not arrays["region"]:
        raise InputError(f"no interior examples could be made from {motion_dir}")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial.npz")
    np.savez(partial, **{key: np.stack(values) if key != "clip" else np.asarray(values)
                         for key, values in arrays.items()})
    os.replace(partial, output)
    return {"examples": len(arrays["region"]), "clips": len(set(arrays["clip"])),
            "skipped": skipped}
