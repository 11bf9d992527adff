"""gRPC serving: ``lipmotion serve`` / ModelServer + client on 127.0.0.1, bad requests, load."""

from __future__ import annotations

import signal

import grpc
import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.testing import start_serve

RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def model_base(tiny_checkpoint, tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / "lipmotion"
    for version in ("1", "2"):  # the server must pick the newest
        assert main(["export", "saved-model", "--checkpoint", str(tiny_checkpoint),
                     "--output", str(base), "--version", version]) == 0
    return base


@pytest.fixture(scope="module")
def server(model_base):
    from lipmotion_tf.serving.server import ModelServer

    # A 2 MB request limit so that the oversize case stays small.
    with ModelServer(model_base, port=0, max_concurrent=8, max_request_bytes=2 << 20) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    from lipmotion_tf.serving.client import LipMotionClient

    with LipMotionClient(f"127.0.0.1:{server.port}", timeout=60) as connected:
        connected.wait_until_ready(10)
        yield connected


def _speech(seconds: float) -> np.ndarray:
    return (0.1 * RNG.standard_normal(int(round(seconds * 44100)))).astype(np.float32)


def test_server_loads_the_newest_version_and_warms_up(server):
    assert server.model.version == 2
    assert server.warmup_seconds > 0


def test_metadata_lists_the_signatures(client):
    metadata = client.metadata()
    assert metadata["version"] == 2
    signatures = metadata["signatures"]
    assert set(signatures) == {"serving_default", "generate_window", "log_mel"}
    assert signatures["serving_default"]["inputs"] == {
        "waveform": ("float32", (None,)), "image": ("uint8", (None, None, 3))}
    assert signatures["serving_default"]["outputs"] == {"frames": ("uint8", (None, 64, 64, 3))}
    assert signatures["generate_window"]["outputs"] == {
        "frames": ("float32", (None, 16, 64, 64, 3))}


def test_window_over_grpc_matches_keras(client, generator_and_config):
    generator, _ = generator_and_config
    log_mel = RNG.normal(-40, 20, (2, 64, 128)).astype(np.float32)
    image = RNG.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    got = client.generate_window(log_mel, image)
    expected = generator({"audio": log_mel, "identity": image})["video"].numpy()
    assert np.abs(got - expected).max() <= 1e-4


def test_any_length_over_grpc_matches_the_pipeline(client, generator_and_config):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    generator, config = generator_and_config
    waveform = _speech(1.5)
    image = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.stack(list(LipMotionPipeline(generator, config).iter_frames(waveform, 44100, image)))
    got = client.generate(waveform, 44100, image)
    assert got.dtype == np.uint8 and got.shape == expected.shape == (38, 64, 64, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    # Another rate is resampled by the client.
    assert client.generate(waveform[::2].copy(), 22050, image).shape == (38, 64, 64, 3)


def _raw_predict(server, inputs, signature="serving_default", model="lipmotion", version=None):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}", options=[
            ("grpc.max_send_message_length", 64 << 20)]) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, timeout=30)
    return error.value.code(), error.value.details()


GOOD = {"waveform": np.zeros(3 * 1764, np.float32), "image": np.zeros((64, 64, 3), np.uint8)}


@pytest.mark.parametrize("case, inputs, kwargs, code, words", [
    ("wrong dtype", {**GOOD, "waveform": np.zeros(3 * 1764, np.float64)}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "must be float32, got float64"),
    ("wrong shape", {**GOOD, "image": np.zeros((64, 64, 4), np.uint8)}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "must have shape (None, None, 3)"),
    ("missing input", {"waveform": GOOD["waveform"]}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "missing input(s) ['image']"),
    ("unknown input", {**GOOD, "extra": np.zeros(3, np.float32)}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "unknown input(s) ['extra']"),
    ("unknown signature", GOOD, {"signature": "nope"},
     grpc.StatusCode.INVALID_ARGUMENT, "\"nope\" not found"),
    ("unknown model", GOOD, {"model": "other"}, grpc.StatusCode.NOT_FOUND, "other"),
    ("unknown version", GOOD, {"version": 1}, grpc.StatusCode.NOT_FOUND, "version 1"),
    ("empty image", {**GOOD, "image": np.zeros((0, 0, 3), np.uint8)}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "is 0x0 pixels"),
    # Finite but not speech: refused, not answered with black frames and OK.
    ("absurd speech", {**GOOD, "waveform": np.full(3 * 1764, 3.4e38, np.float32)}, {},
     grpc.StatusCode.INVALID_ARGUMENT, "far outside float speech's [-1, 1]"),
    ("one image for two windows", {"log_mel": np.zeros((2, 64, 128), np.float32),
                                   "image": np.zeros((1, 64, 64, 3), np.float32)},
     {"signature": "generate_window"}, grpc.StatusCode.INVALID_ARGUMENT,
     "2 log-mel windows and 1 images"),
    # gRPC's own receive limit is the request limit: refused before the request is read.
    ("oversize", {**GOOD, "waveform": np.zeros(1 << 20, np.float32)}, {},
     grpc.StatusCode.RESOURCE_EXHAUSTED, "vs. 2097152"),
])
def test_bad_requests_are_refused_and_the_server_keeps_serving(server, client, case, inputs, kwargs,
                                                              code, words):
    got_code, details = _raw_predict(server, inputs, **kwargs)
    assert got_code == code, (case, details)
    assert words in details, (case, details)
    assert client.generate(GOOD["waveform"], 44100, GOOD["image"]).shape == (3, 64, 64, 3)


