"""Dubbing long videos: wall time and peak memory against the length of the input.

    python benchmarks/dub_memory.py [--minutes 2 10] [--checkpoint CKPT] [--json F]

For each length, writes a talking-head video of that many minutes (a GRID clip from
``../shared/data`` played forward and backward, or the bundled face drifting sideways when
the data is absent) and speech of the same length (the bundled sample repeated), then runs
``lipmotion dub`` on them in a fresh process and reads that process's peak resident memory
from the kernel (``wait4``). Streaming means the peak should not grow with the length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "lipmotion_tf" / "assets" / "samples"


def write_inputs(folder: Path, minutes: float, data: Path) -> tuple[Path, Path]:
    """A ``minutes`` long video and speech file in ``folder``."""
    import numpy as np
    import soundfile as sf

    from lipmotion_tf.generate.dub import pingpong_index
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.testing import write_face_video
    from lipmotion_tf.video.reader import read_video

    fps = 25
    frames = int(minutes * 60 * fps)
    clip = data / "grid" / "s1" / "bbaf2n.mpg"
    source = read_video(clip) if clip.is_file() else read_video(
        write_face_video(folder / "face.mp4", 100, fps))
    video = folder / f"person_{minutes:g}min.mp4"
    with Mp4Writer(video, fps, source.shape[2], source.shape[1], None) as writer:
        for j in range(frames):
            writer.write(source[pingpong_index(j, len(source))])
    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    length = frames * rate // fps
    audio = folder / f"speech_{minutes:g}min.flac"
    sf.write(audio, np.tile(speech, length // len(speech) + 1)[:length], rate)
    return video, audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rows = []
    print(f"{'minutes':>7} {'frames':>7} {'wall s':>7} {'x realtime':>10} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for minutes in args.minutes:
            video, audio = write_inputs(folder, minutes, args.data)
            command = [sys.executable, "-m", "lipmotion_tf.cli.main", "dub", "--video",
                       str(video), "--audio", str(audio), "-o", str(folder / "out.mp4")]
            if args.checkpoint:
                command += ["--checkpoint", args.checkpoint]
            start = time.perf_counter()
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            summary = process.stdout.read().decode().strip().splitlines()
            if status != 0:
                raise SystemExit(f"dub failed on {minutes} min: {summary}")
            row = {"minutes": minutes, "frames": int(minutes * 60 * 25), "seconds": seconds,
                   "realtime_factor": minutes * 60 / seconds,
                   "peak_rss_mib": usage.ru_maxrss / 1024}
            rows.append(row)
            print(f"{minutes:7g} {row['frames']:7d} {seconds:7.1f} {row['realtime_factor']:10.2f} "
                  f"{row['peak_rss_mib']:9.0f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cpu": platform.processor() or platform.machine(),
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
