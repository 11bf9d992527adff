"""``ModelServer``: a gRPC server answering TensorFlow Serving's PredictionService.

For development, tests and small deployments where the TensorFlow Serving model server is
not installed (it is not on PyPI). It serves the newest version under a model base folder
(or the one a TF Serving model config file chooses: :meth:`ModelServer.from_config_file`),
replays the version's warm-up requests before accepting traffic, and runs requests on a
thread pool, at most ``max_concurrent`` at once with ``max_queue`` more waiting (see
:mod:`~lipmotion_tf.serving.servicer` for the limits on each request). :meth:`ModelServer.stop`
drains: running requests get a grace period, then are cancelled between two batches of
windows. Production deployments run ``tensorflow_model_server`` on the same folder (see
``docs/deployment.md``).

Example::

    with ModelServer("models/lipmotion", port=0) as server:   # 0: any free port
        client = LipMotionClient(f"127.0.0.1:{server.port}")
"""

from __future__ import annotations

import logging
import time
from concurrent import futures
from pathlib import Path

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION, check_max_duration
from lipmotion_tf.errors import InputError
from lipmotion_tf.serving.served_model import MAX_RESPONSE_BYTES, MAX_WINDOWS

LOGGER = logging.getLogger(__name__)
# The largest message gRPC can take or send (its limits are C ints).
GRPC_MESSAGE_CAP = (1 << 31) - 1
# Room for a response's own fields (model spec, tensor headers) around its outputs' bytes.
RESPONSE_OVERHEAD_BYTES = 1 << 20
# Threads beyond the running and queued requests: they answer metadata calls and refuse
# excess load while every request thread is busy.
SPARE_THREADS = 2
# After the grace period, how long stop() waits for cancelled requests to notice.
CANCEL_WAIT_SECONDS = 2.0


