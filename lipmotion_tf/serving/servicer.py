"""``PredictionServicer``: TensorFlow Serving's PredictionService (Predict, GetModelMetadata).

It implements the service of ``tensorflow_serving/apis/prediction_service.proto`` on the
messages of the ``tensorflow-serving-api`` package, so clients written for TF Serving
(``PredictionServiceStub``) work unchanged. Classify, Regress and MultiInference answer
UNIMPLEMENTED (the base class's reply).

A bad request never disturbs the server: it is answered with a status and a one-line message
and the next request is served as usual.

=================================================  ===================
request problem                                    status
=================================================  ===================
model name other than the served one               NOT_FOUND
version other than the loaded one, version label   NOT_FOUND
unknown signature, missing / unknown input         INVALID_ARGUMENT
wrong dtype or shape, malformed tensor             INVALID_ARGUMENT
request larger than ``max_request_bytes``          INVALID_ARGUMENT
inputs the graph rejects (an empty image...)       INVALID_ARGUMENT
GetModelMetadata without ``signature_def`` field   INVALID_ARGUMENT
=================================================  ===================
"""

from __future__ import annotations

import logging

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from lipmotion_tf.serving.served_model import RequestError, ServedModel

LOGGER = logging.getLogger(__name__)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers Predict and GetModelMetadata for one served model.

    Args:
        model: the loaded model version.
        model_name: the name clients must put in ``model_spec.name``.
        max_request_bytes: larger Predict requests are refused with INVALID_ARGUMENT.
    """

    def __init__(self, model: ServedModel, model_name: str = "lipmotion",
                 max_request_bytes: int = 64 << 20):
        self.model = model
        self.model_name = model_name
        self.max_request_bytes = int(max_request_bytes)

    # -- PredictionService ----------------------------------------------------------------

    def Predict(self, request, context):  # noqa: N802  (gRPC method name)
        try:
            return self.predict(request)
        except RequestError as error:
            context.abort(error.code, error.message)
        except Exception:  # noqa: BLE001  (one broken request must not stop the server)
            LOGGER.exception("Predict failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal error while running the model")

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            return self.get_model_metadata(request)
        except RequestError as error:
            context.abort(error.code, error.message)

    # -- the same, without gRPC -------------------------------------------------------------

    def predict(self, request) -> predict_pb2.PredictResponse:
        """Answers a ``PredictRequest``; raises :class:`RequestError` for a bad one."""
        import tensorflow as tf

        self._check_model_spec(request.model_spec)
        size = request.ByteSize()
        if size > self.max_request_bytes:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request of {size} bytes exceeds the server's limit of "
                f"{self.max_request_bytes} bytes",
            )
        signature = request.model_spec.signature_name or "serving_default"
        outputs = self.model.predict(signature, request.inputs, list(request.output_filter))
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(self._served_spec(signature))
        for name, value in outputs.items():
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
        if choice == "version_label":
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"version labels are not supported (got \"{spec.version_label}\")",
            )

    def _served_spec(self, signature: str):
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature)
        spec.version.value = self.model.version
        return spec
