"""A bounded load test of a PredictionService: concurrent clients, bad requests mixed in.

Each client thread sends ``requests_per_client`` requests one after another on its own
channel. Every ``malformed_every``-th request of a client is deliberately bad, the kinds
cycling through :data:`MALFORMED_KINDS` (wrong dtype or shape, missing input, unknown
signature, NaN or empty speech, a 1x1 image, tensors declaring 20 million or 2^40 elements
they do not carry), plus ``too_long`` (speech over the server's duration limit) when
``too_long_seconds`` is given and ``cancelled`` (speech of ``cancelled_seconds`` with a 50 ms
deadline) when that is given. Bad requests must be refused with INVALID_ARGUMENT
(DEADLINE_EXCEEDED for cancelled ones); every other request is a normal ``serving_default``
call that must succeed with the right number of frames. The report gives the latency
percentiles of the good requests and lists anything that went differently.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time

import numpy as np

from lipmotion_tf.config import SPEECH_SAMPLE_RATE

MALFORMED_KINDS = ("wrong_dtype", "wrong_shape", "missing_input", "unknown_signature",
                   "nan_waveform", "empty_waveform", "tiny_image", "declares_20m",
                   "declares_2_40")
# Deadline of a "cancelled" request.
CANCELLED_TIMEOUT = 0.05


@dataclasses.dataclass
class LoadTestReport:
    """Outcome of :func:`run_load_test`.

    Attributes:
        clients: concurrent clients.
        requests: requests sent in total.
        succeeded: good requests answered correctly.
        rejected: bad requests refused as expected (INVALID_ARGUMENT; DEADLINE_EXCEEDED for
            cancelled ones).
        failures: ``"client i request j: what happened"`` for everything else.
        latencies: seconds per good request (successful ones).
        wall_seconds: duration of the whole test.
    """

    clients: int
    requests: int
    succeeded: int
    rejected: int
    failures: list[str]
    latencies: list[float]
    wall_seconds: float

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` (0-100) in seconds (nan without successes)."""
        if not self.latencies:
            return float("nan")
        return float(np.percentile(self.latencies, q))

    def summary(self) -> str:
        mean = statistics.fmean(self.latencies) if self.latencies else float("nan")
        return (
            f"{self.clients} clients x {self.requests // max(self.clients, 1)} requests: "
            f"{self.succeeded} ok, {self.rejected} bad ones refused, "
            f"{len(self.failures)} failed; latency p50 {1e3 * self.percentile(50):.1f} ms, "
            f"p99 {1e3 * self.percentile(99):.1f} ms, mean {1e3 * mean:.1f} ms; "
            f"{self.succeeded / self.wall_seconds:.1f} requests/s over {self.wall_seconds:.1f} s"
        )


