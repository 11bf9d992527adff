"""One exported model version, loaded for serving, with TF Serving's request checks.

``ServedModel.load(model_base)`` picks the highest numbered version under the base folder
(as TensorFlow Serving's default version policy does), loads its SavedModel and keeps each
signature's input specs and ``SignatureDef``. :meth:`ServedModel.predict` checks a request's
tensors against the signature (every input present, no unknown one, dtype, shape) before
running it and reports problems as a :class:`RequestError` carrying the gRPC status code the
servicer answers with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import grpc

DEFAULT_SIGNATURE = "serving_default"


class RequestError(Exception):
    """A request the model cannot answer; ``code`` is the gRPC status to reply with."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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
    """

    version_dir: Path
    version: int
    functions: dict
    input_specs: dict
    signature_defs: dict
    loaded: object = dataclasses.field(default=None, repr=False)

    @classmethod
    def load(cls, model_base: str | Path) -> "ServedModel":
        """Loads the newest version under ``model_base``.

        Raises:
            InputError: no such folder, no version in it, or a version that cannot be loaded.
        """
        import tensorflow as tf
        from google.protobuf.message import DecodeError
        from tensorflow.core.protobuf import saved_model_pb2

        from lipmotion_tf.errors import InputError
        from lipmotion_tf.export.saved_model import SAVED_MODEL_FILE, latest_version_dir

        version_dir = latest_version_dir(model_base)
        try:
            loaded = tf.saved_model.load(str(version_dir))
            stored = saved_model_pb2.SavedModel.FromString(
                (version_dir / SAVED_MODEL_FILE).read_bytes()
            )
        except (OSError, ValueError, DecodeError, tf.errors.OpError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else error
            raise InputError(f"cannot load the model in {version_dir}: {first_line}") from None
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
                   loaded)

    def predict(self, signature: str, inputs: dict, output_filter=()) -> dict:
        """Runs one signature on request tensors.

        Args:
            signature: the signature name (empty means ``serving_default``).
            inputs: ``{input name: TensorProto}`` (a PredictRequest's ``inputs`` map).
            output_filter: output names to return (empty: all).

        Returns:
            ``{output name: numpy array}``.

        Raises:
            RequestError: INVALID_ARGUMENT for an unknown signature, a missing, unknown or
                malformed input, or inputs the graph rejects; INTERNAL for anything else.
        """
        import tensorflow as tf

        signature = signature or DEFAULT_SIGNATURE
        if signature not in self.functions:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Serving signature key \"{signature}\" not found; this model has "
                f"{', '.join(sorted(self.functions))}",
            )
        arrays = self._check_inputs(signature, inputs)
        outputs = self.signature_defs[signature].outputs
        unknown = [name for name in output_filter if name not in outputs]
        if unknown:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"output_filter names unknown output(s) {unknown} of signature \"{signature}\"",
            )
        try:
            results = self.functions[signature](**{k: tf.constant(v) for k, v in arrays.items()})
        except tf.errors.InvalidArgumentError as error:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, _first_line(error)) from None
        except tf.errors.ResourceExhaustedError as error:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, _first_line(error)) from None
        except tf.errors.OpError as error:
            raise RequestError(grpc.StatusCode.INTERNAL, _first_line(error)) from None
        wanted = list(output_filter) or list(results)
        return {name: results[name].numpy() for name in wanted}

    def _check_inputs(self, signature: str, inputs) -> dict:
        import numpy as np
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
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"signature \"{signature}\": {' and '.join(parts)}; expected "
                f"{', '.join(sorted(specs))}",
            )
        arrays = {}
        for name, spec in specs.items():
            proto = inputs[name]
            if proto.dtype != spec.dtype.as_datatype_enum:
                given = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "no dtype"
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input \"{name}\" of \"{signature}\" must be {spec.dtype.name}, got {given}",
                )
            shape = tf.TensorShape(proto.tensor_shape)
            if not shape.is_compatible_with(spec.shape):
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input \"{name}\" of \"{signature}\" must have shape "
                    f"{_shape_text(spec.shape)}, got {_shape_text(shape)}",
                )
            try:
                array = tf.make_ndarray(proto)
            except (ValueError, TypeError) as error:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input \"{name}\" of \"{signature}\": malformed tensor ({error})",
                ) from None
            if tuple(array.shape) != tuple(shape.as_list()):
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input \"{name}\" of \"{signature}\": {array.size} values do not fill "
                    f"shape {_shape_text(shape)}",
                )
            arrays[name] = np.asarray(array)
        return arrays


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
