"""How well the sync judge finds a known audio shift, on clips it never trained on.

    python benchmarks/sync_accuracy.py [--checkpoint RUN_DIR] [--data prepared/motion]

For every clip of each set (GRID s1's test split of ``train/``; GRID s3+s5, LRS3 sample4-6,
LRW ``test_*`` and VoxCeleb2 from ``heldout/``, as ``training/prepare_motion.sh`` writes them)
the sound is delayed by 0, +-3, +-6 and +-10 frames (the gap filled with the recording's
quietest level, as an editor's offset) and the shift search runs as ``lipmotion sync-check``
does on the tracked landmarks. Prints, per set, the share of (clip, shift) pairs found
within one frame for clips longer than 2 s, the share of unshifted clips judged in sync, and
the mean LSE-D / LSE-C of the real mouth and of the still rest shape under the clip's own
sound, as a markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SETS = {
    "GRID s1 test": ("train", ["s1"], "test"),
    "GRID s3 + s5": ("heldout", ["s3", "s5"], None),
    "LRS3 sample4-6": ("heldout", ["lrs3"], None),
    "VoxCeleb2": ("heldout", ["voxceleb2"], None),
    "LRW test_*": ("heldout", ["lrw"], None),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=None, help="sync expert run folder")
    parser.add_argument("--data", default="prepared/motion", type=Path)
    args = parser.parse_args(argv)

    from lipmotion_tf.motion.dataset import load_sequences
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE
    from lipmotion_tf.sync.judge import SyncJudge
    from lipmotion_tf.sync.training import MIN_TRIAL_FRAMES, offset_accuracy

    judge = SyncJudge.from_checkpoint(args.checkpoint)
    data = judge.config.data
    print("| set | clips > 2 s | (clip, shift) pairs | shift found within 1 frame | in sync "
          "(unshifted) | LSE-D / LSE-C real | LSE-D / LSE-C still |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (folder, groups, split) in SETS.items():
        sequences = load_sequences(args.data / folder, FRONTAL_TEMPLATE, data.rest_fraction,
                                   split=split, val_fraction=data.val_fraction,
                                   test_fraction=data.test_fraction)
        sequences = [s for s in sequences if s.group in groups]
        result = offset_accuracy(judge, sequences)
        real, still = [], []
        for sequence in sequences:
            real.append(judge.score(sequence.log_mel, sequence.motion))
            still.append(judge.score(sequence.log_mel, np.zeros_like(sequence.motion)))

        def pair(scores):
            return (f"{np.mean([s.lse_d for s in scores]):.3f} / "
                    f"{np.mean([s.lse_c for s in scores]):.3f}")

        long_enough = result["clips"]
        found = "-" if not long_enough else f"{result['offset_accuracy']:.1%}"
        in_sync = "-" if not long_enough else f"{result['in_sync']:.1%}"
        print(f"| {name} ({len(sequences)} clips) | {long_enough} | {result['pairs']} | {found} "
              f"| {in_sync} | {pair(real)} | {pair(still)} |")
    print(f"(clips of fewer than {MIN_TRIAL_FRAMES} frames are judged for LSE only)")


if __name__ == "__main__":
    main()
