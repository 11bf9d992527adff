"""One ``tf.function`` -> a TFLite flatbuffer with builtin operators only.

Conversion goes SavedModel (``keras.export.ExportArchive``) -> ``TFLiteConverter.
from_saved_model``: converting a ``tf.function`` directly silently drops the weights (see the
README's dependency notes). Quantization: ``none`` (float32), ``float16`` (half-size
weights), ``dynamic`` (int8 weights, float activations) or ``int8`` (int8 weights and
activations, ranges calibrated on sample inputs; operators without an int8 kernel stay
float). The motion model's exports use it (:mod:`~lipmotion_tf.export.motion_tflite`).
"""

from __future__ import annotations

import tempfile
import warnings

from lipmotion_tf.errors import InputError

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")


def convert_function(function, signature: str, quantize: str = "none",
                     samples: list[dict] | None = None, what: str = "the model") -> bytes:
    """Converts ``function`` (a ``tf.function`` with an input signature) to TFLite bytes whose
    one signature is named ``signature``.

    Args:
        quantize: one of :data:`QUANTIZE_MODES`.
        samples: for ``int8``, inputs ``{name: array}`` to calibrate the ranges on.
        what: how to name the model in messages.

    Raises:
        InputError: an unknown mode, int8 without samples, or a converted model that needs
            operators outside the TFLite builtins.
    """
    import keras
    import tensorflow as tf

    from lipmotion_tf.export.tflite_ops import check_builtin_ops

    if quantize not in QUANTIZE_MODES:
        raise InputError(f"unknown quantization {quantize!r}; choose one of "
                         f"{', '.join(QUANTIZE_MODES)}")
    if quantize == "int8" and not samples:
        raise InputError(f"int8 quantization of {what} needs calibration inputs")
    archive = keras.export.ExportArchive()
    # No archive.track(model): the endpoint captures the variables, and tracking them as
    # well stores every weight twice (keras-team/keras#23553).
    archive.add_endpoint(signature, function)
    with tempfile.TemporaryDirectory(prefix="lipmotion-tflite-") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=[signature])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = lambda: ((signature, s) for s in samples)
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
        with warnings.catch_warnings():
            # int8 calibration runs through tf.lite.Interpreter, which warns it is deprecated.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            content = converter.convert()
    check_builtin_ops(content, f"{what} ({quantize})")
    return content
