"""``MotionPipeline``: speech of any length + one face photo -> frames of the photo talking.

Speech -> log-mel (:func:`~lipmotion_tf.audio.log_mel_numpy.log_mel_of_frames`, a chunk at a
time) ->
the motion model over the whole utterance (its per-utterance normalisation sees all of it)
-> mouth-frame displacements -> the photo's :class:`~lipmotion_tf.motion.face_rig.FaceRig`
-> :class:`~lipmotion_tf.motion.renderer.MotionRenderer` a batch of frames at a time ->
full-size frames in which only the mouth region differs from the photo.

The motion model and the renderer run through the functions of
:mod:`~lipmotion_tf.motion.graph_functions`, the graphs the exports hold, so a served or
exported model gives these frames. :meth:`MotionPipeline.predict` and
:meth:`MotionPipeline.render_batch` are the two model calls; a served model's pipeline
(:mod:`lipmotion_tf.serving.motion_model`) replaces them by its signatures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION, check_max_duration, check_waveform
from lipmotion_tf.errors import InputError
from lipmotion_tf.generate.blending import num_output_frames

def motion_checkpoint() -> Path:
    """The motion model shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "assets" / "motion"


def is_motion_checkpoint(path: str | Path) -> bool:
    """Whether a checkpoint folder holds a motion model."""
    from lipmotion_tf.motion.config import WEIGHTS_NAME

    return (Path(path) / WEIGHTS_NAME).is_file()


#: Crop pixels per renderer call, at most (its temporaries grow with them).
RENDER_PIXELS = 1_000_000