class ModelServer:
    """Loads a model and serves it over gRPC.

    Args:
        model_base: the model base folder (``MODEL_BASE/<version>/saved_model.pb``).
        model_name: the name clients use in ``model_spec.name``.
        host: interface to listen on.
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
        max_concurrent: Predict requests computed at the same time.
        max_queue: Predict requests waiting for a turn; more are refused with
            RESOURCE_EXHAUSTED.
        max_request_bytes: larger Predict requests are refused: gRPC's receive limit, so a
            larger request is turned away (RESOURCE_EXHAUSTED) as its length arrives,
            before it is buffered.
        max_tensor_elements: most elements one input tensor may declare (default
            ``max_request_bytes``).
        max_duration: longest speech a request may hold, in seconds (``math.inf``: no limit).
        grace_period: seconds :meth:`stop` lets running requests finish before cancelling
            them.
        warmup: replay ``assets.extra/tf_serving_warmup_requests`` before serving.
        max_windows: most windows of one ``generate_window`` request (INVALID_ARGUMENT).
        max_response_bytes: most bytes one answer's outputs may take, checked before they
            are computed (INVALID_ARGUMENT); also gRPC's send limit, with room for headers.
        version: the version to load (default: the highest under ``model_base``).
        version_labels: ``{label: version}`` clients may send as ``model_spec.version_label``;
            each must name the loaded version.
    """

    def __init__(
        self,
        model_base: str | Path,
        model_name: str = "lipmotion",
        host: str = "127.0.0.1",
        port: int = 8500,
        max_concurrent: int = 8,
        max_queue: int = 16,
        max_request_bytes: int = 64 << 20,
        max_tensor_elements: int | None = None,
        max_duration: float = DEFAULT_MAX_DURATION,
        grace_period: float = 5.0,
        warmup: bool = True,
        max_windows: int = MAX_WINDOWS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        version: int | None = None,
        version_labels: dict | None = None,
    ):
        if not 0 <= int(port) <= 65535:
            raise InputError(f"port must be in 0..65535, got {port}")
        if max_concurrent < 1:
            raise InputError(f"max concurrent requests must be at least 1, got {max_concurrent}")
        if max_queue < 0:
            raise InputError(f"max queued requests must be 0 or more, got {max_queue}")
        if not 1 <= max_request_bytes <= GRPC_MESSAGE_CAP:
            raise InputError(f"max_request_bytes must be from 1 to {GRPC_MESSAGE_CAP} (gRPC's "
                             f"largest message), got {max_request_bytes}")
        if not 1 <= max_response_bytes <= GRPC_MESSAGE_CAP - RESPONSE_OVERHEAD_BYTES:
            raise InputError(f"max_response_bytes must be from 1 to "
                             f"{GRPC_MESSAGE_CAP - RESPONSE_OVERHEAD_BYTES}, got "
                             f"{max_response_bytes}")
        if max_windows < 1:
            raise InputError(f"max windows per request must be at least 1, got {max_windows}")
        if max_tensor_elements is not None and max_tensor_elements < 1:
            raise InputError(f"max_tensor_elements must be positive, got {max_tensor_elements}")
        if not grace_period >= 0:  # NaN included
            raise InputError(f"grace period must be 0 or more seconds, got {grace_period}")
        self.model_base = Path(model_base)
        self.model_name = model_name
        self.host = host
        self.requested_port = int(port)
        self.max_concurrent = int(max_concurrent)
        self.max_queue = int(max_queue)
        self.max_request_bytes = int(max_request_bytes)
        self.max_tensor_elements = max_tensor_elements
        self.max_duration = check_max_duration(max_duration)
        self.grace_period = float(grace_period)
        self.warmup = warmup
        self.max_windows = int(max_windows)
        self.max_response_bytes = int(max_response_bytes)
        self.version = None if version is None else int(version)
        self.version_labels = dict(version_labels or {})
        self.port: int | None = None
        self.model = None
        self.servicer = None
        self.warmup_seconds = 0.0
        self._server = None
        self._executor = None

    @classmethod
    def from_config_file(cls, path: str | Path, **options) -> "ModelServer":
        """A server for the model a TF Serving model config file names (name, base path,
        the version its policy chooses, version labels; see
        :mod:`~lipmotion_tf.serving.model_config`). ``options``: the other arguments.

        Raises:
            InputError: the file cannot be read, or asks for what this server cannot do.
        """
        from lipmotion_tf.serving.model_config import read_model_config_file

        choice = read_model_config_file(path)
        return cls(choice.base_path, model_name=choice.name, version=choice.version,
                   version_labels=choice.version_labels, **options)

    def start(self) -> "ModelServer":
        """Loads the model, warms it up and starts listening.

        Raises:
            InputError: no model to load, or the address cannot be bound.
        """
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        from lipmotion_tf.serving.served_model import ServedModel
        from lipmotion_tf.serving.servicer import PredictionServicer

        self.model = ServedModel.load(self.model_base, self.version)
        self.servicer = PredictionServicer(
            self.model, self.model_name, self.max_request_bytes, self.max_tensor_elements,
            self.max_duration, self.max_concurrent, self.max_queue,
            max_windows=self.max_windows, max_response_bytes=self.max_response_bytes,
            version_labels=self.version_labels,
        )
        if self.warmup:
            self.warmup_seconds = self._replay_warmup()

        # Threads for every running and queued request, plus a few to answer metadata calls
        # and refuse excess load while all those are busy; gRPC itself refuses calls beyond
        # them (RESOURCE_EXHAUSTED) instead of queueing them without bound.
        threads = self.max_concurrent + self.max_queue + SPARE_THREADS
        executor = futures.ThreadPoolExecutor(max_workers=threads,
                                              thread_name_prefix="lipmotion-serve")
        server = grpc.server(
            executor,
            maximum_concurrent_rpcs=threads,
            options=[
                # gRPC reads a message's length first and refuses a longer one before
                # buffering it: a request costs at most max_request_bytes of memory.
                ("grpc.max_receive_message_length", self.max_request_bytes),
                ("grpc.max_send_message_length",
                 self.max_response_bytes + RESPONSE_OVERHEAD_BYTES),
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
            executor.shutdown(wait=False)
            raise InputError(f"cannot listen on {address} (address in use or not available)")
        server.start()
        self._server, self._executor, self.port = server, executor, port
        return self

    def stop(self, grace: float | None = None, cancel_wait: float = CANCEL_WAIT_SECONDS) -> bool:
        """Stops accepting requests, lets running ones finish, then cancels the rest.

        Args:
            grace: seconds running requests get to finish (default :attr:`grace_period`).
            cancel_wait: seconds cancelled requests then get to stop (they do between two
                batches of windows).

        Returns:
            True when no request is left running; False when some still compute (the
            caller may exit anyway: their clients have already been answered CANCELLED).
        """
        if self._server is None:
            return True
        grace = self.grace_period if grace is None else grace
        self._server.stop(grace).wait()
        idle = self.servicer.wait_idle(cancel_wait)
        self._executor.shutdown(wait=False)
        self._server = self._executor = None
        return idle

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
