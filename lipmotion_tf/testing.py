"""Helpers for tests: small configurations that build and run in seconds on a CPU."""

from __future__ import annotations

from lipmotion_tf.config import ExperimentConfig


def tiny_experiment_config() -> ExperimentConfig:
    """An :class:`ExperimentConfig` with tiny networks (width 8, one residual block).

    Geometry (64x64 lips, 128 mels, 16-frame windows) is unchanged, so every shape a test
    sees is a real one; only widths, depths and the batch size shrink. The generator has the
    shipped model's decoder (attention output, resize upsampling), so every export and
    serving test runs the architecture users get.
    """
    config = ExperimentConfig(name="tiny")
    model = config.model
    model.generator_channels = 8
    model.generator_res_blocks = 1
    model.discriminator_channels = 8
    model.flownet_channels = 8
    model.correlation_channels = 16
    model.autoencoder_channels = 8
    model.autoencoder_res_blocks = 1
    model.generator_output = "attention"
    model.generator_upsampling = "resize"
    config.data.batch_size = 2
    config.validate()
    return config


def write_prepared(root, splits=(("train", 3), ("val", 1)), frames: int = 24, seed: int = 0):
    """A small prepared-data folder (manifest + one shard per split) of smooth random clips,
    as ``lipmotion prepare`` would write it; returns ``root`` as a Path.

    Args:
        root: folder to write (created).
        splits: ``(split, clip count)`` pairs.
        frames: frames per clip (25 per second).
        seed: random seed of the pixels and the noise standing for speech.
    """
    import dataclasses
    from pathlib import Path

    import numpy as np
    import tensorflow as tf

    from lipmotion_tf.config import AudioConfig
    from lipmotion_tf.data.manifest import ClipEntry, Manifest
    from lipmotion_tf.data.records import PreparedClip, serialize_clip

    root = Path(root)
    rng = np.random.default_rng(seed)
    audio_config = AudioConfig()
    (root / "shards").mkdir(parents=True, exist_ok=True)
    entries = []
    for split, count in splits:
        shard = f"shards/{split}-00000.tfrecord"
        with tf.io.TFRecordWriter(str(root / shard)) as writer:
            for i in range(count):
                base = rng.uniform(0, 255, (8, 8, 3))
                video = np.stack([np.roll(base, t % 3, axis=1) for t in range(frames)])
                video = np.kron(video, np.ones((1, 8, 8, 1)))  # 64x64 blocks
                clip = PreparedClip(
                    clip_id=f"syn/{split}{i}", speaker="syn", source=f"{split}{i}.mp4",
                    frames=video.astype(np.uint8),
                    audio=rng.integers(-3000, 3000, frames * audio_config.samples_per_frame)
                    .astype(np.int16),
                    sample_rate=audio_config.sample_rate,
                    boxes=np.zeros((frames, 3), np.float32),
                    landmarks=np.zeros((frames, 40, 2), np.float32),
                    face_found=np.ones(frames, bool),
                    speech=np.ones(frames, np.int8),
                    frame_size=(288, 360),
                )
                writer.write(serialize_clip(clip))
                entries.append(
                    ClipEntry(clip.clip_id, "syn", clip.source, split, shard, frames, frames)
                )
    Manifest(root=root, audio=dataclasses.asdict(audio_config), image_size=64, crop_scale=1.3,
             clips=entries).save()
    return root


def write_face_video(path, frames: int = 45, fps: int = 30, black=(), face: bool = True,
                     sound: bool = True):
    """A video of the bundled face photo drifting one pixel sideways per frame, as a talking
    head would move, with the bundled speech as its sound; returns ``path``.

    Args:
        path: the ``.mp4`` to write.
        frames: video frames.
        fps: frame rate.
        black: indices of frames that are black (no face in them).
        face: False paints every frame flat grey (a video without a face).
        sound: False writes no audio track.
    """
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.video.image_io import read_image

    samples = Path(__file__).resolve().parent / "assets" / "samples"
    image = read_image(str(samples / "face.jpg"))
    if not face:
        image = np.full_like(image, 120)
    speech, rate = sf.read(samples / "speech.flac", dtype="float32")
    length = int(frames / fps * rate)
    audio = np.tile(speech, length // len(speech) + 1)[:length] if sound else None
    height, width = image.shape[:2]
    with Mp4Writer(path, fps, width, height, audio, rate) as writer:
        for t in range(frames):
            writer.write(np.zeros_like(image) if t in black else np.roll(image, t, axis=1))
    return Path(path)


def start_serve(model_base, *flags):
    """Starts ``lipmotion serve`` on a free port in a new process, as a user would.

    Returns:
        ``(process, port)`` once the server has printed its address; the caller stops it.

    Raises:
        AssertionError: the server did not start (its output is in the message).
    """
    import os
    import re
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "lipmotion_tf.cli.main", "serve", "--model-base-path",
         str(model_base), "--port", "0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    line = process.stdout.readline()
    match = re.search(r"on 127\.0\.0\.1:(\d+) \(gRPC\)", line)
    if not match:
        process.kill()
        raise AssertionError(f"serve did not start: {line!r} {process.stderr.read()}")
    return process, int(match.group(1))


def mouth_ring(centre_x: float, centre_y: float, half_width: float, gap: float):
    """A ``(1, 20, 2)`` inner-lip ring in the renderer's order
    (:data:`~lipmotion_tf.motion.representation.INNER_RING`): the upper contour from one corner to
    the other, then the lower one back, ``gap`` pixels apart at the middle."""
    import numpy as np

    upper_x = centre_x + half_width * np.linspace(-1.0, 1.0, 11)
    bulge = 1.0 - np.square((upper_x - centre_x) / half_width)
    upper = np.stack([upper_x, centre_y - 0.5 * gap * bulge], axis=1)
    lower = np.stack([upper_x[1:-1], centre_y + 0.5 * gap * bulge[1:-1]], axis=1)[::-1]
    return np.concatenate([upper, lower])[None].astype(np.float32)
