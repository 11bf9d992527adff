"""The ``tf.data`` input pipeline: prepared clips to batches of training windows.

Each batch is a dict (``B`` windows of ``W = data.window`` frames, ``S = data.image_size``,
``m`` log-mel frames per video frame, ``M = audio.n_mels``)::

    audio           (B, W*m, M)   float32  log-mel of the window (dB)
    video           (B, W, S, S, 3) float32 lip frames in [-1, 1]
    identity        (B, S, S, 3)  float32  one frame of the same clip in [-1, 1]
    mismatch_audio  (B, W*m, M)   float32  log-mel of a window of a *different* clip

and with ``include_metadata=True`` also ``clip_id`` (string), ``start`` (first frame),
``speech`` ``(B, W)`` per-frame speech flags (1 speech, 0 silence, -1 unknown) and
``mismatch_clip_id``.

Windows start every ``data.hop`` frames (``0, hop, 2*hop, ... <= T - W``; clips shorter than
``W`` give none). The log-mel is computed once per clip by
:class:`~lipmotion_tf.audio.log_mel.LogMelSpectrogram` and sliced per window as
:mod:`lipmotion_tf.audio.mel_window` defines.

Training (``training=True``) follows the authors' data rules: the identity is a random frame
of the same clip (not necessarily inside the window), and the mismatched audio (the
discriminator's "real video, wrong audio" term) is a random window of another clip. Clips and
then windows are shuffled; only full batches are kept. Everything random derives from one
seed, so the same seed gives the same batches (the order changes from epoch to epoch, the
same way on every run).

Evaluation (``training=False``) keeps the record order (shard after shard), uses the clip's
first frame as identity and, for the mismatch, the same window position in another clip.

The mismatched clip is the clip that follows in the (shuffled, in training) clip stream, the
last clip taking the first: clips of one pass are distinct, so no audio has to be held in
memory or read twice to guarantee another clip. A split of a single clip (evaluation only;
training refuses it) falls back to a window half a clip away in the same clip.

Decoded clips are cached in memory after the first pass when ``data.cache`` is true (about
1 MB per 3-s GRID clip). The module imports TensorFlow only inside its functions.
"""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.data.augment import augment_windows
from lipmotion_tf.data.manifest import ClipEntry, Manifest, load_manifest
from lipmotion_tf.data.still_windows import make_still_windows, quiet_log_mel
from lipmotion_tf.errors import DataError

# Clips held by the clip-level shuffle when clips are not cached (they are ~1 MB each).
_UNCACHED_CLIP_BUFFER = 256
_METADATA_KEYS = ("clip_id", "start", "speech", "mismatch_clip_id")


def window_starts(num_frames: int, window: int, hop: int) -> range:
    """First frames of a clip's windows: ``0, hop, 2*hop, ...`` up to ``num_frames - window``."""
    return range(0, max(num_frames - window + 1, 0), hop)


def count_windows(prepared_dir: str | Path, split: str, config) -> int:
    """Windows one pass of :func:`make_dataset` yields for ``split`` (before batching).

    Raises:
        DataError: see :func:`check_manifest`.
    """
    usable = check_manifest(load_manifest(prepared_dir), split, config)
    return sum(len(window_starts(c.num_frames, config.data.window, config.data.hop))
               for c in usable)


def check_manifest(manifest: Manifest, split: str, config) -> list[ClipEntry]:
    """Checks that prepared data fits ``config`` and returns the usable clips of ``split``.

    Raises:
        DataError: different audio settings or crop size, an empty split, or no clip long
            enough for one window.
    """
    import dataclasses

    expected = dataclasses.asdict(config.audio)
    for key, value in manifest.audio.items():
        if key in expected and expected[key] != value:
            raise DataError(
                f"{manifest.root} was prepared with audio.{key}={value} but the config has "
                f"{expected[key]}: prepare the data again or change the config"
            )
    if "sample_rate" not in manifest.audio:
        raise DataError(f"{manifest.root}: the manifest does not record audio.sample_rate")
    if manifest.image_size != config.data.image_size:
        raise DataError(
            f"{manifest.root} holds {manifest.image_size}-pixel crops but data.image_size is "
            f"{config.data.image_size}"
        )
    shards = manifest.shards(split)  # raises DataError on an unknown split name
    entries = manifest.clips_in(split)
    if not entries:
        raise DataError(f"split '{split}' of {manifest.root} holds no clips")
    usable = [c for c in entries if c.num_frames >= config.data.window]
    if not usable:
        raise DataError(
            f"no clip of split '{split}' in {manifest.root} has the {config.data.window} "
            "frames of one window"
        )
    missing = [p for p in shards if not p.is_file()]
    if missing:
        raise DataError(f"shard listed in the manifest is missing: {missing[0]}")
    return usable


