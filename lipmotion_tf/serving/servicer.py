"""``PredictionServicer``: TensorFlow Serving's PredictionService (Predict, GetModelMetadata).

It implements the service of ``tensorflow_serving/apis/prediction_service.proto`` on the
messages of the ``tensorflow-serving-api`` package, so clients written for TF Serving
(``PredictionServiceStub``) work unchanged. Classify, Regress and MultiInference answer
UNIMPLEMENTED (the base class's reply).

A bad request never disturbs the server: it is answered with a status and a one-line message
and the next request is served as usual. The work one request can cause is bounded: its
size, the element count each tensor declares (checked before any array is built), the
duration of its speech, the windows and the bytes of its answer, and its time (a passed deadline or a cancelled call stops it between
batches of windows). At most ``max_concurrent`` Predict calls compute at once and
``max_queue`` more wait for a turn; beyond that a call is refused at once.

=================================================  ===================
request problem                                    status
=================================================  ===================
model name other than the served one               NOT_FOUND
version other than the loaded one, unknown label   NOT_FOUND
unknown signature, missing / unknown input         INVALID_ARGUMENT
wrong or unknown dtype, wrong shape, malformed     INVALID_ARGUMENT
declared elements not carried or over the limit    INVALID_ARGUMENT
request larger than ``max_request_bytes``          RESOURCE_EXHAUSTED over gRPC (its
                                                   receive limit, before it is read);
                                                   INVALID_ARGUMENT called directly
generate_window of more than ``max_windows``       INVALID_ARGUMENT
answer larger than ``max_response_bytes``          INVALID_ARGUMENT (before computing)
speech empty, non-finite or over ``max_duration``  INVALID_ARGUMENT
image under 16x16, non-finite float inputs         INVALID_ARGUMENT
inputs the graph rejects                           INVALID_ARGUMENT
deadline passed or call cancelled while running    stops (the client sees its own status)
still running after the stopping server's grace    UNAVAILABLE (gRPC's, at shutdown)
``max_concurrent`` running and ``max_queue`` wait  RESOURCE_EXHAUSTED
GetModelMetadata without ``signature_def`` field   INVALID_ARGUMENT
=================================================  ===================
"""

from __future__ import annotations

import contextlib
import logging
import threading

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION, check_max_duration
from lipmotion_tf.errors import InputError
from lipmotion_tf.serving.served_model import (
    MAX_RESPONSE_BYTES,
    MAX_WINDOWS,
    RequestError,
    ServedModel,
)

