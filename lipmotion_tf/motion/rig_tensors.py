"""A :class:`~lipmotion_tf.motion.face_rig.FaceRig` as named arrays: what a client sends
with the photo to the motion model's ``serving_default`` signature.

The rig is the part of the pipeline that cannot live in a graph: mediapipe's face mesh of
the photo, and the numpy set-up on it (pose fit, crop, thin-plate solve, colours). A client
computes it once per photo (:meth:`FaceRig.from_image <lipmotion_tf.motion.face_rig.FaceRig.
from_image>`, then :func:`rig_tensors`); the server rebuilds the rig from them
(:func:`rig_from_tensors`) or runs :func:`~lipmotion_tf.motion.graph_targets.targets_tf` on
them in the graph.

==================  =========  ============  ===============================================
name                dtype      shape         what it is
==================  =========  ============  ===============================================
origin              int32      (2,)          ``x, y`` of the crop's top-left corner in the
                                             photo
crop_size           int32      ()            side ``S`` of the square crop, in photo pixels
mouth_box           int32      (4,)          ``top, left, height, width`` in the crop: where
                                             the inner lips can reach
rest                float32    (59, 3)       the closed rest shape in the mouth frame
mouth_scale         float64    ()            pixels -> mouth frame: ``m = s R p + t``
mouth_rotation      float64    (3, 3)        ``R``
mouth_translation   float64    (3,)          ``t``
controls            float32    (N, 2)        warp control points in crop pixels (the first
                                             59 move with the motion)
basis               float32    (G * G, N)    thin-plate basis on a ``G x G`` grid (G = 64)
colours             float32    (2, 3)        cavity and teeth colours in [0, 1]
==================  =========  ============  ===============================================
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.motion import representation as rep

#: ``{name: (dtype, shape)}`` with None for a size that depends on the photo.
RIG_TENSORS = {
    "origin": ("int32", (2,)),
    "crop_size": ("int32", ()),
    "mouth_box": ("int32", (4,)),
    "rest": ("float32", (rep.NUM_MOTION_POINTS, 3)),
    "mouth_scale": ("float64", ()),
    "mouth_rotation": ("float64", (3, 3)),
    "mouth_translation": ("float64", (3,)),
    "controls": ("float32", (None, 2)),
    "basis": ("float32", (None, None)),
    "colours": ("float32", (2, 3)),
}


def rig_tensors(rig) -> dict:
    """``{name: array}`` of a rig (see the module's table), with the dtypes listed there."""
    transform = rig.transform
    return {
        "origin": np.asarray(rig.origin, np.int32),
        "crop_size": np.asarray(rig.crop_size, np.int32),
        "mouth_box": np.asarray(rig.mouth_box, np.int32),
        "rest": np.asarray(rig.rest, np.float32),
        "mouth_scale": np.asarray(transform.scale[0], np.float64),
        "mouth_rotation": np.asarray(transform.rotation[0], np.float64),
        "mouth_translation": np.asarray(transform.translation[0], np.float64),
        "controls": np.asarray(rig.controls, np.float32),
        "basis": np.asarray(rig.basis, np.float32),
        "colours": np.asarray(rig.colours, np.float32),
    }


def check_rig_tensors(tensors: dict, image_shape, grid_size: int, source: str = "the rig"):
    """Refuses rig tensors that cannot go with a photo of ``image_shape`` and a renderer
    of ``grid_size``, in one line (dtypes and shapes as listed are assumed).

    Raises:
        InputError: a crop outside the photo or smaller than the renderer takes, a mouth
            box outside the crop, a basis and control points that do not match, a scale
            that is not positive, non-finite values.
    """
    from lipmotion_tf.motion.face_rig import MIN_CROP

    height, width = (int(v) for v in image_shape[:2])
    x0, y0 = (int(v) for v in np.asarray(tensors["origin"]).reshape(-1)[:2])
    side = int(tensors["crop_size"])
    if side < MIN_CROP:
        raise InputError(f"{source}: crop_size {side} is below the {MIN_CROP} pixels the "
                         "renderer takes")
    if x0 < 0 or y0 < 0 or x0 + side > width or y0 + side > height:
        raise InputError(f"{source}: the {side}-pixel crop at origin ({x0}, {y0}) is not "
                         f"inside the {width}x{height} photo")
    top, left, box_height, box_width = (int(v) for v in np.asarray(tensors["mouth_box"]))
    if not (top >= 0 and left >= 0 and box_height >= 1 and box_width >= 1
            and top + box_height <= side and left + box_width <= side):
        raise InputError(f"{source}: mouth_box {(top, left, box_height, box_width)} is not "
                         f"inside the {side}-pixel crop")
    controls, basis = np.asarray(tensors["controls"]), np.asarray(tensors["basis"])
    if controls.shape[0] < rep.NUM_MOTION_POINTS:
        raise InputError(f"{source}: {controls.shape[0]} control points, fewer than the "
                         f"{rep.NUM_MOTION_POINTS} that move")
    if basis.shape != (grid_size * grid_size, controls.shape[0]):
        raise InputError(f"{source}: basis of shape {basis.shape}, expected "
                         f"({grid_size * grid_size}, {controls.shape[0]}) for a "
                         f"{grid_size}x{grid_size} grid and {controls.shape[0]} control points")
    if not float(tensors["mouth_scale"]) > 0:
        raise InputError(f"{source}: mouth_scale must be positive, got "
                         f"{float(tensors['mouth_scale'])}")
    for name, value in tensors.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise InputError(f"{source}: {name} has non-finite values (NaN or infinity)")


def rig_from_tensors(image: np.ndarray, tensors: dict):
    """The :class:`~lipmotion_tf.motion.face_rig.FaceRig` of a photo and its rig tensors
    (no face mesh: it renders and pastes, it cannot be rigged again)."""
    from lipmotion_tf.motion.face_rig import FaceRig

    basis = np.asarray(tensors["basis"], np.float32)
    transform = rep.MouthTransform(
        np.asarray(tensors["mouth_scale"], np.float64).reshape(1),
        np.asarray(tensors["mouth_rotation"], np.float64).reshape(1, 3, 3),
        np.asarray(tensors["mouth_translation"], np.float64).reshape(1, 3))
    x0, y0 = (int(v) for v in np.asarray(tensors["origin"]).reshape(-1)[:2])
    return FaceRig(
        image=image, mesh=None, transform=transform,
        rest=np.asarray(tensors["rest"], np.float32), origin=(x0, y0),
        crop_size=int(tensors["crop_size"]), controls=np.asarray(tensors["controls"], np.float32),
        basis=basis, colours=np.asarray(tensors["colours"], np.float32),
        grid_size=int(round(np.sqrt(basis.shape[0]))),
        mouth_box=tuple(int(v) for v in np.asarray(tensors["mouth_box"])))
