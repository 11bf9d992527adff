"""The work a request can cause on ``lipmotion serve`` is bounded.

Malformed requests (tensors declaring more than they carry, NaN or empty speech, a 1x1
image, speech over the duration limit) are refused with INVALID_ARGUMENT before anything is
computed; a passed deadline stops the computation; excess load is refused with
RESOURCE_EXHAUSTED; SIGTERM drains running requests, cancels them after the grace period and
exits within 10 s; and a load test mixing bad requests with good ones answers every good one.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.testing import start_serve

MAX_DURATION = 5.0  # seconds; small so that the too-long case stays small
# Speech the tiny model takes several seconds to turn into frames (the tests check that it
# is stopped long before that).
LONG_SECONDS = 120.0


@pytest.fixture(scope="module")
def model_base(exported_model_base):
    return exported_model_base


@pytest.fixture(scope="module")
def server(model_base):
    from lipmotion_tf.serving.server import ModelServer

    with ModelServer(model_base, port=0, max_request_bytes=32 << 20,
                     max_duration=MAX_DURATION, warmup=True) as running:
        yield running


def _speech(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    return (0.1 * rng.standard_normal(int(round(seconds * 44100)))).astype(np.float32)


def _request(inputs: dict, signature: str = "serving_default"):
    """A PredictRequest; TensorProto values go in as they are (to declare what they lack)."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "lipmotion"
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        if not isinstance(value, tensor_pb2.TensorProto):
            value = tf.make_tensor_proto(value)
        request.inputs[name].CopyFrom(value)
    return request


def _stub(port: int):
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
        ("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", -1)])
    return channel, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _declared(shape, values=(0.0,)):
    from lipmotion_tf.serving.load_test import declared_tensor

    return declared_tensor(shape, list(values))


def _content_tensor(shape, content: bytes, dtype):
    from tensorflow.core.framework import tensor_pb2

    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_content=content)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    return proto


def _cases():
    from tensorflow.core.framework import types_pb2

    speech = _speech(0.5)
    image = np.full((64, 64, 3), 100, np.uint8)
    nan_speech = speech.copy()
    nan_speech[100:103] = np.nan
    inf_speech = speech.copy()
    inf_speech[7] = np.inf
    nan_log_mel = np.zeros((1, 64, 128), np.float32)
    nan_log_mel[0, 3, 5] = np.nan
    # (inputs, signature, words the one-line message must hold)
    return {
        "declares 20M with one value": (
            {"waveform": _declared((20_000_000,)), "image": image}, "serving_default",
            "declares shape (20000000,), 20000000 elements, but carries 1 value"),
        "declares 2^40 with one value": (
            {"waveform": _declared((1 << 40,)), "image": image}, "serving_default",
            "1099511627776 elements, more than the server's limit"),
        "declares 2^40 pixels with 12 bytes": (
            {"waveform": speech,
             "image": _content_tensor((1 << 19, 1 << 21, 3), bytes(12), types_pb2.DT_UINT8)},
            "serving_default", "more than the server's limit"),
        "content not whole floats": (
            {"waveform": _content_tensor((2,), bytes(7), types_pb2.DT_FLOAT), "image": image},
            "serving_default", "not a whole number of float32 values"),
        "negative dimension": (
            {"waveform": _declared((-5,), ()), "image": image}, "serving_default",
            "dimension sizes must be >= 0"),
        "NaN speech": ({"waveform": nan_speech, "image": image}, "serving_default",
                       "has 3 non-finite samples"),
        "infinite speech": ({"waveform": inf_speech, "image": image}, "serving_default",
                            "has 1 non-finite samples"),
        "empty speech": ({"waveform": speech[:0], "image": image}, "serving_default",
                         "is empty"),
        "1x1 image": ({"waveform": speech, "image": image[:1, :1]}, "serving_default",
                      "is 1x1 pixels; at least 16x16 is needed"),
        "0x0 image": ({"waveform": speech, "image": image[:0, :0]}, "serving_default",
                      "is 0x0 pixels"),
        "too long": ({"waveform": _speech(MAX_DURATION + 1), "image": image}, "serving_default",
                     "lasts 6.0 s, more than the limit of 5 s"),
        "too long for log_mel": ({"waveform": _speech(MAX_DURATION + 1)}, "log_mel",
                                 "more than the limit of 5 s"),
        "NaN log-mel window": (
            {"log_mel": nan_log_mel, "image": np.zeros((1, 64, 64, 3), np.float32)},
            "generate_window", "has 1 non-finite values"),
        "unknown dtype 999": (
            {"waveform": _content_tensor((2,), bytes(8), 999), "image": image},
            "serving_default", "must be float32, got unknown dtype 999"),
        "more windows than the limit": (
            {"log_mel": np.zeros((65, 64, 128), np.float32),
             "image": np.zeros((65, 64, 64, 3), np.float32)},
            "generate_window", "65 windows, more than the server's limit of 64 windows"),
    }


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_requests_are_refused_quickly_without_growing_memory(server, case):
    inputs, signature, words = CASES[case]
    request = _request(inputs, signature)
    channel, stub = _stub(server.port)
    with channel:
        before = _rss_mb()
        started = time.perf_counter()
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, timeout=30)
        seconds = time.perf_counter() - started
        grown = _rss_mb() - before
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, error.value.details())
    details = error.value.details()
    assert words in details and len(details.splitlines()) == 1, (case, details)
    # The defects were gigabytes held and minutes computed; a margin of 200 MB keeps the
    # allocator's own variation (51 MB once for a 5 MB request) from failing the suite.
    assert grown < 200, (case, f"memory grew by {grown:.0f} MB ({seconds:.1f} s)")


