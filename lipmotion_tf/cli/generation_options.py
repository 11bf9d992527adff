"""The options every command that runs the generator on speech shares (generate, dub)."""

from __future__ import annotations

import os

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION


def add_generation_options(parser) -> None:
    """``--batch-size``, ``--device``, ``--max-duration`` and ``--ease-in``."""
    parser.add_argument("--batch-size", type=int, default=8, help="windows per generator call")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where the generator runs")
    parser.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION,
                        help="refuse speech longer than this many seconds (inf: no limit)")
    parser.add_argument("--ease-in", type=int, default=None, metavar="FRAMES",
                        help="frames over which the video eases in from the given image, "
                             "which is its first frame (default: the model's data.ease_in "
                             "for generate, 0 for dub; 0: open on the first generated frame)")


def apply_device(args) -> None:
    """Hides the GPUs for ``--device cpu``; must run before TensorFlow is imported."""
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