def test_client_errors_are_one_clear_line(server):
    from lipmotion_tf.serving.client import LipMotionClient, ServingError

    with LipMotionClient(f"127.0.0.1:{server.port}", model_name="other") as wrong:
        with pytest.raises(ServingError, match="refused the request: NOT_FOUND") as error:
            wrong.metadata()
        assert error.value.code == grpc.StatusCode.NOT_FOUND
    with LipMotionClient("127.0.0.1:1", timeout=2) as nobody:
        with pytest.raises(ServingError, match="cannot reach a server at 127.0.0.1:1"):
            nobody.metadata()
        with pytest.raises(ServingError, match="no gRPC server answered"):
            nobody.wait_until_ready(0.5)


@pytest.mark.slow  # a load test
def test_load_eight_clients_with_malformed_requests(server):
    from lipmotion_tf.serving.load_test import run_load_test

    report = run_load_test(f"127.0.0.1:{server.port}", clients=8, requests_per_client=50,
                           malformed_every=10)
    print(report.summary())
    assert report.failures == []
    assert report.rejected == 8 * 5
    assert report.succeeded == 8 * 45
    assert 0 < report.percentile(50) <= report.percentile(99)


def test_port_in_use_is_one_clear_error(model_base, server):
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.serving.server import ModelServer

    with pytest.raises(InputError, match="cannot listen on 127.0.0.1"):
        ModelServer(model_base, port=server.port, warmup=False).start()


