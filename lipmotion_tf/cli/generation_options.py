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


def add_model_options(parser, motion_help: str, paper_help: str) -> None:
    """``--model auto|motion|paper`` and ``--checkpoint`` (see :func:`chosen_model`)."""
    parser.add_argument("--model", choices=("auto", "motion", "paper"), default="auto",
                        help=f"motion: {motion_help}; paper: {paper_help}; auto: the "
                             "--checkpoint's kind, else motion")
    parser.add_argument("--checkpoint", default=None,
                        help="model folder (default: the shipped model of --model)")


def add_interior_option(parser) -> None:
    """``--interior auto|learned|drawn``: the motion model's mouth interior."""
    from lipmotion_tf.motion.interior_config import INTERIORS

    parser.add_argument("--interior", choices=INTERIORS, default="auto",
                        help="the motion model's mouth interior: learned (the network that "
                             "paints teeth, tongue and cavity), drawn (a cavity and a teeth "
                             "band in the photo's colours; faster), auto: the model folder's "
                             "learned one where it has one")


def refuse_interior(args, model: str, where: str = "the motion model") -> None:
    """One line for ``--interior`` given where it does not apply (the paper model)."""
    from lipmotion_tf.errors import InputError

    if args.interior != "auto" and model != "motion":
        raise InputError(f"--interior is for {where}")


def add_expressiveness_option(parser, default_help: str) -> None:
    """``--expressiveness``: how widely the motion model opens the mouth."""
    parser.add_argument("--expressiveness", type=float, default=None, metavar="X",
                        help="how widely the motion model opens the mouth: a model "
                             "trained with model.amplitude_input reads it as the speaker's "
                             "amplitude against a typical speaker's (1); for others (the "
                             "shipped one) it scales the predicted motion; 0.2 to 5 "
                             f"(default: {default_help})")


def speaking_amplitude_option(args) -> float | None:
    """The generator's amplitude input for ``--expressiveness`` (None when not given; its
    range is checked with every number option, :mod:`lipmotion_tf.cli.bounds`)."""
    import math

    return None if args.expressiveness is None else math.log(args.expressiveness)


def chosen_model(args) -> str:
    """``motion`` or ``paper``: what --model and --checkpoint ask for."""
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.pipeline import is_motion_checkpoint

    if args.checkpoint is None:
        return "paper" if args.model == "paper" else "motion"
    kind = "motion" if is_motion_checkpoint(args.checkpoint) else "paper"
    if args.model not in ("auto", kind):
        raise InputError(f"--checkpoint {args.checkpoint} holds a {kind} model, not --model "
                         f"{args.model}")
    return kind


def apply_device(args) -> None:
    """Hides the GPUs for ``--device cpu``; must run before TensorFlow is imported."""
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
