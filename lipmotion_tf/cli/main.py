"""Entry point of the ``lipmotion`` command.

Subcommands register their arguments from small modules that import nothing heavy; each
module's ``run(args)`` imports TensorFlow and friends only when the command actually runs, so
the libraries' log levels and the CPU kernels are chosen here, before they load
(:mod:`lipmotion_tf.library_logs`, :mod:`lipmotion_tf.cpu_kernels`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

from lipmotion_tf import __version__
from lipmotion_tf.cli.bounds import check_number_options
from lipmotion_tf.cpu_kernels import prefer_onednn
from lipmotion_tf.errors import LipMotionError
from lipmotion_tf.library_logs import VERBOSE_VARIABLE, quiet_library_logs
from lipmotion_tf.output_files import folder_lock

# name -> module in lipmotion_tf.cli; each module defines add_arguments(parser) and run(args).
SUBCOMMANDS = {
    "prepare": "prepare",
    "prepare-motion": "prepare_motion",
    "prepare-interior": "prepare_interior",
    "prepare-joint": "prepare_joint",
    "train": "train",
    "adapt": "adapt",
    "pack": "pack",
    "generate": "generate",
    "dub": "dub",
    "evaluate": "evaluate",
    "export": "export",
    "serve": "serve",
    "sync-check": "sync_check",
}


# command -> the argument naming the folder it writes, locked while the command runs: two
# training runs into one folder would otherwise interleave their checkpoints and logs.
LOCKED_FOLDERS = {"train": "output"}

VERBOSE_HELP = (f"show the libraries' own log lines (TensorFlow, absl, mediapipe, CUDA probes), "
                f"hidden by default; also {VERBOSE_VARIABLE}=1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lipmotion",
        description="Generate lip movements from speech and one lip or face image "
        "(Lip Movements Generation at a Glance, ECCV 2018).",
    )
    parser.add_argument("--version", action="version", version=f"lipmotion_tf {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"lipmotion_tf.cli.{module_name}")
        sub_parser = sub.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub_parser)
        _add_verbose(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` after a subcommand too (``lipmotion export tflite --verbose``); SUPPRESS
    keeps the value given before it."""
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help=VERBOSE_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                _add_verbose(nested)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Before any subcommand imports TensorFlow, absl or mediapipe.
    quiet_library_logs(verbose=args.verbose or None)
    prefer_onednn()
    try:
        check_number_options(args)
        folder = LOCKED_FOLDERS.get(args.command)
        with (folder_lock(getattr(args, folder), "run folder") if folder
              else contextlib.nullcontext()):
            result = args._module.run(args)
    except LipMotionError as error:
        print(f"lipmotion {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"lipmotion {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
