"""One exported model version, loaded for serving, with TF Serving's request checks.

``ServedModel.load(model_base)`` picks the highest numbered version under the base folder
(as TensorFlow Serving's default version policy does; ``version=N`` picks another), loads
its SavedModel and keeps each signature's input specs and ``SignatureDef``. A request goes
through two steps:

* :meth:`ServedModel.check_request` checks its tensors against the signature (every input
  present, no unknown one, dtype, shape), checks each tensor's declared element count
  against the values it actually carries and a limit *before* building an array from it
  (a few bytes may declare a tensor of 2^40 elements), then applies the validation every
  entry point shares (:func:`~lipmotion_tf.audio.validation.check_waveform`,
  :func:`~lipmotion_tf.video.image_io.check_image`, finite values), and bounds what the
  answer will take: the windows of a ``generate_window`` request and the bytes of the
  response (:meth:`ServedModel.response_bytes`, known from the inputs before computing).
* :meth:`ServedModel.run` computes the outputs. ``serving_default`` and ``generate_window``
  run a batch of windows at a time and ask ``should_stop`` between batches, so a request
  whose deadline passed or whose client went away stops within one batch.

Problems are reported as a :class:`RequestError` carrying the gRPC status code the servicer
answers with.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Callable

import grpc
import numpy as np

from lipmotion_tf.config import SPEECH_SAMPLE_RATE

LOGGER = logging.getLogger(__name__)
DEFAULT_SIGNATURE = "serving_default"
# The serving contract's speech rate, for versions exported without their config.
CONTRACT_SAMPLE_RATE = SPEECH_SAMPLE_RATE
# Windows per generator call when a request is computed batch by batch.
BATCH_WINDOWS = 8
# Default limits on one request's answer: generate_window windows (about 0.8 MB of float32
# frames each at 64 px) and response bytes (15 minutes of serving_default frames at 64 px,
# the longest speech served by default, take 264 MiB).
MAX_WINDOWS = 64
MAX_RESPONSE_BYTES = 320 << 20


class RequestError(Exception):
    """A request the model cannot answer; ``code`` is the gRPC status to reply with."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


