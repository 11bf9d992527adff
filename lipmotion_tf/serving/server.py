"""``ModelServer``: a gRPC server answering TensorFlow Serving's PredictionService.

For development, tests and small deployments where the TensorFlow Serving model server is
not installed (it is not on PyPI). It serves the newest version under a model base folder,
replays the version's warm-up requests before accepting traffic, and runs requests on a
thread pool. Production deployments run ``tensorflow_model_server`` on the same folder
(see ``docs/deployment.md``).

Example::

    with ModelServer("models/lipmotion", port=0) as server:   # 0: any free port
        client = LipMotionClient(f"127.0.0.1:{server.port}")
"""

from __future__ import annotations

import logging
import time
from concurrent import futures
from pathlib import Path

from lipmotion_tf.errors import InputError

LOGGER = logging.getLogger(__name__)
# gRPC refuses messages above this outright (RESOURCE_EXHAUSTED); requests between
# max_request_bytes and this get the servicer's INVALID_ARGUMENT with a clear message.
GRPC_MESSAGE_CAP = 1 << 30


class ModelServer:
    """Loads a model and serves it over gRPC.

    Args:
        model_base: the model base folder (``MODEL_BASE/<version>/saved_model.pb``).
        model_name: the name clients use in ``model_spec.name``.
        host: interface to listen on.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        max_workers: requests handled at the same time.
        max_request_bytes: larger Predict requests are refused with INVALID_ARGUMENT.
        warmup: replay ``assets.extra/tf_serving_warmup_requests`` before serving.
    """

    def __init__(
        self,
        model_base: str | Path,
        model_name: str = "lipmotion",
        host: str = "127.0.0.1",
        port: int = 8500,
        max_workers: int = 8,
        max_request_bytes: int = 64 << 20,
        warmup: bool = True,
    ):
        if not 0 <= int(port) <= 65535:
            raise InputError(f"port must be in 0..65535, got {port}")
        if max_workers < 1:
            raise InputError(f"max_workers must be at least 1, got {max_workers}")
        if max_request_bytes < 1:
            raise InputError(f"max_request_bytes must be positive, got {max_request_bytes}")
        self.model_base = Path(model_base)
        self.model_name = model_name
        self.host = host
        self.requested_port = int(port)
        self.max_workers = int(max_workers)
        self.max_request_bytes = int(max_request_bytes)
        self.warmup = warmup
        self.port: int | None = None
        self.model = None
        self.servicer = None
        self.warmup_seconds = 0.0
        self._server = None

    def start(self) -> "ModelServer":
        """Loads the model, warms it up and starts listening.

        Raises:
            InputError: no model to load, or the address cannot be bound.
        """
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        from lipmotion_tf.serving.served_model import ServedModel
        from lipmotion_tf.serving.servicer import PredictionServicer

        self.model = ServedModel.load(self.model_base)
        self.servicer = PredictionServicer(self.model, self.model_name, self.max_request_bytes)
        if self.warmup:
            self.warmup_seconds = self._replay_warmup()

        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                       thread_name_prefix="lipmotion-serve"),
            options=[
                ("grpc.max_receive_message_length", GRPC_MESSAGE_CAP),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a port already in use is an error, not shared
            ],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self.servicer, server)
        address = f"{_host_for_address(self.host)}:{self.requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if not port:
            raise InputError(f"cannot listen on {address} (address in use or not available)")
        server.start()
        self._server, self.port = server, port
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stops accepting requests; running ones get ``grace`` seconds to finish."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def wait(self) -> None:
        """Blocks until the server stops."""
        if self._server is not None:
            self._server.wait_for_termination()

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _replay_warmup(self) -> float:
        """Runs the version's warm-up requests; returns the seconds it took."""
        from lipmotion_tf.export.warmup import read_warmup_requests, warmup_path
        from lipmotion_tf.serving.served_model import RequestError

        started = time.perf_counter()
        for request in read_warmup_requests(warmup_path(self.model.version_dir)):
            request.model_spec.name = self.model_name
            request.model_spec.ClearField("version")
            try:
                self.servicer.predict(request)
            except RequestError as error:
                LOGGER.warning("warm-up request for %s failed: %s",
                               request.model_spec.signature_name, error.message)
        return time.perf_counter() - started


def _host_for_address(host: str) -> str:
    """IPv6 literals need brackets in a gRPC address."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