def run_load_test(
    target: str,
    model_name: str = "lipmotion",
    clients: int = 8,
    requests_per_client: int = 50,
    malformed_every: int = 10,
    seconds_of_speech: float = 0.64,
    timeout: float = 120.0,
    seed: int = 0,
    too_long_seconds: float | None = None,
    cancelled_seconds: float | None = None,
) -> LoadTestReport:
    """Runs the load test against ``target`` (``host:port``).

    Args:
        target: the server.
        model_name: the served model's name.
        clients: concurrent client threads, each with its own channel.
        requests_per_client: requests each client sends.
        malformed_every: every n-th request of a client is bad (0: none).
        seconds_of_speech: length of the speech in each good request.
        timeout: deadline of each request in seconds.
        seed: seed of the random speech and images.
        too_long_seconds: also send speech this long, which must exceed the server's
            duration limit.
        cancelled_seconds: also send speech this long with a deadline of 50 ms, which must
            pass while it is computed (and within the server's duration limit).
    """
    import grpc

    from lipmotion_tf.serving.client import LipMotionClient, ServingError

    rng = np.random.default_rng(seed)
    samples = int(round(seconds_of_speech * SPEECH_SAMPLE_RATE))
    waveform = (0.1 * rng.standard_normal(samples)).astype(np.float32)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected_frames = max(1, int(round(len(waveform) / 1764)))
    kinds = list(MALFORMED_KINDS)
    if too_long_seconds is not None:
        kinds.append("too_long")
    if cancelled_seconds is not None:
        kinds.append("cancelled")
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    counts = {"succeeded": 0, "rejected": 0}
    start_barrier = threading.Barrier(clients)

    def worker(index: int) -> None:
        client = None
        try:
            client = LipMotionClient(target, model_name=model_name, timeout=timeout)
            start_barrier.wait(timeout=timeout)
            for number in range(requests_per_client):
                malformed = malformed_every and (number + 1) % malformed_every == 0
                deadline, expected = None, grpc.StatusCode.INVALID_ARGUMENT
                if malformed:
                    kind = kinds[(index + number) % len(kinds)]
                    signature, inputs = _malformed(kind, waveform, image, too_long_seconds,
                                                   cancelled_seconds)
                    if kind == "cancelled":
                        deadline, expected = CANCELLED_TIMEOUT, grpc.StatusCode.DEADLINE_EXCEEDED
                else:
                    signature, inputs = "serving_default", {"waveform": waveform, "image": image}
                started = time.perf_counter()
                try:
                    outputs = client.predict(inputs, signature, timeout=deadline)
                except ServingError as error:
                    ok = malformed and error.code == expected
                    with lock:
                        if ok:
                            counts["rejected"] += 1
                        else:
                            failures.append(f"client {index} request {number}: {error}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if malformed:
                        failures.append(f"client {index} request {number}: malformed request "
                                        "was answered")
                    elif outputs["frames"].shape != (expected_frames, 64, 64, 3):
                        failures.append(f"client {index} request {number}: frames of shape "
                                        f"{outputs['frames'].shape}")
                    else:
                        counts["succeeded"] += 1
                        latencies.append(elapsed)
        except Exception as error:  # noqa: BLE001  (reported, not swallowed)
            start_barrier.abort()  # the other clients must not wait for this one
            with lock:
                failures.append(f"client {index}: {type(error).__name__}: {error}")
        finally:
            if client is not None:
                client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,), name=f"load-client-{i}")
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadTestReport(
        clients=clients,
        requests=clients * requests_per_client,
        succeeded=counts["succeeded"],
        rejected=counts["rejected"],
        failures=failures,
        latencies=latencies,
        wall_seconds=time.perf_counter() - started,
    )


def _malformed(kind: str, waveform: np.ndarray, image: np.ndarray,
               too_long_seconds: float | None = None,
               cancelled_seconds: float | None = None) -> tuple[str, dict]:
    if kind == "wrong_dtype":
        return "serving_default", {"waveform": waveform.astype(np.float64), "image": image}
    if kind == "wrong_shape":
        return "serving_default", {"waveform": waveform, "image": image[..., :2]}
    if kind == "missing_input":
        return "serving_default", {"waveform": waveform}
    if kind == "unknown_signature":
        return "no_such_signature", {"waveform": waveform, "image": image}
    if kind == "nan_waveform":
        spoiled = waveform.copy()
        spoiled[::100] = np.nan
        return "serving_default", {"waveform": spoiled, "image": image}
    if kind == "empty_waveform":
        return "serving_default", {"waveform": waveform[:0], "image": image}
    if kind == "tiny_image":
        return "serving_default", {"waveform": waveform, "image": image[:1, :1]}
    if kind in ("declares_20m", "declares_2_40"):
        shape = (20_000_000,) if kind == "declares_20m" else (1 << 40,)
        return "serving_default", {"waveform": declared_tensor(shape, [0.0]), "image": image}
    if kind == "too_long":
        if too_long_seconds is None:
            raise ValueError("too_long requests need too_long_seconds")
        return "serving_default", {"waveform": _speech(too_long_seconds), "image": image}
    if kind == "cancelled":
        if cancelled_seconds is None:
            raise ValueError("cancelled requests need cancelled_seconds")
        return "serving_default", {"waveform": _speech(cancelled_seconds), "image": image}
    raise ValueError(f"unknown malformed request kind {kind!r}")


def declared_tensor(shape, values):
    """A float32 TensorProto declaring ``shape`` but holding only ``values``: a few bytes
    that would expand to the whole shape if a server filled it in."""
    from tensorflow.core.framework import tensor_pb2, types_pb2

    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    proto.float_val.extend(values)
    return proto


def _speech(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.1 * rng.standard_normal(int(round(seconds * SPEECH_SAMPLE_RATE)))).astype(np.float32)
