"""Reading speech from audio and video files: mono float32 at the model's sample rate.

Two decoders cover every input this project meets without an ffmpeg binary:

* soundfile (libsndfile) for wav, flac, ogg and mp3: the fastest path for plain audio files;
* PyAV (libav* inside its wheel) for everything else: m4a/aac, the audio track of mp4, mpg
  (GRID's MP2 audio), mkv, webm... PyAV also takes over when libsndfile refuses a file whose
  extension it claims (for example a ``.wav`` holding a compressed codec).

Channels are averaged; the result is resampled with soxr (librosa's own default resampler,
"HQ" quality) and clipped to [-1, 1], since lossy decoders and resampling can overshoot
full scale slightly. Every failure is an :class:`~lipmotion_tf.errors.InputError` with one
line naming the file.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

# Extensions libsndfile 1.2 reads natively (no ffmpeg needed).
SOUNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"}
)


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Decodes the first audio track of ``path`` into mono float32 samples at ``sample_rate``.

    Args:
        path: an audio file (wav, flac, ogg, mp3, m4a, aac...) or a video file with sound
            (mp4, mpg, mkv...).
        sample_rate: output rate in Hz; any input rate is resampled to it.

    Returns:
        ``(samples,)`` float32 array in [-1, 1].

    Raises:
        InputError: the file is missing, unreadable or corrupt, has no audio track or holds
            no samples.
    """
    path = _check_file(path)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
        try:
            samples, rate = _read_soundfile(path)
        except InputError:
            samples, rate = _read_pyav(path)  # e.g. a .wav with a codec libsndfile lacks
    else:
        samples, rate = _read_pyav(path)
    if samples.size == 0:
        raise InputError(f"{path} holds no audio samples")
    if rate != sample_rate:
        import soxr

        samples = soxr.resample(samples, rate, sample_rate, quality="HQ")
    samples = np.require(samples, np.float32, "W")  # a float32 array of our own, clipped in place
    return np.clip(samples, -1.0, 1.0, out=samples)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds of the first audio track of ``path``, from the header only.

    Cheap (nothing is decoded). For MPEG program streams (``.mpg``) the container's duration
    is an estimate; :func:`load_audio` gives the exact sample count.

    Raises:
        InputError: the file is missing or unreadable, or has no audio track.
    """
    path = _check_file(path)
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
        import soundfile

        try:
            return float(soundfile.info(str(path)).duration)
        except (soundfile.LibsndfileError, RuntimeError):
            pass  # let PyAV try
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise _no_audio_track(path, container)
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
    except av.FFmpegError as error:
        raise InputError(f"cannot read audio from {path}: {_reason(error)}") from None
    raise InputError(f"{path} does not state its duration")


def _no_audio_track(path: Path, container) -> InputError:
    """The error for a file where no audio stream was found, telling a video that was cut
    short (the decoder then sees only the streams that start in the part that is there)."""
    if container.streams.video:
        # Counting stops at a second of video: enough to tell, without reading a long file.
        packets = container.demux(container.streams.video[0])
        frames = sum(1 for _ in itertools.islice(packets, 25))
        if frames < 25:
            return InputError(
                f"{path} has no audio track and only {frames} readable video packets: the file "
                "looks truncated or damaged"
            )
    return InputError(f"{path} has no audio track")


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"audio file not found: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    return path


def _reason(error: Exception) -> str:
    """The decoder's reason in one line (PyAV's ``strerror`` has no errno or path noise)."""
    text = (getattr(error, "strerror", None) or str(error)).strip().splitlines()
    return text[0] if text else type(error).__name__


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise InputError(f"cannot read audio from {path}: {_reason(error)}") from None
    return data.mean(axis=1, dtype=np.float32), int(rate)


def _to_float(chunk: np.ndarray) -> np.ndarray:
    """Scales decoded samples of any sample format to float32 in [-1, 1]."""
    if chunk.dtype.kind == "f":
        return chunk.astype(np.float32, copy=False)
    if chunk.dtype == np.uint8:  # unsigned 8-bit PCM, centred on 128
        return (chunk.astype(np.float32) - 128.0) / 128.0
    scale = float(np.iinfo(chunk.dtype).max) + 1.0
    return chunk.astype(np.float32) / scale


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    chunks = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise _no_audio_track(path, container)
            stream = container.streams.audio[0]
            rate = stream.rate
            for frame in container.decode(stream):
                data = frame.to_ndarray()
                channels = len(frame.layout.channels)
                # Planar formats give (channels, n); packed ones (1, n * channels) interleaved.
                if not frame.format.is_planar:
                    data = data.reshape(-1, channels).T
                chunks.append(_to_float(data).mean(axis=0))
                rate = frame.sample_rate or rate
    except av.FFmpegError as error:
        raise InputError(f"cannot read audio from {path}: {_reason(error)}") from None
    if not chunks or not rate:
        raise InputError(f"{path} holds no audio samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), int(rate)
