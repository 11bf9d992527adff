"""``TFLiteMotionPipeline``: the motion-first pipeline with its exported TFLite models (LiteRT).

What an app does with the three ``.tflite`` files of :mod:`lipmotion_tf.export.motion_tflite`,
written with ``ai_edge_litert`` and numpy (no TensorFlow) around the photo's
:class:`~lipmotion_tf.motion.face_rig.FaceRig` (mediapipe's face mesh and numpy; an app ports
it): the log-mel of the speech cut or zero-extended to whole frames (the ``log_mel`` model,
or librosa when none is given, as ``lipmotion generate`` does), the ``motion`` model once on
the whole utterance (its normalisation sees all of it), the rig's targets, the ``render``
model a frame at a time and the paste-back. With float32 models the frames match
``lipmotion generate --model motion``'s (tested).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.generate.blending import num_output_frames


class TFLiteMotionPipeline:
    """Runs the motion TFLite models.

    Args:
        motion_model: ``.tflite`` file with the ``motion`` signature.
        renderer_model: ``.tflite`` file with the ``render`` signature.
        log_mel_model: ``.tflite`` file with the ``log_mel`` signature; None: librosa.
        num_threads: interpreter threads (default: the runtime's choice).
        config: the :class:`~lipmotion_tf.motion.config.MotionExperimentConfig` of the model
            (its ``config.yaml``); default: the project's defaults.
    """

    def __init__(self, motion_model, renderer_model, log_mel_model=None,
                 num_threads: int | None = None, config=None):
        from lipmotion_tf.export.tflite_generator import _signature_runner
        from lipmotion_tf.motion.config import MotionExperimentConfig

        self.config = config if config is not None else MotionExperimentConfig()
        self.sample_rate = self.config.audio.sample_rate
        self._motion = _signature_runner(motion_model, "motion", num_threads)
        self._render = _signature_runner(renderer_model, "render", num_threads)
        self._log_mel = (_signature_runner(log_mel_model, "log_mel", num_threads)
                         if log_mel_model is not None else None)

    def num_frames(self, num_samples: int) -> int:
        """Frames for speech of ``num_samples`` at :attr:`sample_rate` (25 a second, >= 1)."""
        return num_output_frames(num_samples, self.config.audio.samples_per_frame)

    def log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """``(4T, M)`` dB for the ``T`` frames of mono speech at :attr:`sample_rate`."""
        from lipmotion_tf.audio.log_mel_numpy import log_mel_of_frames

        audio = self.config.audio
        frames = self.num_frames(len(waveform))
        if self._log_mel is None:
            return log_mel_of_frames(waveform, frames, audio)
        samples = frames * audio.samples_per_frame
        whole = np.zeros(samples, np.float32)
        whole[:min(samples, len(waveform))] = waveform[:samples]
        return self._log_mel(waveform=whole)["log_mel"][: frames * audio.mel_frames_per_frame]

    def motion(self, log_mel: np.ndarray, rest: np.ndarray) -> np.ndarray:
        """``(4T, M)`` dB + ``(59, 2)`` rest shape -> ``(T, 59, 2)`` mouth-frame displacements."""
        return self._motion(log_mel=np.asarray(log_mel, np.float32)[None],
                            rest=np.asarray(rest, np.float32)[None])["motion"][0]

    def render(self, inputs: dict) -> np.ndarray:
        """One frame's renderer inputs (batch 1) -> its crop ``(S, S, 3)`` in [0, 1]."""
        return self._render(**inputs)["frames"][0]

    def iter_frames(self, waveform: np.ndarray, rig) -> Iterator[np.ndarray]:
        """Full-size uint8 frames of the rigged photo, 25 per second of ``waveform``."""
        from lipmotion_tf.audio.validation import check_waveform
        from lipmotion_tf.motion.pipeline import renderer_inputs

        waveform = check_waveform(waveform, self.sample_rate)
        motion = self.motion(self.log_mel(waveform), rig.rest_motion_input)
        for frame in motion:
            yield rig.paste(self.render(renderer_inputs(rig, frame[None])))

    def generate(self, waveform: np.ndarray, image: np.ndarray) -> np.ndarray:
        """All frames at once for a photo: uint8 ``(T, H, W, 3)``.

        Raises:
            NoFaceError: no face in the photo, or one too small.
        """
        from lipmotion_tf.motion.face_rig import FaceRig

        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"the photo must be RGB uint8 (H, W, 3), got {image.dtype} "
                             f"{image.shape}")
        return np.stack(list(self.iter_frames(waveform, FaceRig.from_image(image))))


def motion_config(checkpoint: str | Path | None = None):
    """The config of a motion model folder (default: the shipped model's)."""
    from lipmotion_tf.config import load_config
    from lipmotion_tf.motion.config import MotionExperimentConfig
    from lipmotion_tf.motion.pipeline import motion_checkpoint

    folder = Path(checkpoint) if checkpoint is not None else motion_checkpoint()
    return load_config(folder / "config.yaml", config_class=MotionExperimentConfig)
