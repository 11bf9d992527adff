"""Peak memory against the size of the input (issue 33): prepare, a large photo, long speech.

    python benchmarks/input_memory.py [--cases prepare photo speech] [--speech-minutes 1 10]
                                      [--photo-max-size PIXELS ...] [--json F]

Makes its inputs in a temporary folder with the ffmpeg binary of ``imageio-ffmpeg`` (from the
bundled face photo and speech sample): a 60 s 1280x720 clip with sound, a 4000x3000 (12 MP)
photo, and speech of each ``--speech-minutes``. Then runs, each in a fresh process:

* ``lipmotion prepare`` of the 60 s 720p clip (``--workers 1``: in that process);
* ``lipmotion generate`` on the 12 MP photo with 3 s of speech (the default motion model,
  ``--layout face``), at each ``--photo-max-size`` (default: the command's default);
* ``lipmotion generate`` with each length of speech (the bundled photo).

Each process's peak resident memory is read from the kernel (``wait4``'s ``ru_maxrss``).
This script imports nothing heavy, so the figure is the child's own: a child inherits the
high-water mark of the process it was started from. Figures are printed, not asserted.
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


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg  # a pure-Python locator of the binary: nothing heavy

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args],
                   check=True)


def make_clip(path: Path, seconds: float) -> Path:
    """``seconds`` of 1280x720 25 fps H.264 video of the bundled face with its speech."""
    ffmpeg("-loop", "1", "-framerate", "25", "-i", str(SAMPLES / "face.jpg"),
           "-stream_loop", "-1", "-i", str(SAMPLES / "speech.flac"),
           "-vf", "scale=-2:720,pad=1280:720:(ow-iw)/2:0,format=yuv420p",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
           "-c:a", "aac", "-shortest", str(path))
    return path


def make_photo(path: Path, width: int = 4000, height: int = 3000) -> Path:
    ffmpeg("-i", str(SAMPLES / "face.jpg"), "-vf",
           f"scale={width}:-2,pad={width}:{height}:0:(oh-ih)/2", "-q:v", "3", str(path))
    return path


def make_speech(path: Path, seconds: float) -> Path:
    ffmpeg("-stream_loop", "-1", "-i", str(SAMPLES / "speech.flac"), "-t", str(seconds),
           str(path))
    return path


def measure(arguments: list[str]) -> dict:
    """Runs ``lipmotion ARGUMENTS`` in a fresh process: wall time and peak memory."""
    command = [sys.executable, "-m", "lipmotion_tf.cli.main", *arguments]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)  # files: never full
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        printed, errors = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"lipmotion {' '.join(arguments)} failed:\n{errors[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024),
            "printed": printed.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["prepare", "photo", "speech"],
                        choices=("prepare", "photo", "speech"))
    parser.add_argument("--clip-seconds", type=float, default=60.0)
    parser.add_argument("--speech-minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--photo-max-size", type=int, nargs="+", default=[None],
                        help="generate --max-size values for the photo case (0: full size)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rows = []
    print(f"{'case':<60} {'wall s':>7} {'peak MiB':>9}", flush=True)

    def report(name: str, result: dict) -> None:
        rows.append({"case": name, **result})
        print(f"{name:<60} {result['seconds']:7.1f} {result['peak_rss_mib']:9d}", flush=True)

    with tempfile.TemporaryDirectory(prefix="lipmotion-input-memory-") as folder:
        folder = Path(folder)
        if "prepare" in args.cases:
            videos = folder / "videos" / "person"
            videos.mkdir(parents=True)
            make_clip(videos / "talk.mp4", args.clip_seconds)
            report(f"prepare, {args.clip_seconds:g} s 1280x720 clip",
                   measure(["prepare", str(folder / "videos"), str(folder / "prepared"),
                            "--workers", "1", "--no-progress"]))
        if "photo" in args.cases:
            photo = make_photo(folder / "photo_12mp.jpg")
            speech = make_speech(folder / "speech_3s.flac", 3.0)
            for max_size in args.photo_max_size:
                flags = [] if max_size is None else ["--max-size", str(max_size)]
                label = "" if max_size is None else f", --max-size {max_size}"
                report(f"generate, 4000x3000 photo, 3 s of speech{label}",
                       measure(["generate", "--image", str(photo), "--audio", str(speech),
                                "-o", str(folder / "photo.mp4"), *flags]))
        if "speech" in args.cases:
            for minutes in args.speech_minutes:
                speech = make_speech(folder / f"speech_{minutes:g}min.flac", minutes * 60)
                report(f"generate, {minutes:g} min of speech",
                       measure(["generate", "--audio", str(speech),
                                "-o", str(folder / f"speech_{minutes:g}.mp4")]))
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                         "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
