"""``lipmotion evaluate --motion-only``: the motion model scored on landmarks, no rendering.

For each clip of a motion-data folder (``lipmotion prepare-motion``) the model predicts the
motion from the clip's speech and its own rest shape, and :mod:`.measures` compares it with
the clip's real motion. The static baseline is the rest shape held still. Also the
still-audio check: a recording with no voice must leave every rest shape where it is.
Writes OUT/report.json, OUT/report.md and OUT/mouth_opening.png (real vs generated
openings of a few clips).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lipmotion_tf.motion.measures import evaluate_sequences, opening, predict_motion

SPLITS = ("test", "val", "train", "all")
#: How the report names each interval of the summary, and its decimals.
INTERVAL_LABELS = {"lmd_vs_static": ("LMD vs static", 2), "sync": ("sync", 2),
                   "opening_ratio": ("opening ratio", 2), "motion_ratio": ("motion ratio", 2)}


def opening_figure(generator, sequences, path: Path, fps: int) -> None:
    """Mouth opening over time, real vs generated, one panel per clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sequences), 1, figsize=(9, 2.2 * len(sequences)), squeeze=False)
    for axis, sequence in zip(axes[:, 0], sequences):
        generated = predict_motion(generator, sequence.log_mel, sequence.rest)
        seconds = np.arange(sequence.num_frames) / fps
        axis.plot(seconds, opening(sequence.rest, sequence.motion), label="real", color="black")
        axis.plot(seconds, opening(sequence.rest, generated), label="generated", color="tab:red")
        axis.set_title(sequence.clip_id, fontsize=9)
        axis.set_ylabel("opening\n(mouth widths)", fontsize=8)
    axes[-1, 0].set_xlabel("seconds")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_motion(data_dir, out_dir, checkpoint=None, split: str = "test",
                    limit: int | None = None, examples: int = 3, name: str = "motion",
                    folders=(), sync_checkpoint=None) -> dict:
    """Scores a motion model on a motion-data folder and writes the report files.

    ``folders``: keep only clips under these top-level folders of the data (``s3``, ``lrw``).
    ``sync_checkpoint``: the sync expert judging LSE-D/LSE-C/offset (default: the shipped one).
    """
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.evaluation.intervals import format_intervals
    from lipmotion_tf.motion.dataset import load_sequences
    from lipmotion_tf.motion.pipeline import motion_checkpoint
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.motion.training import load_motion_generator
    from lipmotion_tf.sync.judge import SyncJudge

    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    generator, config = load_motion_generator(checkpoint or motion_checkpoint())
    sequences = load_sequences(data_dir, FRONTAL_TEMPLATE, config.data.rest_fraction,
                               split=None if split == "all" else split,
                               val_fraction=config.data.val_fraction,
                               test_fraction=config.data.test_fraction)
    if folders:
        sequences = [s for s in sequences if s.group in set(folders)]
        if not sequences:
            raise InputError(f"no {split} clips in {', '.join(folders)} of {data_dir}")
    if limit is not None:
        sequences = sequences[:limit]
    judge = SyncJudge.from_checkpoint(sync_checkpoint)
    heard, read = judge.config.audio, config.audio
    if (heard.n_mels, heard.mel_frames_per_frame) != (read.n_mels, read.mel_frames_per_frame):
        raise InputError(f"the sync expert reads {heard.n_mels} mel bands at "
                         f"{heard.mel_frames_per_frame} per frame, the motion model "
                         f"{read.n_mels} at {read.mel_frames_per_frame}: give --sync-checkpoint "
                         "an expert trained with the model's audio settings")
    result = evaluate_sequences(generator, sequences, config.audio, judge)
    if generator.amplitude_input:  # also as dub sees a speaker: with their own amplitude
        result["own_amplitude"] = evaluate_sequences(
            generator, sequences, amplitude_reference=config.model.amplitude_reference)["summary"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"model": name, "data": str(data_dir), "split": split,
              "folders": list(folders), **result}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    s = result["summary"]

    def lse(subject):
        return (f"{s[subject + '_lse_d']:.3f} | {s[subject + '_lse_c']:.3f} | "
                f"{s[subject + '_av_offset']:+.0f}")

    lines = [
        f"# Motion-only evaluation: {name} on {data_dir} ({split}, {s['clips']} clips)", "",
        "| method | LMD (mouth widths) | LMD vs static | sync | opening ratio | motion ratio "
        "| LSE-D | LSE-C | offset |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| ground truth | 0 | 0 | 1.00 | 1.00 | 1.00 | {lse('real')} |",
        f"| static (rest shape held) | {s['lmd_static']:.4f} | 1.00 | - | 0 | 0 "
        f"| {lse('static')} |",
        f"| {name} | {s['lmd']:.4f} | {s['lmd_vs_static']:.2f} | {s['sync']:.2f} | "
        f"{s['opening_ratio']:.2f} | {s['motion_ratio']:.2f} | {lse('generated')} |",
        *([] if "own_amplitude" not in result else [
            f"| {name}, each speaker's own amplitude | {o['lmd']:.4f} | "
            f"{o['lmd_vs_static']:.2f} | {o['sync']:.2f} | {o['opening_ratio']:.2f} | "
            f"{o['motion_ratio']:.2f} | | | |" for o in (result["own_amplitude"],)]), "",
        f"95% intervals over the clips (bootstrap: "
        f"{format_intervals(s['intervals'], INTERVAL_LABELS)}): how "
        "far another set of clips like these could move the model's figures.", "",
        "LSE-D: the sync judge's distance at the best audio shift (lower is better); LSE-C: "
        "its median over shifts of +-15 frames minus the least (higher is better); offset: "
        "the median best shift in frames (0: in sync).", "",
        f"Still-audio check: the largest displacement from the rest shape for a recording "
        f"with no voice is {s['still_max']:.4f} mouth widths.", "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines))
    if examples > 0:
        step = max(1, len(sequences) // examples)
        opening_figure(generator, sequences[::step][:examples], out_dir / "mouth_opening.png",
                       config.audio.fps)
    return report
