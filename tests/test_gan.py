"""LipMotionGAN's train and test steps on the tiny configuration (TensorFlow backend)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from lipmotion_tf.models.factory import build_networks
from lipmotion_tf.testing import tiny_experiment_config
from lipmotion_tf.train.gan import TRACKER_NAMES, LipMotionGAN
from lipmotion_tf.train.optimizer_group import OptimizerGroup

NETWORKS = ("generator", "discriminator", "flownet", "audio_encoder", "flow_encoder", "autoencoder")


def _batch(batch_size=2, seed=0, mismatch=True) -> dict:
    rng = np.random.default_rng(seed)
    batch = {
        "audio": rng.normal(-40.0, 15.0, (batch_size, 64, 128)).astype("float32"),
        "video": rng.uniform(-1, 1, (batch_size, 16, 64, 64, 3)).astype("float32"),
        "identity": rng.uniform(-1, 1, (batch_size, 64, 64, 3)).astype("float32"),
    }
    if mismatch:
        batch["mismatch_audio"] = rng.normal(-40.0, 15.0, (batch_size, 64, 128)).astype("float32")
    return batch


def _make_gan(overrides=(), optimizers=None, run_eagerly=True, seed=0, **compile_kwargs):
    config = tiny_experiment_config()
    for key, value in overrides:
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    keras.utils.set_random_seed(seed)
    networks = build_networks(config)
    gan = LipMotionGAN(
        **networks, discriminator_streams=config.model.discriminator_streams, seed=seed
    )
    if optimizers is None:
        optimizers = (
            keras.optimizers.Adam(2e-4, beta_1=0.5),
            keras.optimizers.Adam(2e-4, beta_1=0.5),
            keras.optimizers.AdamW(1e-4, weight_decay=5e-4),
            keras.optimizers.AdamW(1e-4, weight_decay=4e-4),
        )
    gan.compile(*optimizers, loss_config=config.loss, run_eagerly=run_eagerly, **compile_kwargs)
    gan.build_from_batch(_batch())
    return gan, networks


def _snapshot(networks) -> dict:
    return {
        name: [v.numpy().copy() for v in net.weights] for name, net in networks.items()
    }


def _changed(before, networks, name, trainable_only=True) -> bool:
    net = networks[name]
    variables = net.trainable_variables if trainable_only else net.weights
    old = before[name] if not trainable_only else [
        value for value, v in zip(before[name], net.weights) if v.trainable
    ]
    return any(not np.array_equal(a, v.numpy()) for a, v in zip(old, variables))


def _finite_logs(logs) -> dict:
    values = {k: float(np.asarray(v)) for k, v in logs.items()}
    assert set(TRACKER_NAMES) <= set(values)
    assert all(math.isfinite(v) for v in values.values()), values
    return values


# Building a tiny GAN takes 3-5 s on 2 cores: the tests that do not train one share these.
@pytest.fixture(scope="module")
def three_stream_gan():
    """``_make_gan()`` once per module, for tests that only read or evaluate it."""
    return _make_gan()


@pytest.fixture(scope="module")
def two_stream_gan():
    """``_make_gan`` with the two-stream discriminator, for tests that only read it."""
    return _make_gan([("model.discriminator_streams", "two")])


def test_one_train_step_updates_the_trained_networks_only():
    gan, networks = _make_gan()
    before = _snapshot(networks)
    logs = _finite_logs(gan.train_on_batch(_batch(), return_dict=True))
    for name in ("generator", "discriminator", "flownet", "audio_encoder", "flow_encoder"):
        assert _changed(before, networks, name), f"{name} was not updated"
    assert not _changed(before, networks, "autoencoder", trainable_only=False)
    assert not networks["autoencoder"].trainable_variables
    assert logs["correlation_real"] > 0 and logs["perceptual"] > 0
    assert logs["warp"] == 0.0  # no warp head
    for member in ("generator", "discriminator", "correlation", "flow"):
        assert int(gan.optimizer.member(member).iterations.numpy()) == 1


@pytest.mark.slow  # traces the whole GAN step
def test_graph_mode_step_matches_the_eager_step():
    eager, _ = _make_gan(seed=3)
    graph, _ = _make_gan(seed=3, run_eagerly=False)
    batch = _batch(seed=5)
    a = _finite_logs(eager.train_on_batch(batch, return_dict=True))
    b = _finite_logs(graph.train_on_batch(batch, return_dict=True))
    for name in TRACKER_NAMES:
        assert a[name] == pytest.approx(b[name], rel=1e-3, abs=1e-4), name


def test_without_correlation_flownet_and_encoders_stay_fixed():
    gan, networks = _make_gan([("loss.correlation", 0.0)])
    before = _snapshot(networks)
    logs = _finite_logs(gan.train_on_batch(_batch(), return_dict=True))
    assert logs["correlation_real"] == 0.0 and logs["correlation_fake"] == 0.0
    # The three-stream discriminator reads FlowNet's flows of the generated clip, but the
    # adversarial gradient must not train FlowNet.
    assert _changed(before, networks, "generator") and _changed(before, networks, "discriminator")
    for name in ("flownet", "audio_encoder", "flow_encoder"):
        assert not _changed(before, networks, name), name


def test_flownet_step_is_the_correlation_gradient_alone():
    import tensorflow as tf

    sgd = lambda: keras.optimizers.SGD(learning_rate=1.0)  # noqa: E731
    gan, networks = _make_gan(optimizers=(sgd(), sgd(), sgd(), sgd()))
    batch = _batch(seed=7)
    flownet = networks["flownet"]
    start = [v.numpy().copy() for v in flownet.trainable_variables]
    with tf.GradientTape() as tape:
        objective = gan.generator_losses(batch, training=True)["correlation_objective"]
    expected = tape.gradient(objective, flownet.trainable_variables)
    gan.train_on_batch(batch)
    moved = [s - v.numpy() for s, v in zip(start, flownet.trainable_variables)]
    scale = max(float(np.abs(g).max()) for g in expected)
    assert scale > 0
    for got, want in zip(moved, expected):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4 * scale + 1e-7)


# Every variant is a GAN step (8-10 s each on 2 shared cores), so all are slow: the default
# suite steps the three-stream GAN (test_one_train_step_updates_the_trained_networks_only and
# below), builds each discriminator (test_models) and plans the two-stream GAN's gradients.
@pytest.mark.parametrize("overrides, check", [
    pytest.param([("model.discriminator_streams", "two")], "flow_trained", id="two_stream",
                 marks=pytest.mark.slow),
    pytest.param([("model.discriminator_streams", "frame_diff")], "flow_trained",
                 id="frame_diff", marks=pytest.mark.slow),
    pytest.param([("loss.derivative_correlation", False)], "flow_fixed", id="non_derivative",
                 marks=pytest.mark.slow),
    pytest.param([("loss.perceptual", 0.0)], "no_perceptual", id="no_perceptual",
                 marks=pytest.mark.slow),
    pytest.param([("loss.correlation_on_fake", False)], "no_fake_correlation",
                 id="real_correlation_only", marks=pytest.mark.slow),
])
def test_ablation_switches(overrides, check):
    gan, networks = _make_gan(overrides)
    before = _snapshot(networks)
    logs = _finite_logs(gan.train_on_batch(_batch(), return_dict=True))
    assert _changed(before, networks, "generator") and _changed(before, networks, "discriminator")
    if check == "flow_trained":
        assert _changed(before, networks, "flownet")
    if check == "flow_fixed":  # frames go straight to the encoders: no flow is computed
        assert not _changed(before, networks, "flownet")
        assert _changed(before, networks, "flow_encoder")
    if check == "no_perceptual":
        assert logs["perceptual"] == 0.0
    if check == "no_fake_correlation":
        assert logs["correlation_fake"] == 0.0 and logs["correlation_real"] > 0


def test_warp_penalty_is_the_mean_absolute_shift_in_the_objective():
    warped = [("model.generator_output", "attention"), ("model.generator_upsampling", "resize"),
              ("model.generator_warp_range", 4), ("loss.adversarial", 0.0)]
    gan, networks = _make_gan(warped)
    batch = _batch()
    shift = networks["generator"]({"audio": batch["audio"], "identity": batch["identity"]})["shift"]
    plain = gan.generator_losses(batch, training=False)
    assert float(plain["warp"]) == pytest.approx(float(np.mean(np.abs(shift))), rel=1e-5)
    assert float(plain["warp"]) > 0
    penalised, _ = _make_gan([*warped, ("loss.warp", 2.0)])
    values = penalised.generator_losses(batch, training=False)
    assert float(values["g_loss"] - plain["g_loss"]) == pytest.approx(
        2.0 * float(plain["warp"]), rel=1e-4)


def test_test_step_reports_losses_without_updating(three_stream_gan):
    gan, networks = three_stream_gan
    before = _snapshot(networks)
    logs = gan.evaluate(x=_batch(), batch_size=2, verbose=0, return_dict=True)
    _finite_logs(logs)
    for name in NETWORKS:
        assert not _changed(before, networks, name, trainable_only=False), name


def test_missing_mismatch_audio_is_another_clips_audio():
    gan, _ = _make_gan()
    batch = _batch(batch_size=4, mismatch=False)
    for _ in range(5):
        mismatch = np.asarray(gan._mismatch_audio(batch))
        rows = [
            next(j for j in range(4) if np.array_equal(mismatch[i], batch["audio"][j]))
            for i in range(4)
        ]
        assert sorted(rows) == [0, 1, 2, 3]
        assert all(row != i for i, row in enumerate(rows))
    _finite_logs(gan.train_on_batch(batch, return_dict=True))


def test_gradient_plan_shares_passes_where_gradients_agree(three_stream_gan, two_stream_gan):
    three, _ = three_stream_gan
    assert three.gradient_plan() == [
        ("g_loss", ["generator", "correlation"]),
        ("correlation_objective", ["flow"]),
    ]
    two, _ = two_stream_gan
    assert two.gradient_plan() == [("g_loss", ["generator", "correlation", "flow"])]
    off, _ = _make_gan([("loss.correlation", 0.0)])
    assert off.gradient_plan() == [("g_loss", ["generator"])]


@pytest.mark.slow  # two GANs and a step
def test_weights_and_optimizer_state_round_trip(tmp_path):
    gan, networks = _make_gan()
    gan.train_on_batch(_batch())
    path = tmp_path / "gan.weights.h5"
    gan.save_weights(str(path))
    restored, restored_networks = _make_gan(seed=11)
    restored.load_weights(str(path))
    for name in NETWORKS:
        for a, b in zip(networks[name].weights, restored_networks[name].weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(gan.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))
    assert int(restored.optimizer.iterations.numpy()) == 1


def test_optimizer_group_split_and_merge():
    group = OptimizerGroup({"a": keras.optimizers.Adam(), "b": keras.optimizers.SGD()})
    a_vars = [keras.Variable(np.zeros(3, np.float32)), keras.Variable(np.zeros(2, np.float32))]
    b_vars = [keras.Variable(np.zeros(4, np.float32))]
    group.build_members({"a": a_vars, "b": b_vars})
    values = list(range(len(group.variables)))
    parts = group.split(values)
    assert len(parts["a"]) == len(group.member("a").variables)
    assert len(parts["b"]) == len(group.member("b").variables)
    assert group.merge(group.own_values(values), parts) == values
    with pytest.raises(KeyError):
        group.member("c")
    with pytest.raises(NotImplementedError):
        group.apply([None], a_vars[:1])


def test_get_config_round_trip(two_stream_gan):
    gan, _ = two_stream_gan
    clone = LipMotionGAN.from_config(gan.get_config())
    assert clone.discriminator_streams == "two"
    assert clone.generator.get_config() == gan.generator.get_config()
    assert clone.discriminator.streams == "two"


@pytest.fixture
def mixed_float16():
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy(previous)


def test_mixed_float16_wraps_each_optimizer(mixed_float16):
    gan, _ = _make_gan()
    for member in ("generator", "discriminator", "correlation", "flow"):
        assert isinstance(gan.optimizer.member(member), keras.optimizers.LossScaleOptimizer)
    assert len(gan.gradient_plan()) == 3  # one backward pass per loss scale


@pytest.mark.slow
def test_mixed_float16_step_trains(mixed_float16):
    # A small initial scale so the first float16 step does not overflow and get skipped.
    g_optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(2e-4, beta_1=0.5), initial_scale=1.0
    )
    optimizers = (
        g_optimizer,
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        keras.optimizers.AdamW(1e-4, weight_decay=5e-4),
        keras.optimizers.AdamW(1e-4, weight_decay=4e-4),
    )
    gan, networks = _make_gan(optimizers=optimizers)
    assert gan.optimizer.member("generator") is g_optimizer
    before = _snapshot(networks)
    _finite_logs(gan.train_on_batch(_batch(), return_dict=True))
    assert _changed(before, networks, "generator")
    assert networks["generator"].compute_dtype == "float16"


@pytest.mark.slow
def test_xla_compiled_step_trains():
    gan, networks = _make_gan(run_eagerly=False, jit_compile=True)
    assert gan.jit_compile
    before = _snapshot(networks)
    _finite_logs(gan.train_on_batch(_batch(mismatch=False), return_dict=True))
    for name in ("generator", "discriminator", "flownet"):
        assert _changed(before, networks, name), name