def clip_dataset(prepared_dir: str | Path, split: str, config, interleave: bool = False):
    """One element per usable clip with its whole-clip log-mel.

    Clips come in record order (shard after shard) unless ``interleave``, which reads up to
    four shards at once (faster, still deterministic, order mixed across shards).

    Elements: ``clip_id`` (string), ``num_frames`` (int32), ``log_mel`` ``(T*m, n_mels)``
    float32 (the final mel frame, which belongs to no video frame, is dropped),
    ``frames`` ``(T, S, S, 3)`` uint8 and ``speech`` ``(T,)`` int32.

    Raises:
        DataError: see :func:`check_manifest`.
    """
    import tensorflow as tf

    from lipmotion_tf.audio.log_mel import LogMelSpectrogram
    from lipmotion_tf.data import records

    manifest = load_manifest(prepared_dir)
    check_manifest(manifest, split, config)
    files = [str(p) for p in manifest.shards(split)]
    log_mel_layer = LogMelSpectrogram.from_audio_config(config.audio, name="clip_log_mel")
    mel_per_frame = config.audio.mel_frames_per_frame
    image_size = config.data.image_size
    n_mels = config.audio.n_mels
    spec = {k: v for k, v in records.feature_spec().items()
            if k in ("clip_id", "num_frames", "frames", "audio", "speech", "face_found")}

    def parse(serialized):
        parsed = tf.io.parse_single_example(serialized, spec)
        num_frames = tf.cast(parsed["num_frames"], tf.int32)
        audio = tf.cast(tf.io.decode_raw(parsed["audio"], tf.int16), tf.float32) / 32768.0
        log_mel = log_mel_layer(audio)[: num_frames * mel_per_frame]
        frames = tf.io.decode_raw(parsed["frames"], tf.uint8)
        return {
            "clip_id": parsed["clip_id"],
            "num_frames": num_frames,
            "log_mel": tf.reshape(log_mel, [-1, n_mels]),
            "frames": tf.reshape(frames, [num_frames, image_size, image_size, 3]),
            "speech": tf.cast(tf.sparse.to_dense(parsed["speech"]), tf.int32),
            "face_found": tf.cast(tf.sparse.to_dense(parsed["face_found"]), tf.int32),
        }

    parallel_reads = min(len(files), 4) if interleave else None
    dataset = tf.data.TFRecordDataset(files, num_parallel_reads=parallel_reads)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    window = config.data.window
    return dataset.filter(lambda clip: clip["num_frames"] >= window)


