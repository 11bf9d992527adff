"""Thin entry point: ``python training/train.py --config training/demo.yaml --data ... --output ...``.

The same as ``lipmotion train``; every argument is documented in ``lipmotion train --help``.
"""

from __future__ import annotations

import sys

from lipmotion_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
