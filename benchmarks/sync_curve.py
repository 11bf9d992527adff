"""The sync expert's training curves as a picture (from the runs' ``sync_log.csv``).

    python benchmarks/sync_curve.py RUN_DIR [RUN_DIR ...] --figure docs/images/sync_training.png

Left: the matching accuracy of single windows (the aligned mouth picked among 17 shifts and
the batch's other clips), training and validation. Right: the validation clips' offset
accuracy (a whole clip's sound shifted by 0, +-3, +-6, +-10 frames, found within one frame).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--figure", type=Path, default=Path("sync_training.png"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (windows, clips) = plt.subplots(1, 2, figsize=(10, 3.6))
    for run in args.runs:
        with open(run / "sync_log.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        epochs = [int(r["epoch"]) + 1 for r in rows]
        line, = windows.plot(epochs, [float(r["accuracy"]) for r in rows], "--",
                             label=f"{run.name} training")
        windows.plot(epochs, [float(r["val_accuracy"]) for r in rows], color=line.get_color(),
                     label=f"{run.name} validation")
        clips.plot(epochs, [float(r["val_offset_accuracy"]) for r in rows],
                   color=line.get_color(), marker="o", label=run.name)
    windows.set(title="one window: aligned mouth picked", xlabel="epoch", ylabel="accuracy")
    clips.set(title="validation clips: shift found within 1 frame", xlabel="epoch",
              ylim=(0.8, 1.0))
    windows.legend(fontsize=8)
    clips.legend(fontsize=8)
    fig.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
