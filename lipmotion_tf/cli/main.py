"""Entry point of the ``lipmotion`` command.

Subcommands register their arguments from small modules that import nothing heavy; each
module's ``run(args)`` imports TensorFlow and friends only when the command actually runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lipmotion_tf import __version__
from lipmotion_tf.cpu_kernels import prefer_onednn
from lipmotion_tf.errors import LipMotionError

# name -> module in lipmotion_tf.cli; each module defines add_arguments(parser) and run(args).
SUBCOMMANDS = {
    "prepare": "prepare",
    "prepare-motion": "prepare_motion",
    "train": "train",
    "adapt": "adapt",
    "pack": "pack",
    "generate": "generate",
    "dub": "dub",
    "evaluate": "evaluate",
    "export": "export",
    "serve": "serve",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lipmotion",
        description="Generate lip movements from speech and one lip or face image "
        "(Lip Movements Generation at a Glance, ECCV 2018).",
    )
    parser.add_argument("--version", action="version", version=f"lipmotion_tf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"lipmotion_tf.cli.{module_name}")
        sub_parser = sub.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefer_onednn()  # before any subcommand imports TensorFlow
    try:
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