@dataclasses.dataclass
class ServedModel:
    """A loaded model version.

    Attributes:
        version_dir: the version folder (``MODEL_BASE/<version>``).
        version: its number.
        functions: ``{signature name: concrete function}``.
        input_specs: ``{signature name: {input name: tf.TensorSpec}}``.
        signature_defs: ``{signature name: SignatureDef proto}`` as stored in saved_model.pb.
        loaded: the object ``tf.saved_model.load`` returned (it owns the variables).
        config: the experiment config exported with the version (None for versions exported
            without it: their ``serving_default`` then runs in one call, which a deadline
            cannot interrupt).
    """

    version_dir: Path
    version: int
    functions: dict
    input_specs: dict
    signature_defs: dict
    loaded: object = dataclasses.field(default=None, repr=False)
    config: object = dataclasses.field(default=None, repr=False)
    _pipeline: object = dataclasses.field(default=None, init=False, repr=False)
    _motion: object = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self):
        from lipmotion_tf.serving.motion_model import MotionRequests, is_motion_version

        if self.config is not None and is_motion_version(self.functions):
            self._motion = MotionRequests(self.functions, self.config)
        elif self.config is not None and "generate_window" in self.functions:
            from lipmotion_tf.generate.pipeline import LipMotionPipeline

            self._pipeline = LipMotionPipeline(
                _SignatureGenerator(self.functions["generate_window"]), self.config,
                batch_size=BATCH_WINDOWS, max_duration=math.inf,
            )
            # Build the log-mel layer now: concurrent first requests must not race to build it.
            self._pipeline.log_mel(np.zeros((1, self.config.audio.n_fft), np.float32))

    @property
    def sample_rate(self) -> int:
        """The speech rate the ``waveform`` inputs are at."""
        return self.config.audio.sample_rate if self.config is not None else CONTRACT_SAMPLE_RATE

    @classmethod
    def load(cls, model_base: str | Path, version: int | None = None) -> "ServedModel":
        """Loads the newest version under ``model_base``, or the given ``version``.

        Raises:
            InputError: no such folder, no version in it (or not that one), or a version
                that cannot be loaded.
        """
        import tensorflow as tf
        import yaml
        from google.protobuf.message import DecodeError
        from tensorflow.core.protobuf import saved_model_pb2

        from lipmotion_tf.serving.motion_model import served_config
        from lipmotion_tf.errors import LipMotionError, InputError
        from lipmotion_tf.export.saved_model import (
            SAVED_MODEL_FILE,
            SERVING_CONFIG_FILE,
            latest_version_dir,
        )
        from lipmotion_tf.export.warmup import WARMUP_DIR

        if version is None:
            version_dir = latest_version_dir(model_base)
        else:
            version_dir = Path(model_base) / str(int(version))
            if not (version_dir / SAVED_MODEL_FILE).is_file():
                raise InputError(f"model version {version} not found: no {version_dir}/"
                                 f"{SAVED_MODEL_FILE}")
        config_file = version_dir / WARMUP_DIR / SERVING_CONFIG_FILE
        try:
            loaded = tf.saved_model.load(str(version_dir))
            stored = saved_model_pb2.SavedModel.FromString(
                (version_dir / SAVED_MODEL_FILE).read_bytes()
            )
            config = None
            if config_file.is_file():
                config = served_config(yaml.safe_load(config_file.read_text()) or {})
        except (OSError, ValueError, DecodeError, yaml.YAMLError, LipMotionError,
                tf.errors.OpError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else error
            raise InputError(f"cannot load the model in {version_dir}: {first_line}") from None
        if config is None:
            LOGGER.warning(
                "%s has no %s/%s (exported by an older version): serving_default runs in one "
                "call, which a deadline or a stopping server cannot interrupt; export it again "
                "to fix", version_dir, WARMUP_DIR, SERVING_CONFIG_FILE)
        signature_defs = {
            name: definition
            for name, definition in stored.meta_graphs[0].signature_def.items()
            if not name.startswith("__")
        }
        functions, input_specs = {}, {}
        for name, function in loaded.signatures.items():
            functions[name] = function
            input_specs[name] = dict(function.structured_input_signature[1])
        return cls(version_dir, int(version_dir.name), functions, input_specs, signature_defs,
                   loaded, config)

    # -- requests ---------------------------------------------------------------------------

    def predict(self, signature: str, inputs: dict, output_filter=(), *,
                max_elements: int | None = None, max_duration: float | None = None,
                max_windows: int | None = None, max_response_bytes: int | None = None,
                should_stop: Callable[[], bool] | None = None) -> dict:
        """:meth:`check_request` then :meth:`run`: request tensors -> ``{output: array}``."""
        signature, arrays, wanted = self.check_request(
            signature, inputs, output_filter, max_elements, max_duration,
            max_windows=max_windows, max_response_bytes=max_response_bytes)
        return self.run(signature, arrays, wanted, should_stop)

    def check_request(self, signature: str, inputs: dict, output_filter=(),
                      max_elements: int | None = None, max_duration: float | None = None,
                      max_windows: int | None = None, max_response_bytes: int | None = None):
        """Checks a request and builds its arrays.

        Args:
            signature: the signature name (empty means ``serving_default``).
            inputs: ``{input name: TensorProto}`` (a PredictRequest's ``inputs`` map).
            output_filter: output names to return (empty: all).
            max_elements: most elements one tensor may declare (None: no limit).
            max_duration: longest speech accepted, in seconds (None: no limit).
            max_windows: most windows of a ``generate_window`` request (None: no limit).
            max_response_bytes: most bytes the outputs may take (None: no limit).

        Returns:
            ``(signature, {input name: numpy array}, output names)``.

        Raises:
            RequestError: INVALID_ARGUMENT for an unknown signature or output, a missing,
                unknown, malformed or invalid input, more windows than ``max_windows`` or an
                answer larger than ``max_response_bytes``.
        """
        signature = signature or DEFAULT_SIGNATURE
        if signature not in self.functions:
            raise invalid(
                f"Serving signature key \"{signature}\" not found; this model has "
                f"{', '.join(sorted(self.functions))}"
            )
        outputs = self.signature_defs[signature].outputs
        unknown = [name for name in output_filter if name not in outputs]
        if unknown:
            raise invalid(
                f"output_filter names unknown output(s) {unknown} of signature \"{signature}\""
            )
        arrays = self._check_inputs(signature, inputs, max_elements)
        self._validate(signature, arrays, max_duration)
        if self._motion is not None:
            from lipmotion_tf.errors import InputError

            try:
                self._motion.validate(signature, arrays)
            except InputError as error:
                raise invalid(str(error)) from None
        wanted = list(output_filter) or list(outputs)
        self._check_answer(signature, arrays, wanted, max_windows, max_response_bytes)
        return signature, arrays, wanted

    def response_bytes(self, signature: str, arrays: dict, output_names=None) -> int | None:
        """Bytes the outputs of a checked request will take, known before computing them
        (their leading dimension follows from the inputs, the rest from the signature);
        None when the signature does not say."""
        if self._motion is not None and signature in ("serving_default", "render", "motion"):
            return self._motion.response_bytes(signature, arrays)
        outputs = self.signature_defs[signature].outputs
        leading = self._leading_size(signature, arrays)
        if leading is None:
            return None
        total = 0
        for name in output_names or list(outputs):
            info = outputs[name]
            dims = [dim.size for dim in info.tensor_shape.dim]
            if info.tensor_shape.unknown_rank or not dims or any(d < 0 for d in dims[1:]):
                return None
            try:
                item = _dtype(info.dtype).size
            except TypeError:
                return None
            total += leading * math.prod(dims[1:]) * item
        return total

    def _leading_size(self, signature: str, arrays: dict) -> int | None:
        """The first dimension of a signature's outputs for these inputs."""
        if signature == "generate_window" and "log_mel" in arrays:
            return len(arrays["log_mel"])
        if "waveform" not in arrays:
            return None
        samples = len(arrays["waveform"])
        if signature == DEFAULT_SIGNATURE:
            if self._pipeline is not None:
                return self._pipeline.num_frames(samples)
            fps = self.config.audio.fps if self.config is not None else 25
            return max(1, round(samples * fps / self.sample_rate))
        if signature == "log_mel":
            hop = self.config.audio.hop_length if self.config is not None else 441
            return samples // hop + 1
        return None

    def _check_answer(self, signature: str, arrays: dict, output_names,
                      max_windows: int | None, max_response_bytes: int | None) -> None:
        """Refuses a request whose answer would pass the window or response-size limits."""
        if max_windows is not None and signature == "generate_window" and "log_mel" in arrays:
            count = len(arrays["log_mel"])
            if count > max_windows:
                raise invalid(f"generate_window request of {count} windows, more than the "
                              f"server's limit of {max_windows} windows per request; send them "
                              "in several requests")
        if max_response_bytes is None:
            return
        size = self.response_bytes(signature, arrays, output_names)
        if size is not None and size > max_response_bytes:
            raise invalid(f"the response to this \"{signature}\" request would take {size} "
                          f"bytes, more than the server's limit of {max_response_bytes} bytes; "
                          "send less in each request")

    def run(self, signature: str, arrays: dict, output_names, should_stop=None) -> dict:
        """Computes checked inputs (see :meth:`check_request`) -> ``{output: numpy array}``.

        Args:
            should_stop: asked between batches of windows; True stops the computation with
                a CANCELLED :class:`RequestError`.

        Raises:
            RequestError: CANCELLED when stopped; INVALID_ARGUMENT for inputs the graph
                rejects; RESOURCE_EXHAUSTED when out of memory; INTERNAL for anything else.
        """
        import tensorflow as tf

        from lipmotion_tf.errors import InputError

        should_stop = should_stop or (lambda: False)
        try:
            if self._motion is not None and signature in ("serving_default", "render"):
                results = self._motion.run(signature, arrays,
                                           lambda progress: _stop_if(should_stop, progress))
            elif signature == DEFAULT_SIGNATURE and self._pipeline is not None:
                results = self._generate(arrays["waveform"], arrays["image"], should_stop)
            elif signature == "generate_window":
                results = self._generate_windows(arrays, should_stop)
            else:
                _stop_if(should_stop, "before it started")
                results = self.functions[signature](
                    **{k: tf.constant(v) for k, v in arrays.items()})
        except InputError as error:
            raise invalid(str(error)) from None
        except tf.errors.InvalidArgumentError as error:
            raise invalid(_first_line(error)) from None
        except tf.errors.ResourceExhaustedError as error:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, _first_line(error)) from None
        except tf.errors.OpError as error:
            raise RequestError(grpc.StatusCode.INTERNAL, _first_line(error)) from None
        return {name: np.asarray(results[name]) for name in output_names}

    # -- computations ------------------------------------------------------------------------

    def _generate(self, waveform, image, should_stop) -> dict:
        """``serving_default`` as the pipeline computes it (the graph's frames within one grey
        level), a batch of windows at a time."""
        pipeline = self._pipeline
        crop, _ = pipeline.identity_from_image(image, is_lip_crop=True)
        total = pipeline.num_frames(len(waveform))
        frames = []
        _stop_if(should_stop, "before it started")
        # The pipeline yields frames right after each generator batch: asking before taking
        # the next frame asks before every batch.
        for frame in pipeline.iter_frames(waveform, self.sample_rate, crop):
            frames.append(frame)
            if len(frames) < total:
                _stop_if(should_stop, f"after {len(frames)} of {total} frames")
        return {"frames": np.stack(frames)}

    def _generate_windows(self, arrays, should_stop) -> dict:
        import tensorflow as tf

        function = self.functions["generate_window"]
        log_mel, image = arrays["log_mel"], arrays["image"]
        count = len(log_mel)
        parts = []
        for first in range(0, max(count, 1), BATCH_WINDOWS):
            _stop_if(should_stop, f"after {first} of {count} windows" if first else
                     "before it started")
            last = first + BATCH_WINDOWS
            parts.append(function(log_mel=tf.constant(log_mel[first:last]),
                                  image=tf.constant(image[first:last]))["frames"].numpy())
        return {"frames": np.concatenate(parts)}

    # -- checks ------------------------------------------------------------------------------

    def _check_inputs(self, signature: str, inputs, max_elements: int | None) -> dict:
        import tensorflow as tf

        specs = self.input_specs[signature]
        missing = sorted(set(specs) - set(inputs))
        unknown = sorted(set(inputs) - set(specs))
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing input(s) {missing}")
            if unknown:
                parts.append(f"unknown input(s) {unknown}")
            raise invalid(
                f"signature \"{signature}\": {' and '.join(parts)}; expected "
                f"{', '.join(sorted(specs))}"
            )
        arrays = {}
        for name, spec in specs.items():
            proto = inputs[name]
            where = f"input \"{name}\" of \"{signature}\""
            if proto.dtype != spec.dtype.as_datatype_enum:
                raise invalid(f"{where} must be {spec.dtype.name}, got {_dtype_name(proto.dtype)}")
            check_tensor_size(proto, where, max_elements)
            shape = tf.TensorShape(proto.tensor_shape)
            if not shape.is_compatible_with(spec.shape):
                raise invalid(f"{where} must have shape {_shape_text(spec.shape)}, got "
                              f"{_shape_text(shape)}")
            try:
                array = tf.make_ndarray(proto)
            except (ValueError, TypeError) as error:
                raise invalid(f"{where}: malformed tensor ({error})") from None
            arrays[name] = np.asarray(array)
        return arrays

    def _validate(self, signature: str, arrays: dict, max_duration: float | None) -> None:
        """The checks the CLI and the Python API apply too: speech that is not empty, finite,
        within float speech's range (clipped to [-1, 1]) and not too long; an image big
        enough to crop; finite floats elsewhere; one image per generate_window window."""
        from lipmotion_tf.audio.validation import check_waveform
        from lipmotion_tf.errors import InputError
        from lipmotion_tf.video.image_io import check_image

        for name, array in arrays.items():
            where = f"input \"{name}\" of \"{signature}\""
            try:
                if name == "waveform":  # clipped to [-1, 1] as every entry point does
                    arrays[name] = check_waveform(array, self.sample_rate, max_duration, where)
                elif name == "image" and array.dtype == np.uint8:
                    check_image(array, where)
                elif array.dtype.kind == "f" and not np.isfinite(array).all():
                    bad = int(np.count_nonzero(~np.isfinite(array)))
                    raise InputError(f"{where} has {bad} non-finite values (NaN or infinity)")
            except InputError as error:
                raise invalid(str(error)) from None
        if signature == "generate_window" and {"log_mel", "image"} <= set(arrays):
            windows, images = len(arrays["log_mel"]), len(arrays["image"])
            if windows != images:  # one image per window: nothing is broadcast
                raise invalid(f"generate_window got {windows} log-mel windows and {images} "
                              "images; send one image per window")


