"""``LipMotionPipeline``: speech of any length + one face or lip image -> lip frames.

The paper's generator makes 16 frames (0.64 s) at a time. The pipeline cuts the speech into
windows of 16 frames every 8 frames, computes each window's log-mel with the same
:class:`~lipmotion_tf.audio.log_mel.LogMelSpectrogram` layer as training, runs the generator
on batches of windows and cross-fades the overlaps (:class:`WindowBlender`), easing in from
the identity image over the first ``data.ease_in`` frames. Audio is processed chunk by chunk
and frames are handed out as soon as they are final, so memory does not grow with the length
of the speech.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION, check_max_duration, check_waveform
from lipmotion_tf.config import MAX_EASE_IN
from lipmotion_tf.errors import InputError, NoFaceError
from lipmotion_tf.generate.blending import WindowBlender, num_output_frames, speech_extension_index
from lipmotion_tf.video.image_io import check_image
from lipmotion_tf.video.pixels import to_uint8, to_unit_range


class LipMotionPipeline:
    """Generates lip movements for any speech from one identity image.

    Args:
        generator: a trained :class:`~lipmotion_tf.models.generator.LipGenerator`.
        config: the experiment configuration it was trained with (audio front end, window).
        batch_size: windows per generator call.
        windows_per_chunk: windows whose log-mel is computed in one go; bounds memory.
        max_duration: longest speech accepted, in seconds (``math.inf``: no limit).
        ease_in: frames over which the video eases in from the identity image
            (:func:`~lipmotion_tf.generate.blending.ease_in_weights`); None: the
            configuration's ``data.ease_in``.
    """

    def __init__(self, generator, config, batch_size: int = 8, windows_per_chunk: int = 64,
                 max_duration: float = DEFAULT_MAX_DURATION, ease_in: int | None = None):
        from lipmotion_tf.audio.log_mel import LogMelSpectrogram

        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        self.max_duration = check_max_duration(max_duration)
        self.generator = generator
        self.config = config
        self.batch_size = int(batch_size)
        self.windows_per_chunk = max(1, int(windows_per_chunk))
        self.ease_in = config.data.ease_in if ease_in is None else int(ease_in)
        if not 0 <= self.ease_in <= MAX_EASE_IN:
            raise InputError(f"ease-in must be from 0 to {MAX_EASE_IN} frames, got {self.ease_in}")
        self.log_mel = LogMelSpectrogram.from_audio_config(config.audio)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, **kwargs) -> "LipMotionPipeline":
        """Loads a generator checkpoint (default: the shipped demonstration model)."""
        from lipmotion_tf.generate.checkpoint import load_generator

        generator, config = load_generator(path)
        return cls(generator, config, **kwargs)

    # -- identity -----------------------------------------------------------------------

    def identity_from_image(self, image: np.ndarray, is_lip_crop: bool | None = None):
        """The 64x64 identity crop of a photo, and the crop box (None for a lip image).

        Args:
            image: RGB uint8 ``(H, W, 3)``: a photo with a face, or an already-cropped lip
                image.
            is_lip_crop: True takes the image as a lip crop, False requires a face; None
                looks for a face first and falls back to a lip crop when there is none and
                the image is small and roughly square (as lip crops are).

        Raises:
            NoFaceError: no face where one is required.
        """
        from lipmotion_tf.video.lip_crop import LipCropper, crop_box

        image = check_image(image, "identity image")
        size = self.config.data.image_size
        if not is_lip_crop:
            cropper = LipCropper(image_size=size, crop_scale=self.config.data.crop_scale)
            try:
                crop, box, _ = cropper.crop_image(image)
                return crop, box
            except NoFaceError:
                height, width = image.shape[:2]
                looks_like_lips = max(height, width) <= 256 and 0.5 <= width / height <= 2.0
                if is_lip_crop is False or not looks_like_lips:
                    raise NoFaceError(
                        "no face found in the image (pass --lip-image if it is already a lip crop)"
                    ) from None
                _note_lip_crop(width, height)
        height, width = image.shape[:2]
        box = np.array([width / 2, height / 2, min(height, width)], np.float32)
        return crop_box(image, box, size), None

    # -- frames -------------------------------------------------------------------------

    def num_frames(self, num_samples: int) -> int:
        return num_output_frames(num_samples, self.config.audio.samples_per_frame)

    def _window_log_mels(self, waveform: np.ndarray, starts: list[int]) -> Iterator[np.ndarray]:
        """Yields each window's ``(4 * window, n_mels)`` log-mel, computed chunk by chunk.

        Each chunk is cut from the waveform with two hops of real context on each side (the
        signal reflect-padded at its ends), so the result equals the log-mel of the whole
        continuous signal sliced per window. Only the chunk is copied: memory does not grow
        with the length of the speech.
        """
        audio = self.config.audio
        window = self.config.data.window
        hop = audio.hop_length
        spf = audio.samples_per_frame
        mpf = audio.mel_frames_per_frame
        context = 2 * hop  # >= n_fft // 2 for the default settings
        if context < audio.n_fft // 2:
            context = -(-(audio.n_fft // 2) // hop) * hop
        needed = (starts[-1] + window) * spf
        skip = context // hop
        for first in range(0, len(starts), self.windows_per_chunk):
            chunk_starts = starts[first:first + self.windows_per_chunk]
            a, b = chunk_starts[0], chunk_starts[-1] + window
            segment = padded_segment(waveform, needed, context, a * spf, b * spf + 2 * context)
            mel = np.asarray(self.log_mel(segment[None])[0])[skip:]
            for start in chunk_starts:
                offset = (start - a) * mpf
                yield mel[offset: offset + window * mpf]

    def iter_frames(self, waveform: np.ndarray, sample_rate: int,
                    identity_crop: np.ndarray) -> Iterator[np.ndarray]:
        """Yields generated lip frames (uint8 ``(64, 64, 3)``), 25 per second of speech.

        Args:
            waveform: mono float32 speech.
            sample_rate: its sample rate (resampled to the model rate when different).
            identity_crop: the 64x64 RGB uint8 identity lip image.
        """
        waveform = self._resample(waveform, sample_rate)
        window = self.config.data.window
        num_frames = self.num_frames(len(waveform))
        identity = to_unit_range(identity_crop)
        blender = WindowBlender(num_frames, window, self.config.data.hop, identity, self.ease_in)
        starts = blender.starts
        batch: list[np.ndarray] = []
        for index, log_mel in enumerate(self._window_log_mels(waveform, starts)):
            batch.append(log_mel)
            if len(batch) == self.batch_size or index == len(starts) - 1:
                video = self._run_generator(np.stack(batch), identity)
                batch = []
                for frames in video:
                    for frame in blender.add(frames):
                        yield to_uint8(frame)

    def _run_generator(self, log_mels: np.ndarray, identity: np.ndarray) -> np.ndarray:
        identities = np.repeat(identity[None], len(log_mels), axis=0)
        # predict_on_batch runs a compiled function: about 15% faster than an eager call.
        outputs = self.generator.predict_on_batch({"audio": log_mels, "identity": identities})
        return np.asarray(outputs["video"])

    def check_speech(self, waveform: np.ndarray, sample_rate: int,
                     source: str = "the speech") -> np.ndarray:
        """``waveform`` as float32 once it passes :func:`check_waveform` with this pipeline's
        duration limit (call it before opening outputs, so a refusal costs nothing).

        Raises:
            InputError: not mono, empty, non-finite samples or too long.
        """
        return check_waveform(waveform, sample_rate, self.max_duration, source)

    def _resample(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        waveform = self.check_speech(waveform, sample_rate)
        if sample_rate != self.config.audio.sample_rate:
            import soxr

            waveform = soxr.resample(waveform, sample_rate, self.config.audio.sample_rate)
        return waveform.astype(np.float32, copy=False)

    def generate(self, waveform: np.ndarray, sample_rate: int, image: np.ndarray,
                 is_lip_crop: bool | None = None) -> np.ndarray:
        """All generated frames at once: ``(N, 64, 64, 3)`` uint8, N = 25 x duration."""
        crop, _ = self.identity_from_image(image, is_lip_crop)
        return np.stack(list(self.iter_frames(waveform, sample_rate, crop)))


def _note_lip_crop(width: int, height: int) -> None:
    """Says, in one line, that a face-less image is being taken as a lip crop: a small photo
    whose face was not found would otherwise turn silently into a video of its middle."""
    import sys

    from tqdm import tqdm

    tqdm.write(f"lipmotion: note: no face found in the {width}x{height} image: taking it as "
               "an already-cropped lip image (--face-image requires a face)", file=sys.stderr)


def padded_segment(waveform: np.ndarray, length: int, context: int, start: int,
                   stop: int) -> np.ndarray:
    """``padded[start:stop]`` of ``padded = np.pad(signal, context, "reflect")``, where
    ``signal`` is ``waveform`` cut or extended to ``length`` samples
    (:func:`~lipmotion_tf.generate.blending.extend_speech`; ``"constant"`` padding when
    ``length <= context``, where reflection is undefined), without building either array."""
    index = np.arange(start, stop) - context
    if length > context:
        # The context reflects the signal at both ends: the same fold as the extension.
        index = speech_extension_index(index, length)
        inside = np.ones(index.shape, bool)
    else:
        inside = (index >= 0) & (index < length)
    values = np.zeros(index.shape, np.float32)
    values[inside] = waveform[speech_extension_index(index[inside], len(waveform))]
    return values
