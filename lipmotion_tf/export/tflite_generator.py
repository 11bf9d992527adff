"""``TFLiteLipGenerator``: any-length generation with the exported TFLite models (LiteRT runtime).

What an app does with the two ``.tflite`` files of :mod:`lipmotion_tf.export.tflite`, written
with ``ai_edge_litert`` and numpy only (no TensorFlow): the log-mel of the whole zero-padded
speech from the front-end model, windows of 64 mel frames every 32, the ``generate_window``
signature, and the ``sin^2`` cross-fade of
:class:`~lipmotion_tf.generate.blending.WindowBlender`: the steps of
:class:`~lipmotion_tf.generate.pipeline.LipMotionPipeline`, so with float32 models the frames
match the pipeline's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.generate.blending import (
    WindowBlender,
    covering_window_starts,
    num_output_frames,
)

SAMPLE_RATE = 44100
SAMPLES_PER_FRAME = 1764
MEL_FRAMES_PER_FRAME = 4
WINDOW = 16
HOP = 8


class TFLiteLipGenerator:
    """Runs the TFLite generator (and front end) of an exported model.

    Args:
        generator_model: ``.tflite`` file with the ``generate_window`` signature.
        log_mel_model: ``.tflite`` file with the ``log_mel`` signature; needed for
            :meth:`generate` (not for :meth:`generate_window`).
        num_threads: interpreter threads (default: the runtime's choice).
    """

    def __init__(self, generator_model: str | Path, log_mel_model: str | Path | None = None,
                 num_threads: int | None = None):
        self._generator = _signature_runner(generator_model, "generate_window", num_threads)
        self._log_mel = (
            _signature_runner(log_mel_model, "log_mel", num_threads) if log_mel_model else None
        )

    def generate_window(self, log_mel: np.ndarray, image: np.ndarray) -> np.ndarray:
        """``(B, 64, 128)`` dB + ``(B, 64, 64, 3)`` in [-1, 1] -> ``(B, 16, 64, 64, 3)`` in [-1, 1]."""
        outputs = self._generator(log_mel=np.asarray(log_mel, np.float32),
                                  image=np.asarray(image, np.float32))
        # An int8 output's dequantized levels can step just past +-1.
        return np.clip(outputs["frames"], -1.0, 1.0)

    def log_mel(self, waveform: np.ndarray) -> np.ndarray:
        """Mono 44.1 kHz speech ``(N,)`` -> ``(1 + N // 441, 128)`` dB."""
        if self._log_mel is None:
            raise InputError("no log_mel model was given (export one with --model log_mel)")
        return self._log_mel(waveform=np.asarray(waveform, np.float32))["log_mel"]

    def iter_frames(self, waveform: np.ndarray, identity: np.ndarray,
                    batch_size: int = 1) -> Iterator[np.ndarray]:
        """Yields uint8 ``(64, 64, 3)`` frames, 25 per second of ``waveform``.

        Args:
            waveform: mono float32 speech at 44.1 kHz.
            identity: the 64x64 RGB uint8 lip image.
            batch_size: windows per interpreter call.
        """
        waveform = np.asarray(waveform, np.float32)
        if waveform.ndim != 1 or waveform.size == 0:
            raise InputError(f"waveform must be non-empty mono (samples,), got {waveform.shape}")
        identity = np.asarray(identity)
        if identity.shape != (64, 64, 3) or identity.dtype != np.uint8:
            raise InputError(f"identity must be a uint8 (64, 64, 3) lip image, got "
                             f"{identity.dtype} {identity.shape}")
        num_frames = num_output_frames(len(waveform), SAMPLES_PER_FRAME)
        starts = covering_window_starts(num_frames, WINDOW, HOP)
        needed = (starts[-1] + WINDOW) * SAMPLES_PER_FRAME
        signal = np.zeros(needed, np.float32)
        signal[:min(needed, len(waveform))] = waveform[:needed]
        mel = self.log_mel(signal)
        span = WINDOW * MEL_FRAMES_PER_FRAME
        image = identity.astype(np.float32) / 127.5 - 1.0
        blender = WindowBlender(num_frames, WINDOW, HOP)
        for first in range(0, len(starts), batch_size):
            chunk = starts[first:first + batch_size]
            log_mels = np.stack([mel[MEL_FRAMES_PER_FRAME * s: MEL_FRAMES_PER_FRAME * s + span]
                                 for s in chunk])
            video = self.generate_window(log_mels, np.repeat(image[None], len(chunk), axis=0))
            for frames in video:
                for frame in blender.add(frames):
                    yield np.clip((frame + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)

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
