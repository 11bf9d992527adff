"""Face landmarks from mediapipe's face mesh, and the lip landmark sets used across the project.

mediapipe 0.10.21 ships its face mesh model inside the wheel (``mp.solutions.face_mesh``), so
landmarks work offline. mediapipe is imported only when a :class:`FaceMeshDetector` is built:
it pulls in TensorFlow and takes seconds to import.

Landmark numbering is mediapipe's 468-point canonical face mesh. The 40 lip points are the
vertices of ``FACEMESH_LIPS``: 20 on the outer lip contour and 20 on the inner one.
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.errors import InputError

NUM_LANDMARKS = 468

# The vertices of mediapipe's FACEMESH_LIPS, as constants so that importing this module
# (for example in evaluation code) does not import mediapipe.
OUTER_LIP_INDICES = (
    0, 17, 37, 39, 40, 61, 84, 91, 146, 181, 185, 267, 269, 270, 291, 314, 321, 375, 405, 409,
)
INNER_LIP_INDICES = (
    13, 14, 78, 80, 81, 82, 87, 88, 95, 178, 191, 308, 310, 311, 312, 317, 318, 324, 402, 415,
)
LIP_INDICES = tuple(sorted(OUTER_LIP_INDICES + INNER_LIP_INDICES))

# Inner lips' upper and lower midpoints and the mouth corners (outer contour).
UPPER_INNER_LIP = 13
LOWER_INNER_LIP = 14
LEFT_MOUTH_CORNER = 61
RIGHT_MOUTH_CORNER = 291


def _restore_protobuf_get_prototype() -> None:
    """Gives protobuf's ``MessageFactory`` back the ``GetPrototype`` method mediapipe expects.

    mediapipe's C++ bindings look the method up when they are first imported; protobuf 6
    (which TensorFlow 2.21 requires) removed it, so every run printed an AttributeError and
    the bindings fell back to a slower path. ``GetMessageClass`` is its documented replacement
    and answers the same question.
    """
    from google.protobuf import message_factory

    if not hasattr(message_factory.MessageFactory, "GetPrototype"):
        message_factory.MessageFactory.GetPrototype = (
            lambda self, descriptor: message_factory.GetMessageClass(descriptor))


def _point(landmarks: np.ndarray, index: int) -> np.ndarray:
    """Selects mediapipe landmark ``index`` from a full (468) or lip-only (40) set."""
    count = landmarks.shape[-2]
    if count == len(LIP_INDICES):
        return landmarks[..., LIP_INDICES.index(index), :]
    if count >= NUM_LANDMARKS:
        return landmarks[..., index, :]
    raise ValueError(
        f"expected {len(LIP_INDICES)} lip landmarks or {NUM_LANDMARKS}+ face landmarks, got {count}"
    )


def mouth_opening(landmarks: np.ndarray) -> float | np.ndarray:
    """How open the mouth is: inner-lip gap over mouth width (scale free, 0 when closed).

    Args:
        landmarks: ``(40, 2)`` lip landmarks ordered as :data:`LIP_INDICES`, or ``(468, 2)``
            (or 478 refined) face landmarks; leading batch dimensions are allowed.

    Returns:
        A float for one set of landmarks, an array of shape ``landmarks.shape[:-2]`` for a batch.
        The width is floored at a tiny value so a degenerate mouth gives a finite number.
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if landmarks.ndim < 2 or landmarks.shape[-1] < 2:
        raise ValueError(f"landmarks must be (..., N, 2), got {landmarks.shape}")
    landmarks = landmarks[..., :2]
    upper, lower = _point(landmarks, UPPER_INNER_LIP), _point(landmarks, LOWER_INNER_LIP)
    gap = np.linalg.norm(upper - lower, axis=-1)
    width = np.linalg.norm(
        _point(landmarks, LEFT_MOUTH_CORNER) - _point(landmarks, RIGHT_MOUTH_CORNER), axis=-1
    )
    ratio = gap / np.maximum(width, 1e-6)
    return float(ratio) if ratio.ndim == 0 else ratio.astype(np.float32)


class FaceMeshDetector:
    """Landmarks of the first face in RGB images, in pixel coordinates.

    Use ``static_image_mode=True`` for unrelated photos (a face detector runs on every image)
    and ``False`` for the frames of one video, in order (the mesh is tracked from frame to
    frame, several times faster). Use it as a context manager, or call :meth:`close`.

    Args:
        static_image_mode: detect the face afresh in every image instead of tracking it.
        refine_landmarks: also predict the iris points (478 landmarks instead of 468).
        min_detection_confidence: face detector threshold in [0, 1].
        min_tracking_confidence: in video mode, below this the face is detected again.
    """

    def __init__(
        self,
        static_image_mode: bool,
        refine_landmarks: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ):
        _restore_protobuf_get_prototype()
        from mediapipe.python.solutions import face_mesh

        self.static_image_mode = bool(static_image_mode)
        self.refine_landmarks = bool(refine_landmarks)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=self.static_image_mode,
            max_num_faces=1,
            refine_landmarks=self.refine_landmarks,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def detect(self, image_rgb_uint8: np.ndarray, depth: bool = False) -> np.ndarray | None:
        """Finds the landmarks of the first face.

        Args:
            image_rgb_uint8: ``(H, W, 3)`` RGB uint8 image.
            depth: also return mediapipe's depth coordinate, scaled like ``x`` (pixels).

        Returns:
            ``(468, 2)`` float32 ``x, y`` pixel coordinates (478 with refined landmarks;
            ``(468, 3)`` with ``depth``), or ``None`` when no face is found.

        Raises:
            InputError: the image is not ``(H, W, 3)`` uint8.
            RuntimeError: the detector was closed.
        """
        if self._mesh is None:
            raise RuntimeError("FaceMeshDetector is closed")
        image = np.asarray(image_rgb_uint8)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        result = self._mesh.process(np.ascontiguousarray(image))
        if not result.multi_face_landmarks:
            return None
        height, width = image.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        if depth:
            coords = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
            return coords * np.array([width, height, width], dtype=np.float32)
        coords = np.array([(p.x, p.y) for p in points], dtype=np.float32)
        coords *= np.array([width, height], dtype=np.float32)
        return coords

    def close(self) -> None:
        """Releases the mediapipe graph; safe to call twice."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> "FaceMeshDetector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
