"""Export a model as a TensorFlow Serving model version.

Same as ``lipmotion export saved-model``; kept here beside the other deployment examples::

    python examples/export_saved_model.py --output models/lipmotion            # motion model -> 1/
    python examples/export_saved_model.py --model paper --output models/paper  # the paper model
    python examples/export_saved_model.py --checkpoint runs/grid --output models/lipmotion --version 2

Then serve it with ``tensorflow_model_server --model_base_path=$PWD/models/lipmotion ...`` or
``lipmotion serve --model-base-path models/lipmotion`` (see docs/deployment.md).
"""

from __future__ import annotations

import sys

from lipmotion_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["export", "saved-model", *sys.argv[1:]]))