def test_missing_model_base_is_one_clear_error(tmp_path, capsys):
    code = main(["serve", "--model-base-path", str(tmp_path / "none"), "--port", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "model base path not found" in err and len(err.splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["serve", "--model-base-path", str(tmp_path / "empty"), "--port", "0"]) == 2
    assert "holds no model version" in capsys.readouterr().err
    (tmp_path / "broken" / "1").mkdir(parents=True)
    (tmp_path / "broken" / "1" / "saved_model.pb").write_bytes(b"not a model")
    assert main(["serve", "--model-base-path", str(tmp_path / "broken"), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot load the model in" in err and len(err.splitlines()) == 1


def _models_config(folder, base_path, policy="", labels="", name="lips", file="models.config"):
    """A TF Serving models.config (text ModelServerConfig) for one model; returns its path."""
    path = folder / file
    path.write_text(f'model_config_list {{ config {{ name: "{name}" base_path: "{base_path}" '
                    f'model_platform: "tensorflow" {policy} {labels} }} }}\n')
    return path


def test_model_config_file_serves_the_model_and_version_named_there(model_base, tmp_path):
    from tensorflow_serving.apis import get_model_metadata_pb2, prediction_service_pb2_grpc

    from lipmotion_tf.cli.main import build_parser
    from lipmotion_tf.cli.serve import build_server
    from lipmotion_tf.serving.client import LipMotionClient

    config = _models_config(tmp_path, model_base,
                            "model_version_policy { specific { versions: 1 } }",
                            'version_labels { key: "stable" value: 1 }')
    args = build_parser().parse_args(["serve", "--model-config-file", str(config), "--port", "0",
                                      "--no-warmup"])
    with build_server(args) as server:  # the folder also holds version 2
        with LipMotionClient(f"127.0.0.1:{server.port}", model_name="lips", timeout=60) as client:
            assert client.metadata()["version"] == 1
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = "lips"
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request.model_spec.version_label = "stable"
            assert stub.GetModelMetadata(request, timeout=30).model_spec.version.value == 1
            request.model_spec.version_label = "canary"
            with pytest.raises(grpc.RpcError) as error:
                stub.GetModelMetadata(request, timeout=30)
            assert error.value.code() == grpc.StatusCode.NOT_FOUND
            request.model_spec.name = "lipmotion"  # the name of --model-base-path's default
            request.model_spec.ClearField("version_label")
            with pytest.raises(grpc.RpcError) as error:
                stub.GetModelMetadata(request, timeout=30)
            assert error.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("policy, version", [
    ("", 2), ("model_version_policy { latest { num_versions: 1 } }", 2),
    ("model_version_policy { specific { versions: 1 } }", 1),
])
def test_model_config_file_version_policy_chooses_the_version(model_base, tmp_path, policy,
                                                               version):
    from lipmotion_tf.serving.model_config import read_model_config_file

    choice = read_model_config_file(_models_config(tmp_path, model_base, policy))
    assert (choice.name, choice.base_path, choice.version) == ("lips", model_base, version)


@pytest.mark.parametrize("policy, labels, words", [
    ("model_version_policy { latest { num_versions: 2 } }", "", "loads one version"),
    ("model_version_policy { specific { versions: 1 versions: 2 } }", "", "loads exactly one"),
    ("model_version_policy { specific { versions: 7 } }", "", "version 7 of model \"lips\" not"),
    ("model_version_policy { all {} }", "", "holds versions 1, 2"),
    ("", 'version_labels { key: "old" value: 1 }', "label \"old\" names version 1"),
    ("logging_config { }", "", "logging_config is not supported"),
])
def test_model_config_file_asking_what_serve_cannot_do_is_one_line(model_base, tmp_path, capsys,
                                                                    policy, labels, words):
    config = _models_config(tmp_path, model_base, policy, labels)
    assert main(["serve", "--model-config-file", str(config), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and str(config) in err and len(err.splitlines()) == 1, err


def test_model_config_file_problems_are_one_clear_line(model_base, tmp_path, capsys):
    two = tmp_path / "two.config"
    two.write_text(f'model_config_list {{ config {{ name: "a" base_path: "{model_base}" '
                   f'model_platform: "tensorflow" }} config {{ name: "b" base_path: '
                   f'"{model_base}" model_platform: "tensorflow" }} }}')
    binary = tmp_path / "binary.config"
    binary.write_bytes(b"\xff\xfe model_config_list")
    good = _models_config(tmp_path, model_base, file="good.config")
    (tmp_path / "bad.config").write_text("model_config_list { config { nam: 1 } }")
    cases = [
        (["--model-config-file", str(good), "--model-base-path", str(model_base)],
         "do not give --model-base-path"),
        (["--model-config-file", str(good), "--model-name", "x"], "do not give --model-name"),
        ([], "give --model-base-path"),
        (["--model-config-file", str(tmp_path / "none.config")], "cannot read model config"),
        (["--model-config-file", str(binary)], "not UTF-8 text"),
        (["--model-config-file", str(tmp_path / "bad.config")], "not a text ModelServerConfig"),
        (["--model-config-file", str(two)], "lists 2 models (\"a\", \"b\")"),
        (["--model-config-file", str(_models_config(tmp_path, "models/lipmotion",
                                                     file="relative.config"))],
         "expected model \"lips\" to have an absolute path"),
        (["--model-config-file", str(_models_config(tmp_path, "gs://bucket/lipmotion",
                                                     file="uri.config"))],
         "local folders only"),
        (["--model-config-file", str(_models_config(tmp_path, tmp_path / "nowhere",
                                                     file="nowhere.config"))],
         "model base path of model \"lips\" not found"),
    ]
    for flags, words in cases:
        assert main(["serve", *flags, "--port", "0"]) == 2, flags
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (flags, err)


def test_lipmotion_serve_command_serves_and_stops_on_sigterm(model_base):
    from lipmotion_tf.serving.client import LipMotionClient

    process, port = start_serve(model_base, "--no-warmup")
    try:
        with LipMotionClient(f"127.0.0.1:{port}", timeout=60) as client:
            assert client.metadata()["version"] == 2
            assert client.generate(_speech(0.3), 44100,
                                   np.zeros((80, 80, 3), np.uint8)).shape == (8, 64, 64, 3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert "server stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
