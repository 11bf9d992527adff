"""The motion model's requests in ``lipmotion serve``: checks, answer sizes and a
``serving_default`` computed a batch of frames at a time.

A motion model version (``lipmotion export saved-model --model motion``) has the signatures
``serving_default``, ``motion``, ``render`` and ``log_mel``
(:mod:`~lipmotion_tf.export.motion_functions`). ``lipmotion serve`` computes
``serving_default`` as ``lipmotion generate --model motion`` does, on the version's own
``motion`` and ``render`` graphs: the log-mel with librosa, the motion model on the whole
utterance, the rig's targets in numpy, then the renderer ``BATCH_FRAMES`` frames at a time,
asking ``should_stop`` between batches (a deadline or a stopping server interrupts it). So
its frames are ``generate``'s, bit for bit; TensorFlow Serving runs the signature's one graph,
whose in-graph log-mel differs from librosa's by about 1e-4 dB (a grey level at a few
pixels). ``render`` requests are computed ``BATCH_FRAMES`` frames at a time too.
"""

from __future__ import annotations

import math

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.motion.pipeline import MotionPipeline
from lipmotion_tf.motion.rig_tensors import RIG_TENSORS

#: Frames per renderer call when a request is computed batch by batch.
BATCH_FRAMES = 8
#: The signatures of a motion model version.
MOTION_SIGNATURES = ("serving_default", "motion", "render", "log_mel")


def is_motion_version(functions: dict) -> bool:
    """Whether a loaded version's signatures are the motion model's."""
    return set(MOTION_SIGNATURES) <= set(functions)


def served_config(content: dict):
    """The experiment config exported beside a version: a motion or a paper one."""
    from lipmotion_tf.config import config_from_dict
    from lipmotion_tf.motion.config import MOTION_KIND, MotionExperimentConfig

    if content.get("kind") == MOTION_KIND:
        return config_from_dict(content, MotionExperimentConfig)
    return config_from_dict(content)


