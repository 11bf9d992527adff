"""A bounded load test of a PredictionService: concurrent clients, malformed requests mixed in.

Each client thread sends ``requests_per_client`` requests one after another on its own
channel. Every ``malformed_every``-th request of a client is deliberately broken (wrong
dtype, wrong shape, missing input, unknown signature, cycling) and must be refused with
INVALID_ARGUMENT; every other request is a normal ``serving_default`` call that must succeed
with the right number of frames. The report gives the latency percentiles of the good
requests and lists anything that went differently.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time

import numpy as np

MALFORMED_KINDS = ("wrong_dtype", "wrong_shape", "missing_input", "unknown_signature")


@dataclasses.dataclass
class LoadTestReport:
    """Outcome of :func:`run_load_test`.

    Attributes:
        clients: concurrent clients.
        requests: requests sent in total.
        succeeded: good requests answered correctly.
        rejected: malformed requests refused with INVALID_ARGUMENT.
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
            f"{self.succeeded} ok, {self.rejected} malformed rejected, "
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
) -> LoadTestReport:
    """Runs the load test against ``target`` (``host:port``).

    Args:
        target: the server.
        model_name: the served model's name.
        clients: concurrent client threads, each with its own channel.
        requests_per_client: requests each client sends.
        malformed_every: every n-th request of a client is malformed (0: none).
        seconds_of_speech: length of the speech in each good request.
        timeout: deadline of each request in seconds.
        seed: seed of the random speech and images.
    """
    import grpc

    from lipmotion_tf.serving.client import LipMotionClient, ServingError

    rng = np.random.default_rng(seed)
    waveform = (0.1 * rng.standard_normal(int(round(seconds_of_speech * 44100)))).astype(np.float32)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected_frames = max(1, int(round(len(waveform) / 1764)))
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
                if malformed:
                    kind = MALFORMED_KINDS[(index + number) % len(MALFORMED_KINDS)]
                    signature, inputs = _malformed(kind, waveform, image)
                else:
                    signature, inputs = "serving_default", {"waveform": waveform, "image": image}
                started = time.perf_counter()
                try:
                    outputs = client.predict(inputs, signature)
                except ServingError as error:
                    ok = malformed and error.code == grpc.StatusCode.INVALID_ARGUMENT
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


def _malformed(kind: str, waveform: np.ndarray, image: np.ndarray) -> tuple[str, dict]:
    if kind == "wrong_dtype":
        return "serving_default", {"waveform": waveform.astype(np.float64), "image": image}
    if kind == "wrong_shape":
        return "serving_default", {"waveform": waveform, "image": image[..., :2]}
    if kind == "missing_input":
        return "serving_default", {"waveform": waveform}
    if kind == "unknown_signature":
        return "no_such_signature", {"waveform": waveform, "image": image}
    raise ValueError(f"unknown malformed request kind {kind!r}")
