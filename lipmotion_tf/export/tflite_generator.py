"""``TFLiteLipGenerator``: any-length generation with the exported TFLite models (LiteRT runtime).

What an app does with the two ``.tflite`` files of :mod:`lipmotion_tf.export.tflite`, written
with ``ai_edge_litert`` and numpy only (no TensorFlow): the log-mel of the whole zero-padded
speech from the front-end model, windows of ``data.window`` frames every ``data.hop``, the
``generate_window`` signature, and the ``sin^2`` cross-fade and ease-in of
:class:`~lipmotion_tf.generate.blending.WindowBlender`: the steps of
:class:`~lipmotion_tf.generate.pipeline.LipMotionPipeline`, so with float32 models the frames
match the pipeline's. The audio and window settings come from the configuration the model
was trained with (its checkpoint's ``config.yaml``; the defaults are those of every model
this project trains).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.audio.validation import check_waveform
from lipmotion_tf.errors import InputError
from lipmotion_tf.video.pixels import to_uint8, to_unit_range
from lipmotion_tf.generate.blending import (
    WindowBlender,
    covering_window_starts,
    extend_speech,
    num_output_frames,
)

class TFLiteLipGenerator:
    """Runs the TFLite generator (and front end) of an exported model.

    Args:
        generator_model: ``.tflite`` file with the ``generate_window`` signature.
        log_mel_model: ``.tflite`` file with the ``log_mel`` signature; needed for
            :meth:`generate` (not for :meth:`generate_window`).
        num_threads: interpreter threads (default: the runtime's choice).
        config: the :class:`~lipmotion_tf.config.ExperimentConfig` of the model (sample
            rate, frames, window and hop); default: the project's defaults.
    """

    def __init__(self, generator_model: str | Path, log_mel_model: str | Path | None = None,
                 num_threads: int | None = None, config=None):
        from lipmotion_tf.config import ExperimentConfig

        self.config = config if config is not None else ExperimentConfig()
        self.sample_rate = self.config.audio.sample_rate
        self._generator = _signature_runner(generator_model, "generate_window", num_threads)
        self._log_mel = (
            _signature_runner(log_mel_model, "log_mel", num_threads) if log_mel_model else None
        )

    def generate_window(self, log_mel: np.ndarray, image: np.ndarray) -> np.ndarray:
        """``(B, 64, 128)`` dB + ``(B, 64, 64, 3)`` in [-1, 1] -> ``(B, 16, 64, 64, 3)`` in [-1, 1].

        The exported model takes one window per call (static shapes); a batch runs window
        by window.
        """
        log_mel = np.asarray(log_mel, np.float32)
        image = np.asarray(image, np.float32)
        if log_mel.ndim != 3 or image.ndim != 4 or len(log_mel) != len(image):
            raise InputError(f"generate_window needs (B, 64, 128) log-mels and (B, 64, 64, 3) "
                             f"images, got {log_mel.shape} and {image.shape}")
        frames = [self._generator(log_mel=log_mel[i:i + 1], image=image[i:i + 1])["frames"]
                  for i in range(len(log_mel))]
        # An int8 output's dequantized levels can step just past +-1.
        return np.clip(np.concatenate(frames), -1.0, 1.0)

    def log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """Mono speech at :attr:`sample_rate` ``(N,)`` -> ``(1 + N // hop_length, n_mels)`` dB."""
        if self._log_mel is None:
            raise InputError("no log_mel model was given (export one with --model log_mel)")
        return self._log_mel(waveform=np.asarray(waveform, np.float32))["log_mel"]

    def iter_frames(self, waveform: np.ndarray, identity: np.ndarray,
                    batch_size: int = 1) -> Iterator[np.ndarray]:
        """Yields uint8 ``(64, 64, 3)`` frames, 25 per second of ``waveform``.

        Args:
            waveform: mono float32 speech at :attr:`sample_rate`.
            identity: the 64x64 RGB uint8 lip image.
            batch_size: windows cut and handed to :meth:`generate_window` at a time.
        """
        # The checks of every entry point: mono, finite, in float speech's range (clipped).
        waveform = check_waveform(waveform, self.sample_rate, source="waveform")
        identity = np.asarray(identity)
        if identity.shape != (64, 64, 3) or identity.dtype != np.uint8:
            raise InputError(f"identity must be a uint8 (64, 64, 3) lip image, got "
                             f"{identity.dtype} {identity.shape}")
        audio, window, hop = self.config.audio, self.config.data.window, self.config.data.hop
        mel_per_frame = audio.mel_frames_per_frame
        num_frames = num_output_frames(len(waveform), audio.samples_per_frame)
        starts = covering_window_starts(num_frames, window, hop)
        needed = (starts[-1] + window) * audio.samples_per_frame
        mel = self.log_mel(extend_speech(waveform, needed))
        span = window * mel_per_frame
        image = to_unit_range(identity)
        blender = WindowBlender(num_frames, window, hop, image, self.config.data.ease_in)
        for first in range(0, len(starts), batch_size):
            chunk = starts[first:first + batch_size]
            log_mels = np.stack([mel[mel_per_frame * s: mel_per_frame * s + span]
                                 for s in chunk])
            video = self.generate_window(log_mels, np.repeat(image[None], len(chunk), axis=0))
            for frames in video:
                for frame in blender.add(frames):
                    yield to_uint8(frame)

    def generate(self, waveform: np.ndarray, identity: np.ndarray, batch_size: int = 1) -> np.ndarray:
        """All frames at once: uint8 ``(T, 64, 64, 3)``."""
        return np.stack(list(self.iter_frames(waveform, identity, batch_size)))


def _signature_runner(path, signature: str, num_threads: int | None):
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise InputError(f"TFLite model not found: {path}")
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    except ValueError as error:
        raise InputError(f"{path} is not a TFLite model: {error}") from None
    signatures = interpreter.get_signature_list()
    if signature not in signatures:
        raise InputError(f"{path} has no '{signature}' signature (it has {', '.join(signatures)})")
    return interpreter.get_signature_runner(signature)