class _SignaturePipeline(MotionPipeline):
    """:class:`MotionPipeline` whose two model calls are a loaded version's signatures."""

    def __init__(self, functions: dict, config):
        super().__init__(None, config, batch_size=BATCH_FRAMES, max_duration=math.inf)
        self.functions = functions

    def predict(self, log_mel: np.ndarray, rest: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        frames = log_mel.shape[0] // self.config.audio.mel_frames_per_frame
        log_mel = log_mel[: frames * self.config.audio.mel_frames_per_frame]
        out = self.functions["motion"](log_mel=tf.constant(log_mel[None], tf.float32),
                                       rest=tf.constant(rest[None], tf.float32))["motion"]
        return out.numpy()[0]

    def render_batch(self, inputs: dict) -> np.ndarray:
        import tensorflow as tf

        return self.functions["render"](**{k: tf.constant(v) for k, v in inputs.items()})[
            "frames"].numpy()


class MotionRequests:
    """What :class:`~lipmotion_tf.serving.served_model.ServedModel` does differently for a
    motion model version.

    Args:
        functions: ``{signature: concrete function}`` of the version.
        config: its :class:`~lipmotion_tf.motion.config.MotionExperimentConfig`.
    """

    def __init__(self, functions: dict, config):
        self.config = config
        self.pipeline = _SignaturePipeline(functions, config)
        spec = functions["render"].structured_input_signature[1]["basis"]
        self.grid_size = int(round(math.sqrt(spec.shape[0])))

    # -- checks -----------------------------------------------------------------------------

    def validate(self, signature: str, arrays: dict) -> None:
        """The checks beyond dtypes and shapes, in one line.

        Raises:
            InputError: rig tensors that do not fit the photo or the renderer, renderer
                inputs of different batches or a mouth box outside the crop, log-mel frames
                that are not a whole number of video frames.
        """
        if signature == "serving_default":
            from lipmotion_tf.motion.rig_tensors import check_rig_tensors

            check_rig_tensors({name: arrays[name] for name in RIG_TENSORS},
                              arrays["image"].shape, self.grid_size,
                              source=f"the rig tensors of \"{signature}\"")
        elif signature == "motion":
            m = self.config.audio.mel_frames_per_frame
            log_mel, rest = arrays["log_mel"], arrays["rest"]
            if len(log_mel) != len(rest):
                raise InputError(f"\"motion\" got {len(log_mel)} log-mels and {len(rest)} rest "
                                 "shapes; send one rest shape per log-mel")
            if log_mel.shape[1] < m or log_mel.shape[1] % m:
                raise InputError(f"\"motion\" needs {m} log-mel frames per video frame, got "
                                 f"{log_mel.shape[1]}")
        elif signature == "render":
            self._check_render(arrays)

    def _check_render(self, arrays: dict) -> None:
        crop = arrays["crop"]
        batch, height, width = crop.shape[:3]
        if height != width:
            raise InputError(f"\"render\" needs a square crop, got {width}x{height}")
        for name in ("displacement", "inner_lip", "teeth", "colours"):
            if len(arrays[name]) != batch:
                raise InputError(f"\"render\" got {batch} crops and {len(arrays[name])} "
                                 f"{name}; send one per crop")
        if arrays["displacement"].shape[1] != arrays["basis"].shape[1]:
            raise InputError(f"\"render\": basis of {arrays['basis'].shape[1]} control points, "
                             f"displacement of {arrays['displacement'].shape[1]}")
        top, left, box_height, box_width = (int(v) for v in arrays["mouth_box"])
        if not (top >= 0 and left >= 0 and box_height >= 1 and box_width >= 1
                and top + box_height <= height and left + box_width <= width):
            raise InputError(f"\"render\": mouth_box {(top, left, box_height, box_width)} is "
                             f"not inside the {width}-pixel crop")

    def response_bytes(self, signature: str, arrays: dict) -> int | None:
        """Bytes of the answer, known from the inputs (None: not this class's signature)."""
        if signature == "serving_default":
            side = int(arrays["crop_size"])
            return self.pipeline.num_frames(len(arrays["waveform"])) * side * side * 3
        if signature == "render":
            return int(np.prod(arrays["crop"].shape)) * 4
        if signature == "motion":
            frames = arrays["log_mel"].shape[1] // self.config.audio.mel_frames_per_frame
            return len(arrays["log_mel"]) * frames * arrays["rest"].shape[1] * 2 * 4
        return None

    # -- computations -----------------------------------------------------------------------

    def run(self, signature: str, arrays: dict, stop_if) -> dict | None:
        """``serving_default`` or ``render`` a batch at a time (None for the others);
        ``stop_if(progress)`` raises when the request must stop."""
        if signature == "serving_default":
            return {"frames": self._generate(arrays, stop_if)}
        if signature == "render":
            return {"frames": self._render(arrays, stop_if)}
        return None

    def _generate(self, arrays: dict, stop_if) -> np.ndarray:
        from lipmotion_tf.motion.face_rig import crop_to_uint8
        from lipmotion_tf.motion.pipeline import renderer_inputs
        from lipmotion_tf.motion.rig_tensors import rig_from_tensors

        pipeline = self.pipeline
        rig = rig_from_tensors(arrays["image"], {name: arrays[name] for name in RIG_TENSORS})
        stop_if("before it started")
        motion = pipeline.motion(arrays["waveform"], self.config.audio.sample_rate,
                                 rig.rest_motion_input)
        parts = []
        for first in range(0, len(motion), BATCH_FRAMES):
            if first:
                stop_if(f"after {first} of {len(motion)} frames")
            part = motion[first:first + BATCH_FRAMES]
            parts.append(crop_to_uint8(pipeline.render_batch(renderer_inputs(rig, part))))
        return np.concatenate(parts)

    def _render(self, arrays: dict, stop_if) -> np.ndarray:
        batched = ("crop", "displacement", "inner_lip", "teeth", "colours")
        count = len(arrays["crop"])
        parts = []
        for first in range(0, max(count, 1), BATCH_FRAMES):
            stop_if(f"after {first} of {count} frames" if first else "before it started")
            inputs = {name: (value[first:first + BATCH_FRAMES] if name in batched else value)
                      for name, value in arrays.items()}
            parts.append(self.pipeline.render_batch(inputs))
        return np.concatenate(parts)