class _SignatureGenerator:
    """The ``generate_window`` signature, called as the pipeline calls a Keras generator."""

    def __init__(self, function):
        self.function = function

    def predict_on_batch(self, inputs: dict) -> dict:
        import tensorflow as tf

        frames = self.function(log_mel=tf.constant(inputs["audio"]),
                               image=tf.constant(inputs["identity"]))["frames"]
        return {"video": frames.numpy()}


def _dtype(enum: int):
    """The ``tf.DType`` of a DataType enum value; TypeError for a value TensorFlow lacks."""
    import tensorflow as tf

    return tf.dtypes.as_dtype(enum)


def _dtype_name(enum: int) -> str:
    """A DataType enum value's name, also for values no TensorFlow dtype has (a client may
    send any number)."""
    if not enum:
        return "no dtype"
    try:
        return _dtype(enum).name
    except TypeError:
        return f"unknown dtype {enum}"


def _stop_if(should_stop, progress: str) -> None:
    if should_stop():
        raise RequestError(
            grpc.StatusCode.CANCELLED,
            f"request stopped {progress}: its deadline passed, its client cancelled it or the "
            "server is shutting down",
        )


# Where each dtype keeps its values when a TensorProto has no tensor_content, and how many
# entries one element takes.
_VALUE_FIELDS = {
    "float32": ("float_val", 1), "float64": ("double_val", 1),
    "float16": ("half_val", 1), "bfloat16": ("half_val", 1),
    "int8": ("int_val", 1), "int16": ("int_val", 1), "int32": ("int_val", 1),
    "uint8": ("int_val", 1), "uint16": ("int_val", 1),
    "int64": ("int64_val", 1), "uint32": ("uint32_val", 1), "uint64": ("uint64_val", 1),
    "bool": ("bool_val", 1), "string": ("string_val", 1),
    "complex64": ("scomplex_val", 2), "complex128": ("dcomplex_val", 2),
}


