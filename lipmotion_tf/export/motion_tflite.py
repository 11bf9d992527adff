"""Export the motion-first pipeline to TFLite (LiteRT) for apps: three models, one signature
each, builtin operators only.

* ``motion`` -> signature ``motion``: ``log_mel`` float32 ``(1, 4T, 128)`` dB and ``rest``
  float32 ``(1, 59, 2)`` -> ``motion`` float32 ``(1, T, 59, 2)``, any T (the app resizes the
  input). Quantization ``none``, ``float16``, ``dynamic`` or ``int8`` (calibrated on windows of
  real speech and rest shapes from a motion-data folder, ``lipmotion prepare-motion``).
* ``renderer`` -> signature ``render``: the renderer inputs of
  :mod:`~lipmotion_tf.motion.graph_functions` with a batch of 1 and a crop of any size ->
  ``frames`` float32 ``(1, S, S, 3)`` in [0, 1], with the model folder's learned mouth
  interior where it has one (``--interior``). Float32 only: int8 activations would put its
  pixel coordinates on a grid of ``S / 256`` pixels.
* ``log_mel`` -> signature ``log_mel``: ``waveform`` float32 ``(N,)`` at 44.1 kHz ->
  ``log_mel`` float32 ``(1 + N // 441, 128)``, the in-graph front end (float32 only, as the
  paper model's: quantized, it ruins the quiet bands).

What an app does around them (``examples/tflite_runner.py`` and
:class:`~lipmotion_tf.export.tflite_motion.TFLiteMotionPipeline`): rig the photo, the log-mel
of the speech cut or zero-extended to whole frames, ``motion`` once on the whole utterance,
the rig's targets per frame, ``render`` per frame, and the paste-back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipmotion_tf.errors import InputError

#: ``{part: signature}``.
PARTS = {"motion": "motion", "renderer": "render", "log_mel": "log_mel"}


def calibration_from_motion_data(motion_dir: str | Path, config, count: int = 64,
                                 frames: int = 100) -> list[dict]:
    """Up to ``count`` real inputs ``{"log_mel": (1, 4F, M), "rest": (1, 59, 2)}`` of
    ``frames`` frames (F; shorter clips whole), one from the middle of each of ``count``
    clips spread evenly over a motion-data folder.

    Raises:
        DataError: the folder holds no clips.
    """
    from lipmotion_tf.errors import DataError
    from lipmotion_tf.motion.dataset import to_sequence
    from lipmotion_tf.motion.extract import clip_files, load_clip
    from lipmotion_tf.motion.template import FRONTAL_TEMPLATE

    paths = clip_files(motion_dir)
    if not paths:
        raise DataError(f"no motion clips in {motion_dir} (lipmotion prepare-motion writes them)")
    picked = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, count).astype(int))]
    m = config.audio.mel_frames_per_frame
    samples = []
    for path in picked:
        sequence = to_sequence(load_clip(path), "calibration", FRONTAL_TEMPLATE,
                               config.data.rest_fraction)
        start = max(0, (sequence.num_frames - frames) // 2)
        end = min(sequence.num_frames, start + frames)
        samples.append({"log_mel": sequence.log_mel[None, m * start:m * end].astype(np.float32),
                        "rest": sequence.rest[None].astype(np.float32)})
    return samples


def convert_motion_to_tflite(generator, config, part: str = "motion", quantize: str = "none",
                             calibration: list[dict] | None = None, interior=None) -> bytes:
    """Converts one part (see the module docstring) to TFLite bytes; the renderer with the
    learned mouth ``interior`` where one is given.

    Raises:
        InputError: an unknown part, a quantization the part does not take, int8 without
            calibration inputs, or non-builtin operators.
    """
    from lipmotion_tf.export.motion_functions import MotionServingFunctions
    from lipmotion_tf.export.tflite_convert import convert_function

    if part not in PARTS:
        raise InputError(f"unknown motion model part {part!r}; choose one of {', '.join(PARTS)}")
    if part != "motion" and quantize != "none":
        why = ("int8 activations would put its pixel coordinates on a coarse grid"
               if part == "renderer" else "quantized, it ruins the quiet bands")
        raise InputError(f"the {part} is exported as float32 only (--quantize none): {why}")
    signature = PARTS[part]
    functions = MotionServingFunctions(generator, config, batch=1, interior=interior)
    function = functions.tf_functions([signature])[signature]
    return convert_function(function, signature, quantize, calibration,
                            what=f"the motion model's {part}")


def export_motion_tflite(generator, config, output: str | Path, part: str = "motion",
                         quantize: str = "none", calibration: list[dict] | None = None,
                         overwrite: bool = False, interior=None):
    """Converts (see :func:`convert_motion_to_tflite`) and writes ``output`` atomically.

    Returns:
        A :class:`~lipmotion_tf.export.tflite.TFLiteExport`.
    """
    from lipmotion_tf.export.tflite import TFLiteExport, check_output_file
    from lipmotion_tf.export.tflite_ops import tflite_op_names
    from lipmotion_tf.output_files import write_atomically

    output = Path(output)
    check_output_file(output, overwrite)
    content = convert_motion_to_tflite(generator, config, part, quantize, calibration,
                                       interior)

    def verify(written: Path) -> None:
        if written.stat().st_size != len(content) or written.read_bytes()[4:8] != b"TFL3":
            raise InputError(f"cannot write {output}: the file read back is incomplete")

    with write_atomically(output, verify) as temporary:
        temporary.write_bytes(content)
    return TFLiteExport(output, len(content), PARTS[part], quantize, tflite_op_names(content),
                        len(calibration or []) if quantize == "int8" else 0)