class MotionPipeline:
    """Generates a talking photo from speech with the motion model and the renderer.

    Args:
        generator: a trained :class:`~lipmotion_tf.motion.motion_generator.MotionGenerator`.
        config: its :class:`~lipmotion_tf.motion.config.MotionExperimentConfig`.
        batch_size: frames rendered per call.
        max_duration: longest speech accepted, in seconds.
        amplitude: how widely the speaker opens their mouth, the natural log against a
            typical speaker (None: typical). A generator that reads it
            (``model.amplitude_input``) takes it as an input; for one that does not (the
            shipped one), the predicted displacements are scaled by its exponential, as
            peers' expression scales do. ``dub`` sets it from the video (for a generator that
            reads it), ``--expressiveness`` from the user.
        interior: the renderer's learned mouth interior
            (:class:`~lipmotion_tf.motion.mouth_interior.MouthInterior`); None: drawn.
    """

    def __init__(self, generator, config, batch_size: int = 8,
                 max_duration: float = DEFAULT_MAX_DURATION, amplitude: float | None = None,
                 interior=None):
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        self.generator = generator
        self.config = config
        self.interior = interior
        self.amplitude = amplitude
        self.batch_size = int(batch_size)
        self.max_duration = check_max_duration(max_duration)
        self._motion = None
        self._renderers: dict = {}

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, interior: str = "auto",
                        **kwargs) -> "MotionPipeline":
        """Loads a motion model folder (default: the shipped one).

        Args:
            interior: the mouth interior (:func:`choose_interior`): ``auto`` (the folder's
                learned one where it has one), ``learned`` or ``drawn``.

        Raises:
            InputError: ``learned`` for a folder without a learned interior.
        """
        from lipmotion_tf.motion.training import load_motion_generator

        generator, config = load_motion_generator(path or motion_checkpoint())
        kwargs["interior"] = choose_interior(path or motion_checkpoint(), config, interior)
        return cls(generator, config, **kwargs)

    @property
    def fps(self) -> int:
        return self.config.audio.fps

    def check_speech(self, waveform: np.ndarray, sample_rate: int,
                     source: str = "the speech") -> np.ndarray:
        """``waveform`` as float32 once it passes the checks (mono, finite, not too long)."""
        return check_waveform(waveform, sample_rate, self.max_duration, source)

    def num_frames(self, num_samples: int) -> int:
        """Frames for speech of ``num_samples`` at the model rate."""
        return num_output_frames(num_samples, self.config.audio.samples_per_frame)

    def log_mel(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        """The motion model's log-mel ``(4T, M)`` of checked speech, resampled to the model
        rate, for its ``T`` output frames."""
        from lipmotion_tf.audio.log_mel_numpy import log_mel_of_frames

        waveform = self.check_speech(waveform, sample_rate)
        if sample_rate != self.config.audio.sample_rate:
            import soxr

            waveform = soxr.resample(waveform, sample_rate, self.config.audio.sample_rate)
        return log_mel_of_frames(waveform, self.num_frames(len(waveform)), self.config.audio)

    def motion(self, waveform: np.ndarray, sample_rate: int, rest: np.ndarray) -> np.ndarray:
        """Mouth-frame displacements ``(T, 59, 2)`` for the speech and a rest shape."""
        return self.predict(self.log_mel(waveform, sample_rate), rest)

    def predict(self, log_mel: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """The motion model on one whole utterance: ``(4T, M)`` dB + ``(59, 2)`` -> ``(T, 59, 2)``."""
        from lipmotion_tf.motion.graph_functions import motion_function

        given = self.amplitude is not None and self.generator.amplitude_input
        if self._motion is None or self._motion[0] != given:
            self._motion = (given, motion_function(self.generator, amplitude=given))
        frames = log_mel.shape[0] // self.config.audio.mel_frames_per_frame
        log_mel = log_mel[: frames * self.config.audio.mel_frames_per_frame]
        inputs = [np.asarray(log_mel, np.float32)[None], np.asarray(rest, np.float32)[None]]
        if given:
            inputs.append(np.array([[self.amplitude]], np.float32))
        motion = np.asarray(self._motion[1](*inputs)["motion"])[0]
        return motion * np.float32(self.generator.motion_gain(self.amplitude))

    def render_batch(self, inputs: dict) -> np.ndarray:
        """The renderer on :func:`renderer_inputs`: ``(B, S, S, 3)`` float32 in [0, 1]."""
        from lipmotion_tf.motion.graph_functions import render_function
        from lipmotion_tf.motion.renderer import MotionRenderer

        grid = int(round(np.sqrt(inputs["basis"].shape[0])))
        if grid not in self._renderers:
            self._renderers[grid] = render_function(MotionRenderer(grid_size=grid,
                                                                   interior=self.interior))
        return np.asarray(self._renderers[grid](**inputs)["frames"])

    def render_crops(self, rig, motion: np.ndarray) -> Iterator[np.ndarray]:
        """Rendered crops ``(S, S, 3)`` in [0, 1] of ``rig``'s photo moved by ``motion``;
        at most :data:`RENDER_PIXELS` crop pixels per renderer call (a big face in a big
        photo is rendered a few frames at a time, so memory stays bounded)."""
        step = max(1, min(self.batch_size, RENDER_PIXELS // (rig.crop_size * rig.crop_size)))
        for start in range(0, len(motion), step):
            yield from self.render_batch(renderer_inputs(rig, motion[start:start + step]))

    def render(self, rig, motion: np.ndarray) -> Iterator[np.ndarray]:
        """Full-size uint8 frames of ``rig``'s photo moved by ``motion``, in order."""
        for rendered in self.render_crops(rig, motion):
            yield rig.paste(rendered)

    def iter_frames(self, waveform: np.ndarray, sample_rate: int, rig) -> Iterator[np.ndarray]:
        """The frames for ``waveform`` (any length) on the rigged photo."""
        yield from self.render(rig, self.motion(waveform, sample_rate, rig.rest_motion_input))

    def generate(self, waveform: np.ndarray, sample_rate: int, image: np.ndarray) -> np.ndarray:
        """All frames at once: ``(N, H, W, 3)`` uint8, N = 25 x duration."""
        from lipmotion_tf.motion.face_rig import FaceRig

        return np.stack(list(self.iter_frames(waveform, sample_rate, FaceRig.from_image(image))))


def choose_interior(folder, config, choice: str = "auto"):
    """The :class:`~lipmotion_tf.motion.mouth_interior.MouthInterior` a motion model folder
    renders with, or None (drawn): ``auto`` its learned one where it has one, ``learned``
    its learned one (an error without), ``drawn`` none.

    Raises:
        InputError: an unknown choice, or ``learned`` for a folder without one.
    """
    from lipmotion_tf.motion.interior_config import INTERIOR_WEIGHTS_NAME, INTERIORS
    from lipmotion_tf.motion.training import load_mouth_interior

    if choice not in INTERIORS:
        raise InputError(f"--interior must be one of {', '.join(INTERIORS)}, got {choice!r}")
    if choice == "drawn":
        return None
    interior = load_mouth_interior(folder, config)
    if interior is None and choice == "learned":
        raise InputError(f"the motion model in {folder} has no learned mouth interior "
                         f"({INTERIOR_WEIGHTS_NAME}); train one with training/interior.yaml")
    return interior


def renderer_inputs(rig, motion: np.ndarray) -> dict:
    """The ``render`` inputs (:mod:`~lipmotion_tf.motion.graph_functions`) for ``(B, 59, 2)``
    displacements of a rigged photo."""
    crop = rig.crop()
    return {"crop": np.repeat(crop[None], len(motion), axis=0), "basis": rig.basis,
            "mouth_box": np.asarray(rig.mouth_box, np.int32), **rig.targets(motion)}
