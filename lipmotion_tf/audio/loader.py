"""Reading speech from audio and video files: mono float32 at the model's sample rate.

Two decoders cover every input this project meets without an ffmpeg binary:

* soundfile (libsndfile) for wav, flac, ogg and mp3: the fastest path for plain audio files;
* PyAV (libav* inside its wheel) for everything else: m4a/aac, the audio track of mp4, mpg
  (GRID's MP2 audio), mkv, webm... PyAV also takes over when libsndfile refuses a file whose
  extension it claims (for example a ``.wav`` holding a compressed codec).

Channels are mixed to mono (:func:`downmix_weights`): mono and stereo are averaged; a
surround layout with a centre channel (3.0, 5.1, 7.1...) takes ITU-R BS.775's mono downmix,
``0.7071 (L + R) + C + 0.5 (Ls + Rs)`` with the LFE dropped, so that dialogue, which films
put in the centre channel, keeps its level (the plain mean of six channels puts it 15.6 dB
down); such a mix is scaled down as a whole if it would pass full scale. When the mix has
far less energy than the channels (:data:`CANCELLATION_DB` below them: one channel is the
inverse of another, a wiring fault of some recordings), the mix would be near silence, so
its loudest channel (the first of equals) is used instead, with a one-line warning.

The result is resampled with soxr (librosa's own default resampler, "HQ" quality) and
clipped to [-1, 1], since lossy decoders and resampling can overshoot full scale slightly.
Every failure is an :class:`~lipmotion_tf.errors.InputError` with one line naming the file.

With a ``max_duration``, speech longer than it is refused from the file's header before
anything is decoded (:func:`check_declared_duration`), and decoding stops once it passes the
limit (a header can be wrong or absent), so memory stays bounded by the limit.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import TooLongError, too_long
from lipmotion_tf.errors import InputError

# Extensions libsndfile 1.2 reads natively (no ffmpeg needed).
SOUNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif"}
)

#: A mix this many dB below the mean energy of its channels means they cancel each other.
CANCELLATION_DB = 20.0

# ITU-R BS.775 mono downmix (Table 2, 3/2 -> 1/0): fronts at -3 dB, centre at 0 dB, each
# surround at -6 dB; LFE left out. Layouts with more surround pairs share the surround weight.
_FRONT, _CENTRE, _SURROUND = 0.7071, 1.0, 0.5
_SURROUND_NAMES = frozenset({"BL", "BR", "SL", "SR", "BC", "TBL", "TBR"})
_LFE_NAMES = frozenset({"LFE", "LFE2"})
# FFmpeg's default order for a channel count given without a layout (a WAV without a mask).
_DEFAULT_ORDER = {3: ("FL", "FR", "FC"), 6: ("FL", "FR", "FC", "LFE", "BL", "BR"),
                  8: ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR")}


def load_audio(path: str | Path, sample_rate: int,
               max_duration: float | None = None) -> np.ndarray:
    """Decodes the first audio track of ``path`` into mono float32 samples at ``sample_rate``.

    Args:
        path: an audio file (wav, flac, ogg, mp3, m4a, aac...) or a video file with sound
            (mp4, mpg, mkv...).
        sample_rate: output rate in Hz; any input rate is resampled to it.
        max_duration: refuse speech longer than this many seconds, from the header before
            decoding, else once decoding passes it (None or ``inf``: no limit; the exact
            check on the samples is :func:`~lipmotion_tf.audio.validation.check_waveform`'s).

    Returns:
        ``(samples,)`` float32 array in [-1, 1].

    Raises:
        InputError: the file is missing, unreadable or corrupt, has no audio track, holds
            no samples or lasts longer than ``max_duration``.
    """
    path = _check_file(path)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    limit = None  # seconds of the user's limit, when there is one
    if max_duration is not None and float(max_duration) < math.inf:
        limit = float(max_duration)
        check_declared_duration(path, limit)
    # libsndfile does not say which channel is which: surround files go through FFmpeg.
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS and _soundfile_channels(path) <= 2:
        try:
            samples, rate = _read_soundfile(path, limit)
        except TooLongError:
            raise
        except InputError:
            samples, rate = _read_pyav(path, limit=limit)  # a codec libsndfile lacks
    else:
        samples, rate = _read_pyav(path, limit=limit)
    if samples.size == 0:
        raise InputError(f"{path} holds no audio samples")
    if rate != sample_rate:
        import soxr

        samples = soxr.resample(samples, rate, sample_rate, quality="HQ")
    samples = np.require(samples, np.float32, "W")  # a float32 array of our own, clipped in place
    return np.clip(samples, -1.0, 1.0, out=samples)


def _decoding_limit(max_duration: float) -> float:
    """Seconds after which decoding stops: the limit with room for a last partial frame and
    for how FFmpeg estimates some durations; the exact check comes after decoding."""
    return max_duration * 1.02 + 1.0


def check_declared_duration(path: str | Path, max_duration: float) -> None:
    """Refuses a file whose header says it lasts longer than ``max_duration`` seconds, without
    decoding it (a 3-hour FLAC is 2 GB of samples before a check on them could refuse it).
    Headers that state no duration, or one within :func:`_decoding_limit`, pass: decoding
    then stops at the limit. What the header shows to be wrong (a missing file, an image,
    a video without sound) is refused here too, before anything slow.

    Raises:
        TooLongError: the declared duration passes the limit (as
            :func:`~lipmotion_tf.audio.validation.check_waveform` words it).
        InputError: the file is missing, unreadable or has no audio track.
    """
    path = _check_file(path)
    declared = _declared_duration(path)
    limit = float(max_duration)
    if declared is not None and limit < math.inf and declared > _decoding_limit(limit):
        raise too_long(str(path), declared, limit)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds of the first audio track of ``path``, from the header only.

    Cheap (nothing is decoded). For MPEG program streams (``.mpg``) the container's duration
    is an estimate; :func:`load_audio` gives the exact sample count.

    Raises:
        InputError: the file is missing or unreadable, has no audio track, or its header
            states no duration.
    """
    path = _check_file(path)
    duration = _declared_duration(path)
    if duration is None:
        raise InputError(f"{path} does not state its duration")
    return duration


def _declared_duration(path: Path) -> float | None:
    """:func:`audio_duration`, None where the header states none."""
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
    return None


def _no_audio_track(path: Path, container) -> InputError:
    """The error for a file where no audio stream was found, telling an image given for
    speech, and a video that was cut short (the decoder then sees only the streams that start
    in the part that is there)."""
    name = container.format.name or ""
    if name in ("image2", "gif", "apng") or name.endswith("_pipe"):
        return InputError(f"{path} is an image, not audio: give speech (wav, flac, mp3, ogg, "
                          "m4a or a video with its sound)")
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


def downmix_weights(channel_names: tuple[str, ...]) -> np.ndarray:
    """Mono mixing weights for channels named as FFmpeg names them (``FL``, ``FC``...).

    A layout with a centre channel and front left/right (3.0, 5.1, 5.1(side), 7.1...) gets
    ITU-R BS.775's mono downmix, the LFE left out and further surround pairs sharing the
    surround weight; any other layout (mono, stereo, quad...) the plain mean. Unnamed
    channels (a WAV without a channel mask) are taken in FFmpeg's default order for their
    count (6: 5.1, 8: 7.1).
    """
    count = len(channel_names)
    if all(name in ("NONE", "USR", "") for name in channel_names):
        channel_names = _DEFAULT_ORDER.get(count, channel_names)
    names = tuple(channel_names)
    if {"FL", "FR", "FC"} <= set(names) and set(names) <= (
            {"FL", "FR", "FC"} | _SURROUND_NAMES | _LFE_NAMES):
        surrounds = sum(name in _SURROUND_NAMES for name in names)
        surround = _SURROUND * np.sqrt(2.0 / surrounds) if surrounds else 0.0
        weights = [_CENTRE if name == "FC" else _FRONT if name in ("FL", "FR")
                   else 0.0 if name in _LFE_NAMES else surround for name in names]
        return np.asarray(weights, np.float32)
    return np.full(count, 1.0 / count, np.float32)


@functools.lru_cache(maxsize=16)
def _cached_weights(channel_names: tuple[str, ...]) -> np.ndarray:
    return downmix_weights(channel_names)


def _cancels(mix_energy: float, channel_energy: float) -> bool:
    """Whether a mix is :data:`CANCELLATION_DB` or more below its channels' mean energy."""
    return channel_energy > 1e-12 and mix_energy < channel_energy * 10 ** (-CANCELLATION_DB / 10)


def _warn_cancelled(path: Path, mix_energy: float, channel_energy: float, channel: int) -> None:
    from tqdm import tqdm

    below = -10 * np.log10(max(mix_energy, 1e-30) / channel_energy)
    amount = f"{below:.0f} dB" if below < 60 else "over 60 dB"
    tqdm.write(f"lipmotion: warning: the channels of {path} cancel out when mixed (the mix is "
               f"{amount} below them: one is inverted?); using channel {channel + 1} alone",
               file=sys.stderr)


def _soundfile_channels(path: Path) -> int:
    """Channels libsndfile sees in ``path`` (0 when it cannot read the header)."""
    import soundfile

    try:
        return int(soundfile.info(str(path)).channels)
    except (soundfile.LibsndfileError, RuntimeError):
        return 0


def _read_soundfile(path: Path, limit: float | None = None) -> tuple[np.ndarray, int]:
    """Mono or stereo audio through libsndfile, mixed (see the module docstring); reading
    stops with an InputError past ``limit`` seconds (:func:`_decoding_limit`)."""
    import soundfile

    try:
        frames = -1
        if limit is not None:
            frames = int(_decoding_limit(limit) * soundfile.info(str(path)).samplerate) + 1
        data, rate = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise InputError(f"cannot read audio from {path}: {_reason(error)}") from None
    if frames > 0 and len(data) >= frames:
        raise too_long(str(path), len(data) / rate, limit, at_least=True)
    mix = data.mean(axis=1, dtype=np.float32)
    if data.shape[1] > 1 and len(mix):
        mix_energy = float(np.mean(np.square(mix, dtype=np.float64)))
        per_channel = np.mean(np.square(data, dtype=np.float64), axis=0)
        if _cancels(mix_energy, float(per_channel.mean())):
            loudest = int(np.argmax(per_channel))
            _warn_cancelled(path, mix_energy, float(per_channel.mean()), loudest)
            return np.ascontiguousarray(data[:, loudest]), int(rate)
    return mix, int(rate)


def _to_float(chunk: np.ndarray) -> np.ndarray:
    """Scales decoded samples of any sample format to float32 in [-1, 1]."""
    if chunk.dtype.kind == "f":
        return chunk.astype(np.float32, copy=False)
    if chunk.dtype == np.uint8:  # unsigned 8-bit PCM, centred on 128
        return (chunk.astype(np.float32) - 128.0) / 128.0
    scale = float(np.iinfo(chunk.dtype).max) + 1.0
    return chunk.astype(np.float32) / scale


def _read_pyav(path: Path, channel: int | None = None,
               limit: float | None = None) -> tuple[np.ndarray, int]:
    """Audio through FFmpeg, mixed to mono frame by frame (only the mix is held), or only
    ``channel``; a mix that cancels is read again as its fallback channel. Decoding stops
    with an InputError once it passes ``limit`` seconds (:func:`_decoding_limit`)."""
    import av

    chunks = []
    mix_energy = channel_energy = 0.0
    per_channel = None  # energy of each channel, while the layout stays the same
    surround = multichannel = False
    decoded = 0  # samples per channel so far
    stop = math.inf if limit is None else _decoding_limit(limit)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise _no_audio_track(path, container)
            stream = container.streams.audio[0]
            rate = stream.rate
            for frame in container.decode(stream):
                decoded += frame.samples
                if decoded > stop * (frame.sample_rate or rate or 1):
                    raise too_long(str(path), decoded / (frame.sample_rate or rate or 1),
                                   limit, at_least=True)
                data = frame.to_ndarray()
                names = tuple(c.name for c in frame.layout.channels)
                # Planar formats give (channels, n); packed ones (1, n * channels) interleaved.
                if not frame.format.is_planar:
                    data = data.reshape(-1, len(names)).T
                data = _to_float(data)
                if channel is not None:
                    chunks.append(np.array(data[min(channel, len(data) - 1)]))
                    rate = frame.sample_rate or rate
                    continue
                weights = _cached_weights(names)
                mix = weights @ data
                if len(names) > 1:
                    energies = np.sum(np.square(data, dtype=np.float64), axis=1)
                    if not multichannel:
                        per_channel, multichannel = np.zeros(len(names)), True
                    if per_channel is not None and len(per_channel) == len(names):
                        per_channel += energies * (weights != 0)  # never fall back to LFE
                    else:
                        per_channel = None  # the layout changed: fall back to channel 1
                    surround = surround or bool(weights.sum() > 1.0)
                    mix_energy += float(np.sum(np.square(mix, dtype=np.float64)))
                    channel_energy += float(energies[weights != 0].mean())
                chunks.append(mix)
                rate = frame.sample_rate or rate
    except av.FFmpegError as error:
        raise InputError(f"cannot read audio from {path}: {_reason(error)}") from None
    if not chunks or not rate:
        raise InputError(f"{path} holds no audio samples")
    if multichannel and _cancels(mix_energy, channel_energy):
        loudest = int(np.argmax(per_channel)) if per_channel is not None else 0
        _warn_cancelled(path, mix_energy, channel_energy, loudest)
        del chunks
        return _read_pyav(path, channel=loudest, limit=limit)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if surround:  # the downmix's weights add up to more than 1: no clipping, scale it down
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        if peak > 1.0:
            samples /= peak
    return samples, int(rate)
