"""Export to TFLite (LiteRT) for apps: the window generator, or the log-mel front end.

Two models, each a ``.tflite`` file with one named signature (see
:class:`~lipmotion_tf.export.serving_functions.ServingFunctions`):

* ``generator`` -> signature ``generate_window``: ``log_mel`` float32 ``(B, 64, 128)`` and
  ``image`` float32 ``(B, 64, 64, 3)`` in [-1, 1] -> ``frames`` float32
  ``(B, 16, 64, 64, 3)`` in [-1, 1] with B = 1: one window per call, every shape static
  (with a free batch axis the transposed convolutions' output shapes are computed at run
  time, XNNPACK leaves them to TFLite's own kernels and the graph splits around them: the
  full-size float32 generator took 0.62 s per window instead of 0.30). Quantization:
  ``none`` (float32), ``float16`` (half-size weights), ``dynamic`` (int8 weights, float
  activations) or ``int8`` (int8 weights and activations,
  calibrated on real prepared windows; operators without an int8 kernel, such as
  CONV_3D, stay float).
* ``log_mel`` -> signature ``log_mel``: ``waveform`` float32 ``(N,)`` at 44.1 kHz ->
  ``log_mel`` float32 ``(1 + N // 441, 128)`` dB, the training front end. Always float32:
  quantizing it ruins quiet bands (int8 activations or hybrid kernels cost 30-70 dB, float16
  filterbank weights ~0.6 dB), and it is small.

An app computes the log-mel of the whole speech once, cuts windows of 64 mel frames every
32 (16 video frames every 8), runs ``generate_window`` and cross-fades the windows with
:func:`~lipmotion_tf.generate.blending.blend_weights` (``examples/tflite_runner.py`` shows it).

Conversion goes SavedModel (``keras.export.ExportArchive``) -> ``TFLiteConverter.
from_saved_model``: converting a ``tf.function`` directly silently drops the weights (see the
README's dependency notes). Every model is checked to use builtin operators only, and the
file is written by :func:`~lipmotion_tf.output_files.write_atomically`.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.output_files import check_name_length, ensure_writable_folder, write_atomically

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")
MODELS = {"generator": "generate_window", "log_mel": "log_mel"}


@dataclasses.dataclass
class TFLiteExport:
    """What :func:`export_tflite` wrote.

    Attributes:
        path: the ``.tflite`` file.
        size_bytes: its size.
        signature: its signature name.
        quantize: the quantization mode.
        ops: the builtin operators it uses.
        calibration_windows: windows the int8 ranges were calibrated on (0 otherwise).
    """

    path: Path
    size_bytes: int
    signature: str
    quantize: str
    ops: list[str]
    calibration_windows: int = 0


def calibration_windows_from_prepared(
    prepared_dir: str | Path, config, count: int = 64, split: str = "train"
) -> list[dict]:
    """Up to ``count`` real windows ``{"log_mel": (1, 64, 128), "image": (1, 64, 64, 3)}``.

    Read with the evaluation pipeline (record order, first frame of each clip as identity)
    from a prepared-data folder, falling back to split ``all`` when ``split`` is empty. The
    windows are spread evenly over the split (every k-th window), not the first clips only.

    Raises:
        DataError: the folder is missing, inconsistent with ``config`` or empty.
    """
    from lipmotion_tf.data.manifest import load_manifest
    from lipmotion_tf.data.pipeline import count_windows, make_dataset

    manifest = load_manifest(prepared_dir)
    if not manifest.clips_in(split):
        split = "all"
    dataset = make_dataset(prepared_dir, split, config, training=False)
    stride = max(1, count_windows(prepared_dir, split, config) // max(count, 1))
    windows = []
    index = 0
    for batch in dataset.as_numpy_iterator():
        for audio, identity in zip(batch["audio"], batch["identity"]):
            if index % stride == 0:
                windows.append({"log_mel": audio[None], "image": identity[None]})
                if len(windows) >= count:
                    return windows
            index += 1
    return windows


def convert_to_tflite(
    generator,
    config,
    model: str = "generator",
    quantize: str = "none",
    calibration: Iterable[dict] | None = None,
    conv2d: bool = True,
) -> tuple[bytes, int]:
    """Converts to TFLite flatbuffer bytes (no file written).

    Args:
        generator: a built :class:`~lipmotion_tf.models.generator.LipGenerator`.
        config: the experiment it was trained with.
        model: ``generator`` or ``log_mel`` (see the module docstring).
        quantize: one of :data:`QUANTIZE_MODES` (``none`` only for ``log_mel``).
        calibration: for ``int8``, windows ``{"log_mel", "image"}`` (batch 1, float32).
        conv2d: run every 3-D convolution as 2-D ones (XNNPACK runs CONV_2D and
            TRANSPOSE_CONV; CONV_3D runs on slow kernels with GB-sized im2col buffers).

    Returns:
        ``(model bytes, number of calibration windows used)``.

    Raises:
        InputError: an unknown model or mode, int8 without calibration windows, or a
            converted model that needs non-builtin operators.
    """
    import keras
    import tensorflow as tf

    from lipmotion_tf.export.serving_functions import ServingFunctions
    from lipmotion_tf.export.tflite_ops import check_builtin_ops

    if model not in MODELS:
        raise InputError(f"unknown TFLite model {model!r}; choose one of {', '.join(MODELS)}")
    if quantize not in QUANTIZE_MODES:
        raise InputError(
            f"unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}"
        )
    if model == "log_mel" and quantize != "none":
        raise InputError("the log_mel front end is exported as float32 only (--quantize none)")
    signature = MODELS[model]

    functions = ServingFunctions(generator.deployment_copy() if conv2d else generator, config,
                                 window_batch=1, checks=False)  # TFLite has no assert op
    archive = keras.export.ExportArchive()
    # No archive.track(generator): the endpoints capture the variables, and tracking them as
    # well stores every weight twice (keras-team/keras#23553).
    archive.add_endpoint(signature, functions.tf_functions([signature])[signature])

    samples: list[dict] = []
    if quantize == "int8":
        samples = [
            {"log_mel": np.asarray(s["log_mel"], np.float32),
             "image": np.asarray(s["image"], np.float32)}
            for s in (calibration or [])
        ]
        if not samples:
            raise InputError("int8 quantization needs calibration windows (--calibration-data)")

    with tempfile.TemporaryDirectory(prefix="lipmotion-tflite-") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=[signature])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize in ("float16", "dynamic", "int8"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = lambda: ((signature, s) for s in samples)
            # int8 where a kernel exists, float for the rest (CONV_3D has no int8 kernel).
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
        with warnings.catch_warnings():
            # int8 calibration runs through tf.lite.Interpreter, which warns it is deprecated.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            content = converter.convert()
    check_builtin_ops(content, f"the {model} model ({quantize})")
    return content, len(samples)


def export_tflite(
    generator,
    config,
    output: str | Path,
    model: str = "generator",
    quantize: str = "none",
    calibration: Iterable[dict] | None = None,
    overwrite: bool = False,
    conv2d: bool = True,
) -> TFLiteExport:
    """Converts (see :func:`convert_to_tflite`) and writes ``output`` atomically.

    Raises:
        InputError: see :func:`convert_to_tflite`; also an existing ``output`` without
            ``overwrite`` or a folder that cannot be written.
    """
    from lipmotion_tf.export.tflite_ops import tflite_op_names

    output = Path(output)
    check_output_file(output, overwrite)
    content, calibrated = convert_to_tflite(
        generator, config, model=model, quantize=quantize, calibration=calibration,
        conv2d=conv2d,
    )
    verify = lambda written: _check_written(written, content, output)  # noqa: E731
    with write_atomically(output, verify) as temporary:
        temporary.write_bytes(content)
    return TFLiteExport(output, len(content), MODELS[model], quantize,
                        tflite_op_names(content), calibrated)


def _check_written(written: Path, content: bytes, output: Path) -> None:
    """The bytes read back are the whole flatbuffer (``TFL3`` is its file identifier)."""
    if written.stat().st_size != len(content) or written.read_bytes()[4:8] != b"TFL3":
        raise InputError(f"cannot write {output}: the file read back is incomplete")


def check_output_file(output: str | Path, overwrite: bool = False) -> None:
    """Checks that ``output`` can be written, before any slow work.

    Raises:
        InputError: it is a folder, not named ``.tflite``, exists without ``overwrite``, or
            its folder cannot be created or written.
    """
    output = Path(output)
    if output.is_dir():
        raise InputError(f"{output} is a folder; give a .tflite file name")
    if output.suffix.lower() != ".tflite":
        raise InputError(f"output must be a .tflite file, got {output}")
    if output.exists() and not overwrite:
        raise InputError(f"{output} already exists (pass --overwrite to replace it)")
    check_name_length(output)
    ensure_writable_folder(output.parent)
