"""The frontal template of the stable face points that poses are removed against.

:data:`FRONTAL_TEMPLATE` holds :data:`~.representation.STABLE_INDICES` points (x right,
y down, z away from the camera; unit: the distance between the outer eye corners). It was
built by :func:`build_template` (generalised Procrustes) from frames of the training motion
data (``python -m lipmotion_tf.motion.template prepared/motion/train`` prints it again).
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.motion import representation as rep

FRONTAL_TEMPLATE = np.array(
    [[-0.0014, -0.5675, -0.3297], [-0.0009, -0.3808, -0.3136], [-0.0005, -0.183 , -0.2837], [-0.0011, -0.0966, -0.2401], [-0.0014, -0.0238, -0.2095], [-0.0019, 0.071 , -0.2292], [-0.0021, 0.1606, -0.2581], [-0.0022, 0.2463, -0.2936], [-0.0026, 0.3375, -0.3297], [-0.4978, -0.0498, 0.0355], [-0.1952, -0.0183, -0.0147], [ 0.195 , -0.0179, -0.0155], [ 0.5022, -0.0502, 0.0362], [-0.177 , 0.4754, -0.0181], [ 0.1754, 0.4754, -0.0175], [-0.7634, -0.1632, 0.5718], [ 0.7692, -0.1654, 0.5721], [-0.7557, -0.0239, 0.6686], [ 0.7614, -0.0259, 0.669 ]],
    dtype=np.float32,
)


def orient(points: np.ndarray) -> np.ndarray:
    """Centres and rotates stable points to the template's axes, eye distance 1."""
    index = {v: i for i, v in enumerate(rep.STABLE_INDICES)}
    points = points - points.mean(axis=0)
    left = (points[index[33]] + points[index[133]]) / 2
    right = (points[index[362]] + points[index[263]]) / 2
    x = right - left
    x /= np.linalg.norm(x)
    down = points[index[5]] - points[index[10]]
    y = down - x * (down @ x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    rotated = points @ np.stack([x, y, z]).T
    return rotated / np.linalg.norm(rotated[index[263]] - rotated[index[33]])


def build_template(stable: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Generalised Procrustes mean of ``(N, 19, 3)`` stable-point sets, oriented by :func:`orient`."""
    reference = orient(stable[0])
    for _ in range(iterations):
        aligned = rep.apply(stable, rep.frontal_transform(stable, reference))
        reference = orient(aligned.mean(axis=0))
    return reference.astype(np.float32)


def main(argv=None) -> None:
    import sys

    from lipmotion_tf.motion.extract import clip_files, load_clip

    folder = (argv or sys.argv[1:])[0]
    rng = np.random.default_rng(0)
    sets = []
    for path in clip_files(folder):
        clip = load_clip(path)
        frames = np.flatnonzero(clip.found)
        picked = rng.choice(frames, min(4, frames.size), replace=False)
        sets.append(rep.select(clip.mesh[picked], rep.STABLE_INDICES, rep.STORED_INDICES))
    template = build_template(np.concatenate(sets))
    print(np.array2string(template, precision=4, separator=", ", suppress_small=True))


if __name__ == "__main__":
    main()