LOGGER = logging.getLogger(__name__)
# How often a queued call looks whether it was cancelled while waiting for a turn.
QUEUE_POLL_SECONDS = 0.05


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers Predict and GetModelMetadata for one served model.

    Args:
        model: the loaded model version.
        model_name: the name clients must put in ``model_spec.name``.
        max_request_bytes: larger Predict requests are refused with INVALID_ARGUMENT.
        max_tensor_elements: most elements one input tensor may declare (default
            ``max_request_bytes``: no value takes less than a byte, so a tensor declaring
            more could not carry its values anyway).
        max_duration: longest speech a request may hold, in seconds (``math.inf``: none).
        max_concurrent: Predict calls computing at the same time.
        max_queue: Predict calls waiting for a turn; more get RESOURCE_EXHAUSTED.
        max_windows: most windows of one ``generate_window`` request.
        max_response_bytes: most bytes one answer's outputs may take (checked before
            computing them).
        version_labels: ``{label: version}`` accepted in ``model_spec.version_label``;
            every label must name the loaded version.
    """

    def __init__(self, model: ServedModel, model_name: str = "lipmotion",
                 max_request_bytes: int = 64 << 20, max_tensor_elements: int | None = None,
                 max_duration: float = DEFAULT_MAX_DURATION, max_concurrent: int = 8,
                 max_queue: int = 16, max_windows: int = MAX_WINDOWS,
                 max_response_bytes: int = MAX_RESPONSE_BYTES,
                 version_labels: dict | None = None):
        if max_concurrent < 1:
            raise InputError(f"max concurrent requests must be at least 1, got {max_concurrent}")
        if max_queue < 0:
            raise InputError(f"max queued requests must be 0 or more, got {max_queue}")
        if max_windows < 1:
            raise InputError(f"max windows per request must be at least 1, got {max_windows}")
        if max_response_bytes < 1:
            raise InputError(f"max response bytes must be positive, got {max_response_bytes}")
        version_labels = dict(version_labels or {})
        others = {label: v for label, v in version_labels.items() if v != model.version}
        if others:
            raise InputError(f"version labels {others} name versions other than the loaded "
                             f"{model.version}")
        self.model = model
        self.version_labels = version_labels
        self.model_name = model_name
        self.max_request_bytes = int(max_request_bytes)
        self.max_tensor_elements = int(max_tensor_elements or max_request_bytes)
        self.max_duration = check_max_duration(max_duration)
        self.max_concurrent = int(max_concurrent)
        self.max_queue = int(max_queue)
        self.max_windows = int(max_windows)
        self.max_response_bytes = int(max_response_bytes)
        self._lock = threading.Condition()
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        """Predict calls computing now."""
        with self._lock:
            return self._running

    @property
    def in_flight(self) -> int:
        """Predict calls computing or waiting for a turn."""
        with self._lock:
            return self._running + self._waiting

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Waits until no Predict call computes or waits; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._running + self._waiting == 0, timeout)

    # -- PredictionService ----------------------------------------------------------------

    def Predict(self, request, context):  # noqa: N802  (gRPC method name)
        try:
            return self.predict(request, context)
        except RequestError as error:
            code = error.code
            if code == grpc.StatusCode.CANCELLED:
                LOGGER.info("Predict: %s", error.message)
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    # Stopped by its deadline: say so, whichever side noticed it first.
                    code = grpc.StatusCode.DEADLINE_EXCEEDED
            context.abort(code, error.message)
        except Exception:  # noqa: BLE001  (one broken request must not stop the server)
            LOGGER.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal error while running the model")

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            return self.get_model_metadata(request)
        except RequestError as error:
            context.abort(error.code, error.message)

    # -- the same, without gRPC -------------------------------------------------------------

    def predict(self, request, context=None) -> predict_pb2.PredictResponse:
        """Answers a ``PredictRequest``; raises :class:`RequestError` for a bad one.

        Args:
            context: the call's ``grpc.ServicerContext``; the computation stops when the
                call is no longer active (None: it always runs to the end).
        """
        import tensorflow as tf

        self._check_model_spec(request.model_spec)
        size = request.ByteSize()
        if size > self.max_request_bytes:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request of {size} bytes exceeds the server's limit of "
                f"{self.max_request_bytes} bytes",
            )
        # Checked before queueing, so that bad requests are answered at once even under load.
        signature, arrays, outputs = self.model.check_request(
            request.model_spec.signature_name, request.inputs, list(request.output_filter),
            self.max_tensor_elements, self.max_duration, max_windows=self.max_windows,
            max_response_bytes=self.max_response_bytes,
        )
        should_stop = _stopped(context)
        with self._turn(should_stop):
            results = self.model.run(signature, arrays, outputs, should_stop)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(self._served_spec(signature))
        for name, value in results.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def get_model_metadata(self, request) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """Answers a ``GetModelMetadataRequest`` (``signature_def`` is the only field)."""
        self._check_model_spec(request.model_spec)
        fields = list(request.metadata_field)
        if not fields:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "GetModelMetadataRequest must specify at least one metadata_field",
            )
        unsupported = [f for f in fields if f != "signature_def"]
        if unsupported:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata field(s) {unsupported} not supported; use \"signature_def\"",
            )
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, definition in self.model.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(definition)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.CopyFrom(self._served_spec(""))
        response.metadata["signature_def"].Pack(signature_map)
        return response

    # -- admission --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _turn(self, should_stop):
        """Holds one of the ``max_concurrent`` turns, waiting in the queue for it if need be.

        Raises:
            RequestError: RESOURCE_EXHAUSTED when every turn is taken and the queue is full;
                CANCELLED when the call ends while it waits.
        """
        with self._lock:
            if self._running >= self.max_concurrent and self._waiting >= self.max_queue:
                raise RequestError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"server busy: {self._running} request(s) running and {self._waiting} "
                    f"waiting, its limits (max concurrent {self.max_concurrent}, max queue "
                    f"{self.max_queue}); retry later",
                )
            self._waiting += 1
            try:
                while self._running >= self.max_concurrent:
                    if should_stop():
                        raise RequestError(grpc.StatusCode.CANCELLED,
                                           "request cancelled while waiting for a turn")
                    self._lock.wait(QUEUE_POLL_SECONDS)
            finally:
                self._waiting -= 1
                self._lock.notify_all()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    # -- model spec -------------------------------------------------------------------------

    def _check_model_spec(self, spec) -> None:
        if spec.name != self.model_name:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: model \"{spec.name}\" (this server serves "
                f"\"{self.model_name}\")",
            )
        choice = spec.WhichOneof("version_choice")
        if choice == "version" and spec.version.value != self.model.version:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: version {spec.version.value} of "
                f"\"{self.model_name}\" (loaded: {self.model.version})",
            )
        if choice == "version_label" and spec.version_label not in self.version_labels:
            known = ", ".join(f'"{label}"' for label in sorted(self.version_labels)) or "none"
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: version label \"{spec.version_label}\" of "
                f"\"{self.model_name}\" (labels: {known})",
            )

    def _served_spec(self, signature: str):
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature)
        spec.version.value = self.model.version
        return spec


def _stopped(context):
    """``should_stop`` for a call: True once it is no longer active (its deadline passed, its
    client cancelled it, or the server cancelled it when stopping)."""
    if context is None:
        return lambda: False

    def should_stop() -> bool:
        remaining = context.time_remaining()
        return not context.is_active() or (remaining is not None and remaining <= 0)

    return should_stop