def make_dataset(
    prepared_dir: str | Path,
    split: str,
    config,
    training: bool,
    seed: int | None = None,
    include_metadata: bool = False,
    extra_dirs=(),
):
    """Batches of windows from a prepared folder (see the module docstring for the contents).

    Args:
        prepared_dir: folder written by ``lipmotion prepare`` (manifest + shards).
        split: ``train``, ``val``, ``test`` or ``all``.
        config: the :class:`~lipmotion_tf.config.ExperimentConfig`.
        training: shuffle, draw random identities and drop the last partial batch; with
            ``data.augment`` also transform each window's appearance
            (:mod:`lipmotion_tf.data.augment`), and with ``data.still_fraction`` turn a
            share of the windows still (:mod:`lipmotion_tf.data.still_windows`).
        seed: seed of every random choice; ``None`` uses ``config.seed``.
        include_metadata: add ``clip_id``, ``start``, ``speech`` and ``mismatch_clip_id``.
        extra_dirs: more prepared folders mixed in (training only, every split of them is
            used). Windows are drawn from the sources in the proportions
            ``data.source_weights`` (default: their window counts); each source repeats,
            so the dataset is infinite.

    Returns:
        A ``tf.data.Dataset`` of dicts: one pass over the split's windows (infinite with
        ``extra_dirs``).

    Raises:
        DataError: missing or inconsistent data, an empty split, or for training fewer
            than two clips (the mismatched audio needs another clip) or than one batch.
    """
    import tensorflow as tf

    seed = config.seed if seed is None else int(seed)
    if extra_dirs and not training:
        raise DataError("extra data folders are for training only")
    dataset, windows = _window_stream(prepared_dir, split, config, training, seed,
                                      include_metadata)
    if extra_dirs:
        streams, counts = [dataset.repeat()], [windows]
        for index, extra in enumerate(extra_dirs):
            stream, count = _window_stream(extra, "all", config, True, seed + 100 * (index + 1),
                                           include_metadata)
            streams.append(stream.repeat())
            counts.append(count)
        weights = list(config.data.source_weights) or counts
        if len(weights) != len(streams):
            raise DataError(
                f"data.source_weights has {len(weights)} entries for {len(streams)} data folders"
            )
        total = float(sum(weights))
        dataset = tf.data.Dataset.sample_from_datasets(
            streams, weights=[w / total for w in weights], seed=seed + 3
        )
    if training:
        dataset = dataset.shuffle(
            config.data.shuffle_buffer, seed=seed + 2, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(config.data.batch_size, drop_remainder=training)
    augment = training and config.data.augment
    still = training and config.data.still_fraction > 0
    quiet = quiet_log_mel(config.audio, seed) if still else None

    def finish(batch, random_value):
        identity = _to_unit_range(batch["identity"])
        video = _to_unit_range(batch["video"])
        audio = batch["audio"]
        if augment:
            identity, video = augment_windows(identity, video, random_value)
        if still:
            audio, video = make_still_windows(audio, video, identity, random_value,
                                              config.data.still_fraction, quiet)
        out = {
            "audio": audio,
            "video": video,
            "identity": identity,
            "mismatch_audio": batch["mismatch_audio"],
        }
        if include_metadata:
            out.update({key: batch[key] for key in _METADATA_KEYS})
        return out

    random = tf.data.Dataset.random(seed=seed + 4, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(dataset, random)
    dataset = dataset.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _window_stream(prepared_dir, split, config, training, seed, include_metadata):
    """Unbatched windows of one folder's split (one pass) and their count."""
    import tensorflow as tf

    manifest = load_manifest(prepared_dir)
    usable = check_manifest(manifest, split, config)
    if training and len(usable) < 2:
        raise DataError(
            f"split '{split}' of {manifest.root} has {len(usable)} usable clip; training needs "
            "at least 2 (the mismatched audio comes from another clip)"
        )
    window, hop = config.data.window, config.data.hop
    num_windows = sum(len(window_starts(c.num_frames, window, hop)) for c in usable)
    if training and num_windows < config.data.batch_size:
        raise DataError(
            f"split '{split}' of {manifest.root} has {num_windows} windows, fewer than one "
            f"batch of {config.data.batch_size}"
        )
    mel_per_frame = config.audio.mel_frames_per_frame
    num_clips = len(usable)

    clips = clip_dataset(prepared_dir, split, config, interleave=training)
    if config.data.cache:
        clips = clips.cache()
    if training:
        buffer = num_clips if config.data.cache else min(num_clips, _UNCACHED_CLIP_BUFFER)
        clips = clips.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        random = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)
    else:
        random = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    pairs = _with_next_clip(clips, config.data.image_size, config.audio.n_mels)

    def cut_windows(pair, random_value):
        clip, partner = pair
        windows = _cut_windows(clip, partner, random_value, window, hop, mel_per_frame, training)
        if not include_metadata:
            for key in _METADATA_KEYS:
                del windows[key]
        return windows

    dataset = tf.data.Dataset.zip(pairs, random)
    return dataset.map(cut_windows, num_parallel_calls=tf.data.AUTOTUNE).unbatch(), num_windows


def _to_unit_range(images):
    """uint8 [0, 255] to float32 [-1, 1], i.e. ``x * 2 / 255 - 1``.

    Done once per batch (the shuffle buffer holds 4x less data as uint8). ``Dequantize``
    does it in one pass, twice as fast as cast, multiply and subtract, with the same result.
    """
    import tensorflow as tf

    return tf.quantization.dequantize(
        tf.bitcast(images, tf.quint8), min_range=-1.0, max_range=1.0, mode="MIN_COMBINED"
    )


def _with_next_clip(clips, image_size: int, n_mels: int):
    """Pairs each clip with the clip after it in the stream (the last with the first).

    ``(clip, partner)`` elements, partner = ``{clip_id, log_mel, num_frames}``. Clips of one
    pass are distinct, so the partner is another clip whenever the stream holds two or more.
    A ``scan`` holds back each clip until the next one arrives; an end marker appended to the
    stream releases the last clip, paired with the first. Nothing is copied or read twice.
    """
    import tensorflow as tf

    def partner_of(clip):
        return {key: clip[key] for key in ("clip_id", "log_mel", "num_frames")}

    empty = {
        "clip_id": tf.constant(""),
        "num_frames": tf.constant(-1, tf.int32),  # -1 marks the end of the stream
        "log_mel": tf.zeros([0, n_mels], tf.float32),
        "frames": tf.zeros([0, image_size, image_size, 3], tf.uint8),
        "speech": tf.zeros([0], tf.int32),
        "face_found": tf.zeros([0], tf.int32),
    }
    stream = clips.concatenate(tf.data.Dataset.from_tensors(empty))

    def step(state, clip):
        first, previous, seen = state
        at_end = clip["num_frames"] < 0
        partner = tf.cond(at_end, lambda: partner_of(first), lambda: partner_of(clip))
        first = tf.cond(tf.equal(seen, 0), lambda: partner_of(clip), lambda: first)
        return (first, clip, seen + 1), (seen > 0, previous, partner)

    initial = (partner_of(empty), empty, tf.constant(0, tf.int64))
    paired = stream.scan(initial, step).filter(lambda ready, clip, partner: ready)
    return paired.map(lambda ready, clip, partner: (clip, partner))


def _cut_windows(clip, partner, random_value, window, hop, mel_per_frame, training):
    """All windows of one clip, stacked: the body of the clip-level ``map``."""
    import tensorflow as tf

    num_frames = clip["num_frames"]
    starts = tf.range(0, num_frames - window + 1, hop, dtype=tf.int32)
    count = tf.shape(starts)[0]
    frame_index = starts[:, None] + tf.range(window)[None, :]
    mel_offsets = tf.range(window * mel_per_frame)[None, :]

    if training:
        # The identity is a frame where the face was really seen (not a borrowed box).
        good_frames = tf.cast(tf.where(clip["face_found"] > 0)[:, 0], tf.int32)
        good_frames = tf.cond(tf.size(good_frames) > 0, lambda: good_frames,
                              lambda: tf.range(num_frames))
        identity_index = tf.gather(good_frames, tf.random.stateless_uniform(
            [count], seed=tf.stack([random_value, 0]), minval=0,
            maxval=tf.size(good_frames), dtype=tf.int32,
        ))
    else:
        identity_index = tf.zeros([count], tf.int32)

    partner_id = partner["clip_id"]
    partner_windows = partner["num_frames"] - window + 1
    if training:
        partner_starts = tf.random.stateless_uniform(
            [count], seed=tf.stack([random_value, 1]), minval=0, maxval=partner_windows,
            dtype=tf.int32,
        )
    else:
        same_clip = tf.equal(partner_id, clip["clip_id"])  # only in a one-clip split
        shift = tf.where(same_clip, tf.maximum(partner_windows // 2, 1), 0)
        partner_starts = (tf.minimum(starts, partner_windows - 1) + shift) % partner_windows

    mel_dim = clip["log_mel"].shape[-1]
    mels = tf.gather(clip["log_mel"], mel_per_frame * starts[:, None] + mel_offsets)
    mismatch = tf.gather(partner["log_mel"], mel_per_frame * partner_starts[:, None] + mel_offsets)
    windows = {
        "audio": tf.reshape(mels, [count, window * mel_per_frame, mel_dim]),
        "video": tf.gather(clip["frames"], frame_index),
        "identity": tf.gather(clip["frames"], identity_index),
        "mismatch_audio": tf.reshape(mismatch, [count, window * mel_per_frame, mel_dim]),
        "clip_id": tf.fill([count], clip["clip_id"]),
        "start": starts,
        "speech": tf.gather(clip["speech"], frame_index),
        "mismatch_clip_id": tf.fill([count], partner_id),
    }
    if training:
        # Frames without a detected face (damaged video) carry a borrowed crop; a window
        # holding one would teach the networks frozen or smeared lips.
        seen = tf.reduce_all(tf.gather(clip["face_found"], frame_index) > 0, axis=1)
        windows = {key: tf.boolean_mask(value, seen) for key, value in windows.items()}
    return windows