def test_the_server_still_serves_after_the_malformed_requests(server):
    from lipmotion_tf.serving.client import LipMotionClient

    channel, stub = _stub(server.port)
    with channel:
        for inputs, signature, _ in CASES.values():  # one after another, on one channel
            with pytest.raises(grpc.RpcError):
                stub.Predict(_request(inputs, signature), timeout=30)
    with LipMotionClient(f"127.0.0.1:{server.port}") as client:
        frames = client.generate(_speech(0.64), 44100, np.full((64, 64, 3), 90, np.uint8))
    assert frames.shape == (16, 64, 64, 3)


def test_request_over_the_limit_is_refused_by_grpc_before_it_is_read(server):
    """gRPC's receive limit is the request limit: a larger request is turned away as its
    length arrives, not buffered up to a much larger cap first."""
    request = _request({"waveform": np.zeros((33 << 20) // 4, np.float32),
                        "image": np.zeros((64, 64, 3), np.uint8)})
    assert request.ByteSize() > server.max_request_bytes
    channel, stub = _stub(server.port)
    with channel:
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.value.details()
    assert f"vs. {server.max_request_bytes}" in error.value.details()


def test_answers_larger_than_the_limit_are_refused_before_computing(server):
    from lipmotion_tf.serving.served_model import RequestError
    from lipmotion_tf.serving.servicer import PredictionServicer

    model = server.model
    image = np.full((64, 64, 3), 100, np.uint8)
    speech = {"waveform": _speech(1.0), "image": image}  # 25 frames of 64x64x3 bytes
    assert model.response_bytes("serving_default", speech) == 25 * 64 * 64 * 3
    windows = {"log_mel": np.zeros((3, 64, 128), np.float32),
               "image": np.zeros((3, 64, 64, 3), np.float32)}
    assert model.response_bytes("generate_window", windows) == 3 * 16 * 64 * 64 * 3 * 4
    small = PredictionServicer(model, max_response_bytes=25 * 64 * 64 * 3 - 1, max_windows=2)
    for inputs, signature, words in (
            (speech, "serving_default", "more than the server's limit of 307199 bytes"),
            (windows, "generate_window", "3 windows, more than the server's limit of 2")):
        with pytest.raises(RequestError, match=words) as error:
            small.predict(_request(inputs, signature))
        assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_declared_size_check_comes_before_the_array_is_built():
    from lipmotion_tf.serving.served_model import RequestError, check_tensor_size

    assert check_tensor_size(_declared((2, 3), range(6))) == 6
    assert check_tensor_size(_declared((0, 5), ())) == 0
    with pytest.raises(RequestError, match="more than the server's limit of 100"):
        check_tensor_size(_declared((1 << 40,), ()), max_elements=100)
    with pytest.raises(RequestError, match="carries 0 values"):
        check_tensor_size(_declared((4,), ()))


def test_a_passed_deadline_stops_the_computation(model_base):
    from lipmotion_tf.serving.server import ModelServer

    request = _request({"waveform": _speech(LONG_SECONDS),
                        "image": np.full((64, 64, 3), 100, np.uint8)})
    with ModelServer(model_base, port=0, warmup=False) as server:
        channel, stub = _stub(server.port)
        with channel:
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(request, timeout=1.0)
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        started = time.perf_counter()
        # The whole computation takes several seconds; a cancelled one stops within a batch.
        assert server.servicer.wait_idle(3.0), "the request kept computing after its deadline"
        print(f"request stopped {time.perf_counter() - started:.2f} s after its deadline")


def _long_call(stub, timeout=60.0, seconds=LONG_SECONDS):
    request = _request({"waveform": _speech(seconds),
                        "image": np.full((64, 64, 3), 100, np.uint8)})
    return stub.Predict.future(request, timeout=timeout)


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_excess_load_is_refused_with_resource_exhausted(model_base):
    from lipmotion_tf.serving.client import LipMotionClient, ServingError
    from lipmotion_tf.serving.server import ModelServer

    short = {"waveform": _speech(0.64), "image": np.full((64, 64, 3), 100, np.uint8)}
    with ModelServer(model_base, port=0, max_concurrent=1, max_queue=1,
                     warmup=False) as busy:
        channel, stub = _stub(busy.port)
        with channel, LipMotionClient(f"127.0.0.1:{busy.port}") as client:
            running = _long_call(stub)
            _wait_for(lambda: busy.servicer.running == 1)
            queued = stub.Predict.future(_request(short), timeout=60)
            _wait_for(lambda: busy.servicer.in_flight == 2)
            with pytest.raises(ServingError, match="RESOURCE_EXHAUSTED: server busy: 1 "
                               r"request\(s\) running and 1 waiting") as error:
                client.predict(short)
            assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert client.metadata()["version"] == 1  # metadata is still answered
            running.cancel()  # the running request stops; the queued one gets its turn
            assert queued.result(timeout=30).outputs["frames"].tensor_shape.dim[0].size == 16
            assert busy.servicer.wait_idle(5)
            assert client.predict(short)["frames"].shape == (16, 64, 64, 3)


def test_stop_lets_running_requests_finish_then_cancels_the_rest(model_base):
    from lipmotion_tf.serving.server import ModelServer

    # Long enough to be seen running, short enough to finish within the grace period.
    short = {"waveform": _speech(20.0), "image": np.full((64, 64, 3), 100, np.uint8)}
    with ModelServer(model_base, port=0, warmup=False) as draining:
        channel, stub = _stub(draining.port)
        with channel:
            finishing = stub.Predict.future(_request(short), timeout=60)
            _wait_for(lambda: draining.servicer.running == 1)
            assert draining.stop(grace=20.0)
            assert finishing.result().outputs["frames"].tensor_shape.dim[0].size == 500
    with ModelServer(model_base, port=0, warmup=False) as cancelling:
        channel, stub = _stub(cancelling.port)
        with channel:
            cancelled = _long_call(stub)
            _wait_for(lambda: cancelling.servicer.running == 1)
            started = time.perf_counter()
            assert cancelling.stop(grace=0.5)
            assert time.perf_counter() - started < 3.0
            # gRPC answers the calls it cancels at shutdown with UNAVAILABLE: retry elsewhere.
            assert cancelled.exception(timeout=10).code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.slow  # a server process per test, each kept busy (test_serving stops one
# with SIGTERM in the default suite)
def test_sigterm_during_a_request_exits_within_ten_seconds(model_base):
    process, port = start_serve(model_base, "--no-warmup")
    try:
        channel, stub = _stub(port)
        with channel:
            call = _long_call(stub)
            time.sleep(1.5)  # the request is computing (it takes several seconds)
            assert not call.done()
            signalled = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
            exit_seconds = time.perf_counter() - signalled
            print(f"exited {exit_seconds:.1f} s after SIGTERM")
            assert code == 0
            assert exit_seconds < 10, exit_seconds
            # Drained: the request either finished within the grace period or was cancelled.
            error = call.exception(timeout=10)
            assert error is None or error.code() in (grpc.StatusCode.CANCELLED,
                                                     grpc.StatusCode.UNAVAILABLE)
        assert "server stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow  # as the one above
def test_sigterm_exits_even_when_a_request_cannot_be_interrupted(model_base, tmp_path):
    """A version exported without its config runs serving_default in one graph call, which
    nothing can interrupt: the process exits without waiting for it."""
    import shutil

    old_base = tmp_path / "old"
    shutil.copytree(model_base, old_base)
    (old_base / "1" / "assets.extra" / "lipmotion_config.yaml").unlink()
    process, port = start_serve(old_base, "--no-warmup", "--grace-period", "1")
    try:
        channel, stub = _stub(port)
        with channel:
            call = _long_call(stub, seconds=2 * LONG_SECONDS)  # well over 1.5 + 1 + 2 s
            time.sleep(1.5)
            assert not call.done()
            signalled = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            exit_seconds = time.perf_counter() - signalled
            print(f"exited {exit_seconds:.1f} s after SIGTERM")
            assert exit_seconds < 10, exit_seconds
        err = process.stderr.read()
        assert "1 cancelled request(s) still computing; exiting without them" in err, err[-2000:]
        assert "runs in one call" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_bad_limits_in_one_line(model_base, capsys):
    # The ranges of lipmotion_tf.cli.bounds, checked before the server is built.
    for flags, words in ((["--max-concurrent", "0"], "--max-concurrent must be a whole number "
                                                     "from 1"),
                         (["--max-queue", "-1"], "--max-queue must be a whole number from 0"),
                         (["--max-duration", "nan"], "--max-duration must be a number above 0"),
                         (["--grace-period", "-1"], "--grace-period must be a number from 0"),
                         (["--max-request-mb", "inf"], "--max-request-mb must be a number above 0"),
                         (["--max-request-mb", "4096"], "gRPC's largest message"),
                         (["--max-response-mb", "nan"], "--max-response-mb must be a number "
                                                        "above 0"),
                         (["--max-windows", "0"], "--max-windows must be a whole number from 1")):
        assert main(["serve", "--model-base-path", str(model_base), "--port", "0",
                     *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (flags, err)


@pytest.mark.slow  # a load test
def test_load_with_one_bad_request_in_five(model_base):
    """8 clients x 50 requests, every fifth one bad (malformed, oversized or cancelled): each
    good one is answered, each bad one refused, and the server's memory stays within 1.5x
    of its warmed-up level."""
    from lipmotion_tf.serving.load_test import run_load_test

    process, port = start_serve(model_base, "--max-duration", str(MAX_DURATION))
    try:
        time.sleep(0.5)
        warm = _rss_mb(process.pid)
        peak, done = [warm], threading.Event()

        def sample():
            while not done.wait(0.05):
                peak.append(_rss_mb(process.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            report = run_load_test(f"127.0.0.1:{port}", clients=8, requests_per_client=50,
                                   malformed_every=5, too_long_seconds=MAX_DURATION + 1,
                                   cancelled_seconds=MAX_DURATION - 1)
        finally:
            done.set()
            sampler.join()
        after = _rss_mb(process.pid)
        print(report.summary())
        print(f"server memory: {warm:.0f} MB warmed up, peak {max(peak):.0f} MB, "
              f"{after:.0f} MB after")
        assert report.failures == []
        assert report.rejected == 8 * 10
        assert report.succeeded == 8 * 40
        assert max(peak) <= 1.5 * warm
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