def check_tensor_size(proto, where: str = "tensor", max_elements: int | None = None) -> int:
    """The element count a TensorProto declares, once it is known to be sane.

    Run before ``tf.make_ndarray``, which would fill a declared shape from a single value
    (or from none) and so turn a few bytes into gigabytes.

    Raises:
        RequestError: INVALID_ARGUMENT for an unknown rank or negative dimension, more
            elements than ``max_elements``, or values that do not fill the declared shape.
    """
    import tensorflow as tf

    if proto.tensor_shape.unknown_rank:
        raise invalid(f"{where}: the tensor's shape has no rank")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in dims):
        raise invalid(f"{where}: dimension sizes must be >= 0, got {tuple(dims)}")
    declared = math.prod(dims)  # a Python int: no overflow whatever the dims
    if max_elements is not None and declared > max_elements:
        raise invalid(f"{where} declares shape {tuple(dims)}, {declared} elements, more than the "
                      f"server's limit of {max_elements}")
    try:
        dtype = tf.dtypes.as_dtype(proto.dtype)
    except TypeError:
        raise invalid(f"{where}: {_dtype_name(proto.dtype)} is not a tensor type") from None
    if proto.tensor_content:
        size = len(proto.tensor_content)
        if dtype.size == 0 or size % dtype.size:
            raise invalid(f"{where}: tensor_content of {size} bytes is not a whole number of "
                          f"{dtype.name} values")
        present = size // dtype.size
    else:
        field, per_element = _VALUE_FIELDS.get(dtype.name, (None, 1))
        if field is None:
            raise invalid(f"{where}: {dtype.name} tensors are not accepted")
        present = len(getattr(proto, field)) // per_element
    if declared and present != declared:
        raise invalid(f"{where} declares shape {tuple(dims)}, {declared} elements, but carries "
                      f"{present} value{'' if present == 1 else 's'}; send every value")
    return declared


def _shape_text(shape) -> str:
    if shape.rank is None:
        return "(unknown rank)"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + ")"


def _first_line(error) -> str:
    """The informative line of a TensorFlow error (not "Graph execution error:" or node names)."""
    message = getattr(error, "message", None) or str(error)
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[")
    lines = [line.strip() for line in message.splitlines()]
    lines = [line for line in lines if line and not line.startswith(noise)]
    if not lines:
        return type(error).__name__
    line = lines[0]
    if line.startswith("assertion failed: ["):  # tf.debugging assertions: keep their message
        line = line[len("assertion failed: ["):].split("]", 1)[0].strip().rstrip(".")
    return line
