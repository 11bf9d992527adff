"""Throughput of the tf.data input pipeline (windows per second).

Usage::

    python benchmarks/data_pipeline.py --data PREPARED_DIR [--split train] [--batches 100]
    python benchmarks/data_pipeline.py --synthetic-clips 400   # GRID-sized data, no prepare

Each repeat iterates a fresh pass of ``make_dataset`` for ``--batches`` batches (or to the end
of the pass), after one untimed warm-up pass that fills the in-memory cache. Prints the median
windows/s over the repeats (wall clock) and windows per CPU-second of the process (a figure
less disturbed by other jobs on the machine), and writes the figures as JSON with ``--json``. With
``--synthetic-clips`` a prepared folder of random 75-frame clips with noise audio is written to
a temporary folder first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path


def write_synthetic(root: Path, num_clips: int, config, num_frames: int = 75) -> None:
    """A prepared folder of ``num_clips`` random clips (random frames, noise audio)."""
    import numpy as np
    import tensorflow as tf

    from lipmotion_tf.data import records
    from lipmotion_tf.data.manifest import ClipEntry, Manifest

    rng = np.random.default_rng(0)
    size = config.data.image_size
    (root / "shards").mkdir(parents=True, exist_ok=True)
    shard = "shards/train-00000.tfrecord"
    entries = []
    with tf.io.TFRecordWriter(str(root / shard)) as writer:
        for index in range(num_clips):
            clip = records.PreparedClip(
                clip_id=f"synthetic/{index:05d}",
                speaker="synthetic",
                source=f"{index:05d}.mpg",
                frames=rng.integers(0, 256, (num_frames, size, size, 3), dtype=np.uint8),
                audio=rng.integers(-3000, 3000, num_frames * config.audio.samples_per_frame,
                                   dtype=np.int16),
                sample_rate=config.audio.sample_rate,
                boxes=np.zeros((num_frames, 3), np.float32),
                landmarks=np.zeros((num_frames, 40, 2), np.float32),
                face_found=np.ones(num_frames, bool),
                speech=np.ones(num_frames, np.int8),
                frame_size=(288, 360),
            )
            writer.write(records.serialize_clip(clip))
            entries.append(ClipEntry(clip.clip_id, clip.speaker, clip.source, "train", shard,
                                     num_frames, num_frames))
    Manifest(root, dataclasses.asdict(config.audio), size, config.data.crop_scale,
             entries).save()


def measure(data: Path, split: str, batches: int, repeats: int, training: bool, config) -> dict:
    from lipmotion_tf.data.pipeline import make_dataset

    dataset = make_dataset(data, split, config, training=training)
    start = time.perf_counter()
    for _ in dataset:  # warm-up: one full pass fills the cache
        pass
    first_pass_s = time.perf_counter() - start
    rates, cpu_rates = [], []
    for _ in range(repeats):
        windows = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        for index, batch in enumerate(dataset):
            if index >= batches:
                break
            windows += int(batch["video"].shape[0])
        rates.append(windows / (time.perf_counter() - start))
        cpu_rates.append(windows / (time.process_time() - cpu_start))
    return {
        "split": split,
        "training": training,
        "batch_size": config.data.batch_size,
        "cache": config.data.cache,
        "first_pass_s": round(first_pass_s, 3),
        "windows_per_s": [round(r, 1) for r in rates],
        "median_windows_per_s": round(statistics.median(rates), 1),
        # Windows per CPU-second of this process (all threads): less sensitive to other load.
        "median_windows_per_cpu_s": round(statistics.median(cpu_rates), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="prepared folder (manifest.json + shards)")
    parser.add_argument("--synthetic-clips", type=int, default=0,
                        help="benchmark a temporary synthetic folder of this many clips instead")
    parser.add_argument("--split", default="train")
    parser.add_argument("--batches", type=int, default=100, help="batches per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--eval", action="store_true", help="measure training=False")
    parser.add_argument("--no-cache", action="store_true", help="data.cache=false")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if (args.data is None) == (args.synthetic_clips <= 0):
        parser.error("give exactly one of --data and --synthetic-clips")

    from lipmotion_tf.config import load_config

    config = load_config(overrides=[f"data.batch_size={args.batch_size}",
                                    f"data.cache={not args.no_cache}"])
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "prepared"
            write_synthetic(data, args.synthetic_clips, config)
        result = measure(data, args.split, args.batches, args.repeats, not args.eval, config)
    result["data"] = str(args.data) if args.data else f"synthetic:{args.synthetic_clips}"
    print(f"{result['median_windows_per_s']:.0f} windows/s (median of {args.repeats}; "
          f"per repeat {result['windows_per_s']}; first pass {result['first_pass_s']} s); "
          f"{result['median_windows_per_cpu_s']:.0f} windows per CPU-second")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
