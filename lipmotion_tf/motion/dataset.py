"""Motion sequences from motion data, and the training windows ``keras fit`` reads.

Each clip becomes a :class:`MotionSequence`: its log-mel, its rest shape and the displacement
of every frame from it, all in the clip's mouth frame (:mod:`.representation`). Windows are
drawn per top-level folder of the data (``s1``, ``lrs2``, ``arabic_news``...) with the
weights of ``data.group_weights``, so that one large speaker does not dominate.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lipmotion_tf.audio.mel_filterbank import mel_centres
from lipmotion_tf.data.splits import assign_split
from lipmotion_tf.errors import DataError
from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.extract import MotionClip, clip_files, load_clip


@dataclasses.dataclass
class MotionSequence:
    """One clip in the mouth frame.

    Attributes:
        clip_id: ``<folder>/.../<stem>`` relative to the motion-data folder.
        group: the top-level folder (the weighting unit).
        log_mel: ``(4T, M)`` float32 log-mel in dB.
        rest: ``(P, 2)`` rest shape in the mouth frame.
        motion: ``(T, P, 2)`` displacements from ``rest``.
        found: ``(T,)`` frames where the face was found.
    """

    clip_id: str
    group: str
    log_mel: np.ndarray
    rest: np.ndarray
    motion: np.ndarray
    found: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


def mouth_motion(mesh: np.ndarray, found: np.ndarray, template: np.ndarray,
                 rest_fraction: float = 0.1):
    """A tracked face's motion and rest shape in its mouth frame: ``(T, P, 2)`` displacements
    from the ``(P, 2)`` rest shape. ``mesh`` holds :data:`~.representation.STORED_INDICES`
    points per frame."""
    stored = rep.STORED_INDICES
    frontal = rep.frontal_transform(rep.select(mesh, rep.STABLE_INDICES, stored), template)
    frontal_points = rep.apply(rep.select(mesh, rep.MOTION_INDICES, stored), frontal)
    frontal_rest = rep.rest_shape(frontal_points[found] if found.any() else frontal_points,
                                  rest_fraction)
    frame = rep.mouth_frame(frontal_rest)
    points = rep.apply(frontal_points, frame)[..., :2]
    rest = rep.apply(frontal_rest[None], frame)[0, :, :2]
    return (points - rest[None]).astype(np.float32), rest.astype(np.float32)


def to_sequence(clip: MotionClip, group: str, template: np.ndarray,
                rest_fraction: float = 0.1) -> MotionSequence:
    """The :class:`MotionSequence` of a prepared clip."""
    motion, rest = mouth_motion(clip.mesh, clip.found, template, rest_fraction)
    return MotionSequence(clip.clip_id, group, clip.log_mel.astype(np.float32), rest, motion,
                          clip.found)


def load_sequences(motion_dir: str | Path, template: np.ndarray, rest_fraction: float = 0.1,
                   split: str | None = None, val_fraction: float = 0.05,
                   test_fraction: float = 0.05) -> list[MotionSequence]:
    """All clips of a motion-data folder (optionally one split of them) as sequences.

    The split of a clip is :func:`~lipmotion_tf.data.splits.assign_split` of
    ``<parent folder>/<stem>``, the pixel data's clip id, so GRID s1's test clips are the same.
    """
    motion_dir = Path(motion_dir)
    sequences = []
    for path in clip_files(motion_dir):
        relative = path.relative_to(motion_dir).with_suffix("")
        pixel_id = f"{relative.parent.name}/{relative.name}"
        if split is not None and assign_split(pixel_id, val_fraction, test_fraction) != split:
            continue
        clip = load_clip(path, relative.as_posix())
        sequences.append(to_sequence(clip, relative.parts[0] if len(relative.parts) > 1
                                     else "clips", template, rest_fraction))
    if not sequences:
        raise DataError(f"no {split or ''} clips in {motion_dir}".replace("  ", " "))
    return sequences


#: Amplitudes are kept within e^-2..e^2 of a typical speaker's (a silent clip has none).
AMPLITUDE_LIMIT = 2.0


def speaking_amplitude(rest: np.ndarray, motion: np.ndarray, reference: float) -> float:
    """How widely a person opens their mouth: the natural log of the deviation of the
    inner-lip opening over ``motion`` (``(T, P, 2)`` from ``rest``), in units of
    ``reference``, within +-:data:`AMPLITUDE_LIMIT`."""
    deviation = float(rep.inner_opening(rest[None] + motion).std())
    return float(np.clip(np.log(max(deviation, 1e-6) / reference),
                         -AMPLITUDE_LIMIT, AMPLITUDE_LIMIT))


def window_at(sequence: MotionSequence, start: int, window: int, mel_frames_per_frame: int,
              context: int = 0):
    """``(log_mel, rest, motion)`` of the ``window`` frames of ``sequence`` from ``start``;
    the log-mel also holds ``context`` frames of speech on each side (the clip's edge mel
    frames repeated beyond its ends)."""
    m, end = mel_frames_per_frame, start + window
    first, last = m * (start - context), m * (end + context)
    total = sequence.log_mel.shape[0]
    log_mel = sequence.log_mel[max(0, first):min(total, last)]
    if first < 0 or last > total:
        log_mel = np.pad(log_mel, ((max(0, -first), max(0, last - total)), (0, 0)), mode="edge")
    return log_mel, sequence.rest, sequence.motion[start:end]


#: Speech-to-babble ratios of :func:`mixed` windows, dB.
BABBLE_SNR_DB = (5.0, 25.0)
#: Speech-to-noise ratios of windows with another clip's room tone mixed in, dB.
NOISE_SNR_DB = (0.0, 20.0)
#: The share of a clip's frames, its quietest, taken as its room tone (:func:`room_tone`).
ROOM_TONE_SHARE = 0.1


def retimed(log_mel: np.ndarray, motion: np.ndarray, frames: int):
    """A window's log-mel ``(m * T, M)`` and motion ``(T, P, 2)`` resampled together to
    ``frames`` video frames (linear in time): the same speech, faster or slower, with the
    mouth moving at its pace (speed perturbation)."""
    def resample(values, count):
        source = np.clip((np.arange(count) + 0.5) * len(values) / count - 0.5,
                         0.0, len(values) - 1.0)
        return linear_at(values, source, axis=0)

    per_frame = len(log_mel) // len(motion)
    return resample(log_mel, frames * per_frame), resample(motion, frames)


def mixed(log_mel: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    """``log_mel`` (dB) with ``other`` added in power, ``snr_db`` below it on average:
    another person talking over the speech."""
    def level(values):
        return 10.0 * np.log10(np.mean(np.power(10.0, values / 10.0)) + 1e-12)

    offset = level(log_mel) - level(other) - snr_db
    power = np.power(10.0, log_mel / 10.0) + np.power(10.0, (other + offset) / 10.0)
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


def room_tone(log_mel: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """``steps`` log-mel frames of a clip's room tone: frames drawn at random from its
    quietest :data:`ROOM_TONE_SHARE` (by their loudest band), the recording's noise without
    its speech, in no order (a steady background)."""
    count = max(1, int(len(log_mel) * ROOM_TONE_SHARE))
    quietest = np.argsort(log_mel.max(axis=1), kind="stable")[:count]
    return log_mel[quietest[rng.integers(0, count, steps)]]


def quiet_log_mel(frames: int, config, rng: np.random.Generator) -> np.ndarray:
    """The log-mel of a recording with no voice: low noise with a random spectral tilt."""
    mels = config.n_mels
    level = rng.uniform(-90.0, -45.0)
    tilt = np.linspace(0.0, rng.uniform(-20.0, 5.0), mels)
    noise = rng.normal(0.0, 3.0, (frames * config.mel_frames_per_frame, mels))
    return (level + tilt + noise).astype(np.float32)


def warp_frequencies(log_mel: np.ndarray, band_hz: np.ndarray, factor: float) -> np.ndarray:
    """``log_mel`` ``(N, M)`` as the same speech from a vocal tract ``factor`` times shorter:
    every frequency scaled by ``factor`` (vocal tract length perturbation), by linear
    interpolation between the bands; beyond the first and last band their values hold.

    Speakers' formants differ by up to about a fifth with the length of their vocal tract;
    a model that hears the same words at several lengths cannot tell its training people
    apart by them.
    """
    source = np.interp(band_hz / factor, band_hz, np.arange(len(band_hz), dtype=np.float64))
    return linear_at(log_mel, source, axis=1)


def linear_at(values: np.ndarray, source: np.ndarray, axis: int) -> np.ndarray:
    """``values`` at fractional positions ``source`` (within 0..n-1) along ``axis``, linearly
    interpolated between its neighbouring entries."""
    size = values.shape[axis]
    low = np.minimum(np.floor(source).astype(int), size - 2)
    share = (source - low).astype(np.float32)
    share = share.reshape((-1,) + (1,) * (values.ndim - 1 - axis))
    return (np.take(values, low, axis=axis) * (1.0 - share)
            + np.take(values, low + 1, axis=axis) * share)


class WindowSampler:
    """Draws training windows ``({"log_mel", "rest"}, motion)`` from sequences.

    Args:
        sequences: the training sequences (clips shorter than the window are skipped).
        window: frames per window.
        audio: the :class:`~lipmotion_tf.config.AudioConfig` (mel frames per frame).
        group_weights: share of windows per group; unnamed groups share the rest by frames.
        still_fraction: share of windows with no voice and a still mouth.
        seed: random seed.
        spec_augment: mask two random mel bands and two moments of each window.
        amplitude_reference: when given, each window also carries its clip's
            :func:`speaking_amplitude` (``"amplitude"``, ``(1,)``); a still window a random one.
        context: frames of speech on each side of each window's log-mel (:func:`window_at`).
        frequency_warp: each window's frequency axis is scaled by a random factor within
            ``1 +- frequency_warp`` (:func:`warp_frequencies`); 0: none.
        tempo: each window is drawn from ``window`` times a random factor within
            ``1 +- tempo`` frames of its clip, speech and motion resampled together to
            ``window`` frames (:func:`retimed`); 0: none.
        babble: share of windows with another clip's speech mixed in (:func:`mixed`).
        noise: share of windows with another clip's room tone (:func:`room_tone`) mixed in,
            :data:`NOISE_SNR_DB` below the speech.
    """

    def __init__(self, sequences, window: int, audio, group_weights=None,
                 still_fraction: float = 0.0, seed: int = 0, spec_augment: bool = False,
                 amplitude_reference: float | None = None, context: int = 0,
                 frequency_warp: float = 0.0, tempo: float = 0.0, babble: float = 0.0,
                 noise: float = 0.0):
        if tempo > 0 and context > 0:
            raise ValueError("tempo and context cannot be used together")
        self.window = int(window)
        self.tempo = float(tempo)
        self.babble = float(babble)
        self.noise = float(noise)
        self.frequency_warp = float(frequency_warp)
        self.band_hz = (mel_centres(audio.n_mels, audio.fmin, audio.fmax)
                        if self.frequency_warp > 0 else None)
        self.context = int(context)
        self.amplitude_reference = amplitude_reference
        self.spec_augment = bool(spec_augment)
        self.audio = audio
        self.still_fraction = float(still_fraction)
        self.rng = np.random.default_rng(seed)
        groups: dict[str, list[MotionSequence]] = {}
        for sequence in sequences:
            if sequence.num_frames >= self.window:
                groups.setdefault(sequence.group, []).append(sequence)
        if not groups:
            raise DataError(f"no clip has the {self.window} frames of a training window")
        self.groups = groups
        self.names = sorted(groups)
        frames = {g: sum(s.num_frames for s in groups[g]) for g in self.names}
        named = {g: float(w) for g, w in (group_weights or {}).items() if g in groups}
        left = max(0.0, 1.0 - sum(named.values()))
        rest_frames = sum(frames[g] for g in self.names if g not in named)
        weights = np.array([named[g] if g in named else
                            (left * frames[g] / rest_frames if rest_frames else 0.0)
                            for g in self.names])
        self.group_probability = weights / weights.sum()
        self.clip_probability = {
            g: np.array([s.num_frames for s in groups[g]], float) / frames[g] for g in self.names
        }
        self.amplitudes = {} if amplitude_reference is None else {
            id(s): speaking_amplitude(s.rest, s.motion, amplitude_reference)
            for clips in groups.values() for s in clips}

    @classmethod
    def from_config(cls, sequences, config, amplitude_reference: float | None,
                    window: int | None = None, weighted: bool = True) -> "WindowSampler":
        """The sampler a motion experiment ``config`` describes (``config.data``, the audio
        settings and seed); ``window`` instead of ``data.window``; ``weighted=False`` draws
        from every group in proportion to its frames (one person's videos)."""
        data = config.data
        return cls(sequences, data.window if window is None else window, config.audio,
                   data.group_weights if weighted else None, data.still_fraction,
                   seed=config.seed, spec_augment=data.spec_augment,
                   amplitude_reference=amplitude_reference, context=data.context,
                   frequency_warp=data.frequency_warp, tempo=data.tempo, babble=data.babble,
                   noise=data.noise)

    def describe(self) -> str:
        """One line per group: its clips and share of windows."""
        return ", ".join(f"{g} {len(self.groups[g])} clips {p:.0%}"
                         for g, p in zip(self.names, self.group_probability))

    def sample(self):
        """One random window ``(log_mel, rest, motion, amplitude)`` (amplitude 0 without
        ``amplitude_reference``)."""
        group = self.names[self.rng.choice(len(self.names), p=self.group_probability)]
        clips = self.groups[group]
        sequence = clips[self.rng.choice(len(clips), p=self.clip_probability[group])]
        span = self.window
        if self.tempo > 0:
            factor = self.rng.uniform(1.0 - self.tempo, 1.0 + self.tempo)
            span = min(sequence.num_frames, max(2, int(round(self.window * factor))))
        start = int(self.rng.integers(0, sequence.num_frames - span + 1))
        log_mel, rest, motion = window_at(sequence, start, span,
                                          self.audio.mel_frames_per_frame, self.context)
        if span != self.window:
            log_mel, motion = retimed(log_mel, motion, self.window)
        amplitude = self.amplitudes.get(id(sequence), 0.0)
        if self.rng.random() < self.still_fraction:
            log_mel = quiet_log_mel(self.window + 2 * self.context, self.audio, self.rng)
            motion = np.zeros_like(motion)
            amplitude = float(self.rng.uniform(-1.0, 1.0)) if self.amplitudes else 0.0
        else:
            # Options that are off draw nothing: the shipped recipe's windows stay the same.
            if self.babble > 0 and self.rng.random() < self.babble:
                log_mel = mixed(log_mel, self.other_speech(len(log_mel)),
                                self.rng.uniform(*BABBLE_SNR_DB))
            if self.noise > 0 and self.rng.random() < self.noise:
                log_mel = mixed(log_mel, room_tone(self.other_clip().log_mel, len(log_mel),
                                                   self.rng),
                                self.rng.uniform(*NOISE_SNR_DB))
            if self.frequency_warp > 0:
                factor = self.rng.uniform(1.0 - self.frequency_warp, 1.0 + self.frequency_warp)
                log_mel = warp_frequencies(log_mel, self.band_hz, factor)
            if self.spec_augment:
                log_mel = self.masked(log_mel)
        return log_mel, rest, motion, amplitude

    def other_clip(self) -> MotionSequence:
        """A random clip of a random group."""
        clips = self.groups[self.names[self.rng.choice(len(self.names))]]
        return clips[self.rng.choice(len(clips))]

    def other_speech(self, steps: int) -> np.ndarray:
        """``steps`` log-mel frames of a random clip's speech (any group)."""
        log_mel = self.other_clip().log_mel
        if len(log_mel) < steps:
            return np.pad(log_mel, ((0, steps - len(log_mel)), (0, 0)), mode="wrap")
        start = int(self.rng.integers(0, len(log_mel) - steps + 1))
        return log_mel[start:start + steps]

    def masked(self, log_mel: np.ndarray) -> np.ndarray:
        """SpecAugment-style masks: two bands of up to 1/8 of the mels, two spans of up to
        2 video frames, filled with the window's mean."""
        log_mel = log_mel.copy()
        fill = log_mel.mean()
        mels, steps = log_mel.shape[1], log_mel.shape[0]
        for _ in range(2):
            width = int(self.rng.integers(0, mels // 8 + 1))
            start = int(self.rng.integers(0, mels - width + 1))
            log_mel[:, start:start + width] = fill
            span = int(self.rng.integers(0, 2 * self.audio.mel_frames_per_frame + 1))
            begin = int(self.rng.integers(0, steps - span + 1))
            log_mel[begin:begin + span] = fill
        return log_mel

    def batches(self, batch_size: int):
        """An endless stream of batches ``({"log_mel", "rest"[, "amplitude"]}, motion)``."""
        while True:
            items = [self.sample() for _ in range(batch_size)]
            inputs = {"log_mel": np.stack([i[0] for i in items]),
                      "rest": np.stack([i[1] for i in items])}
            if self.amplitude_reference is not None:
                inputs["amplitude"] = np.array([[i[3]] for i in items], np.float32)
            yield inputs, np.stack([i[2] for i in items])

    def dataset(self, batch_size: int):
        """The batches as a ``tf.data.Dataset`` (prefetched)."""
        import tensorflow as tf

        m, mels = self.audio.mel_frames_per_frame, self.audio.n_mels
        points = next(iter(self.groups.values()))[0].rest.shape[0]
        heard = m * (self.window + 2 * self.context)
        inputs = {"log_mel": tf.TensorSpec((batch_size, heard, mels), tf.float32),
                  "rest": tf.TensorSpec((batch_size, points, 2), tf.float32)}
        if self.amplitude_reference is not None:
            inputs["amplitude"] = tf.TensorSpec((batch_size, 1), tf.float32)
        signature = (inputs, tf.TensorSpec((batch_size, self.window, points, 2), tf.float32))
        return tf.data.Dataset.from_generator(
            lambda: self.batches(batch_size), output_signature=signature).prefetch(2)


def fixed_windows(sequences, window: int, audio, limit: int = 512,
                  amplitude_reference: float | None = None, context: int = 0):
    """Non-overlapping windows of every sequence (a fixed validation set), at most ``limit``;
    with ``amplitude_reference``, each with its clip's :func:`speaking_amplitude`;
    ``context`` as :func:`window_at`'s."""
    items = [window_at(sequence, start, window, audio.mel_frames_per_frame, context)
             + (speaking_amplitude(sequence.rest, sequence.motion, amplitude_reference)
                if amplitude_reference is not None else 0.0,)
             for sequence in sequences
             for start in range(0, sequence.num_frames - window + 1, window)]
    if not items:
        raise DataError(f"no clip has the {window} frames of a window")
    if len(items) > limit:
        keep = np.random.default_rng(0).choice(len(items), limit, replace=False)
        items = [items[i] for i in sorted(keep)]
    inputs = {"log_mel": np.stack([i[0] for i in items]), "rest": np.stack([i[1] for i in items])}
    if amplitude_reference is not None:
        inputs["amplitude"] = np.array([[i[3]] for i in items], np.float32)
    return inputs, np.stack([i[2] for i in items])
