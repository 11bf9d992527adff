"""The networks: shapes, sizes, serialisation, gradients and TensorFlow/JAX agreement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from lipmotion_tf.config import ExperimentConfig  # noqa: E402
from lipmotion_tf.errors import ConfigError  # noqa: E402
from lipmotion_tf.models import (  # noqa: E402
    AudioDerivativeEncoder,
    FlowEncoder,
    FlowNet,
    LipDiscriminator,
    LipGenerator,
    VideoAutoencoder,
    build_networks,
)
from lipmotion_tf.models.layers import (  # noqa: E402
    ConvBlock,
    ConvTransposeBlock,
    ReflectionPadding2D,
)
from lipmotion_tf.testing import tiny_experiment_config  # noqa: E402

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="these tests run on the TensorFlow backend"
)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _generator_inputs(batch=2, frames=16, seed=0):
    return {"audio": _rand(batch, 4 * frames, 128, seed=seed) * 40 - 40,
            "identity": _rand(batch, 64, 64, 3, seed=seed + 1)}


def _discriminator_inputs(batch=2, seed=0):
    return {"video": _rand(batch, 16, 64, 64, 3, seed=seed),
            "audio": _rand(batch, 64, 128, seed=seed + 1),
            "flow": _rand(batch, 15, 16, 16, 2, seed=seed + 2) * 0.1}


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _randomise_batch_norm(model, seed=0):
    """Gives every moving mean/variance non-trivial values so inference-mode checks see them."""
    rng = np.random.default_rng(seed)
    for weight in model.non_trainable_weights:
        if "moving_mean" in weight.path:
            weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))
        elif "moving_variance" in weight.path:
            weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32"))


# Tiny networks and the inputs they take: name -> (constructor, inputs, how to read one output).
TINY = {
    "generator": (lambda: LipGenerator(8, 1), _generator_inputs, lambda out: out["video"]),
    "discriminator": (lambda: LipDiscriminator(8), _discriminator_inputs, lambda out: out),
    "flownet": (lambda: FlowNet(8), lambda: _rand(3, 64, 64, 6), lambda out: out[0]),
    "audio_encoder": (lambda: AudioDerivativeEncoder(16), lambda: _rand(2, 16, 16, 32),
                      lambda out: out),
    "flow_encoder": (lambda: FlowEncoder(), lambda: _rand(2, 15, 16, 16, 2), lambda out: out),
    "autoencoder": (lambda: VideoAutoencoder(8, 1), lambda: _rand(2, 4, 64, 64, 3),
                    lambda out: out["reconstruction"]),
}


# ----------------------------------------------------------------------------- layers


def test_strided_conv_pads_both_sides_like_pytorch():
    # PyTorch k3 s2 p1: output (0, 0) sees input rows/cols -1..1, i.e. x[0:2, 0:2].
    block = ConvBlock(1, 3, strides=2, norm=False, activation=None)
    x = _rand(1, 4, 4, 1)
    block(x)
    block.conv.kernel.assign(np.ones((3, 3, 1, 1), "float32"))
    y = np.asarray(block(x))
    assert y.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(y[0, 0, 0, 0], x[0, 0:2, 0:2, 0].sum(), rtol=1e-5)
    np.testing.assert_allclose(y[0, 1, 1, 0], x[0, 1:4, 1:4, 0].sum(), rtol=1e-5)


def test_transposed_conv_places_outputs_like_pytorch():
    # PyTorch ConvTranspose k3 s2 p1 op1: input i reaches outputs 2i-1 .. 2i+1 (cropped to 0..2n-1).
    block = ConvTransposeBlock(1, 3, strides=2, padding=1, output_padding=1, norm=False,
                               activation=None)
    x = np.zeros((1, 2, 2, 1), "float32")
    block(x)
    block.conv.kernel.assign(np.ones((3, 3, 1, 1), "float32"))
    x[0, 1, 1, 0] = 1.0
    y = np.asarray(block(x))[0, :, :, 0]
    assert y.shape == (4, 4)
    expected = np.zeros((4, 4), "float32")
    expected[1:4, 1:4] = 1.0
    np.testing.assert_array_equal(y, expected)


def test_reflection_padding_matches_numpy():
    x = _rand(2, 5, 6, 3)
    y = ReflectionPadding2D(((1, 2), (3, 1)))(x)
    np.testing.assert_array_equal(
        np.asarray(y), np.pad(x, ((0, 0), (1, 2), (3, 1), (0, 0)), mode="reflect")
    )


# ----------------------------------------------------------------------------- generator


@pytest.mark.parametrize("res_kernel_3d", [False, True])
def test_generator_shapes(res_kernel_3d):
    generator = LipGenerator(8, 1, res_kernel_3d=res_kernel_3d)
    out = generator(_generator_inputs())
    assert tuple(out["video"].shape) == (2, 16, 64, 64, 3)
    assert tuple(out["audio_features"].shape) == (2, 16, 16, 32)
    video = np.asarray(out["video"])
    assert np.all(np.abs(video) <= 1.0) and np.all(np.isfinite(video))


def test_generator_length_follows_the_audio():
    generator = LipGenerator(8, 1)
    for frames in (2, 5):
        out = generator(_generator_inputs(batch=1, frames=frames))
        assert tuple(out["video"].shape) == (1, frames, 64, 64, 3)
        assert tuple(out["audio_features"].shape) == (1, frames, 16, 32)


def test_generator_frames_differ_with_the_audio():
    generator = LipGenerator(8, 1)
    inputs = _generator_inputs(batch=1)
    other = dict(inputs, audio=_generator_inputs(batch=1, seed=7)["audio"])
    a = np.asarray(generator(inputs)["video"])
    b = np.asarray(generator(other)["video"])
    assert np.abs(a - b).max() > 1e-4


def test_generator_frame_conv_2d_gives_identical_output(tmp_path):
    inputs = _generator_inputs()
    conv3d = LipGenerator(8, 2, name="g")
    conv3d(inputs)
    _randomise_batch_norm(conv3d)
    conv2d = LipGenerator(8, 2, frame_conv_2d=True, name="g")
    conv2d(inputs)
    path = str(tmp_path / "g.weights.h5")
    conv3d.save_weights(path)
    conv2d.load_weights(path)
    for training in (False, True):
        np.testing.assert_allclose(
            np.asarray(conv2d(inputs, training=training)["video"]),
            np.asarray(conv3d(inputs, training=training)["video"]),
            atol=1e-5,
        )
    # The residual convolutions really run in 2-D.
    graph = tf.function(lambda x: conv2d(x)).get_concrete_function(
        {k: tf.TensorSpec(v.shape) for k, v in inputs.items()}
    ).graph
    op_types = [op.type for op in graph.get_operations()]
    assert op_types.count("Conv2D") >= 4


@pytest.mark.parametrize("frames, size", [(2, 2), (5, 6)])
def test_fused_map_conv3d_equals_conv3d_of_the_built_map(frames, size):
    from lipmotion_tf.models.layers.fused_map_conv import fused_map_conv3d

    rng = np.random.default_rng(frames)
    identity = tf.constant(rng.standard_normal((2, size, size, 3)), tf.float32)
    audio = tf.constant(rng.standard_normal((2, frames, size, 4)), tf.float32)
    kernel = tf.Variable(rng.standard_normal((3, 3, 3, 7, 5)), dtype=tf.float32)

    def built_map():
        fused = tf.concat([tf.repeat(identity[:, None], frames, axis=1),
                           tf.repeat(audio[:, :, :, None], size, axis=3)], axis=-1)
        return tf.nn.conv3d(fused, kernel, [1] * 5, "SAME")

    with tf.GradientTape(persistent=True) as tape:
        tape.watch([identity, audio])
        expected, got = built_map(), fused_map_conv3d(identity, audio, kernel)
        loss_expected = tf.reduce_sum(expected * expected)
        loss_got = tf.reduce_sum(got * got)
    scale = float(tf.reduce_max(tf.abs(expected)))
    assert float(tf.reduce_max(tf.abs(got - expected))) <= 1e-5 * scale
    # Training runs through it too, so the gradients must agree as well.
    for source in (identity, audio, kernel):
        want = tape.gradient(loss_expected, source)
        have = tape.gradient(loss_got, source)
        assert float(tf.reduce_max(tf.abs(have - want))) <= 1e-5 * float(
            tf.reduce_max(tf.abs(want)))


def test_generator_fast_paths_give_identical_output():
    # Unit-range audio keeps the random network's activations near the scale a trained one
    # has: the paths sum in different orders, so their rounding grows with the activations.
    # (test_demo_model checks the same on the trained model and real speech.)
    inputs = dict(_generator_inputs(), audio=_rand(2, 64, 128, seed=3))
    built_map = LipGenerator(8, 2, factored_fusion=False, time_shift_output=False, name="g")
    built_map(inputs)
    _randomise_batch_norm(built_map)
    factored = LipGenerator(8, 2, name="g")
    factored(inputs)
    factored.set_weights(built_map.get_weights())
    restored = LipGenerator.from_config(factored.get_config())
    assert restored.factored_fusion and restored.time_shift_output
    for training in (False, True):
        np.testing.assert_allclose(
            np.asarray(factored(inputs, training=training)["video"]),
            np.asarray(built_map(inputs, training=training)["video"]),
            atol=1e-5,
        )
    # The 3-D convolutions of the fused map and of the output are gone.
    def conv3d_ops(model):
        graph = tf.function(lambda x: model(x)).get_concrete_function(
            {k: tf.TensorSpec(v.shape) for k, v in inputs.items()}
        ).graph
        return [op.type for op in graph.get_operations()].count("Conv3D")

    assert conv3d_ops(factored) == conv3d_ops(built_map) - 2


def test_attention_output_keeps_the_identity_where_the_mask_is_zero():
    generator = LipGenerator(8, 1, output_mode="attention", upsampling="resize")
    inputs = _generator_inputs()
    out = generator(inputs)
    assert tuple(out["attention"].shape) == (2, 16, 64, 64, 1)
    video = np.asarray(out["video"])
    assert np.all(np.abs(video) <= 1.0) and np.all(np.isfinite(video))
    # A mask forced to 0 (a very negative bias on its channel) returns the identity image.
    bias = generator.decoder_output.conv.bias
    bias.assign(np.array([0.0, 0.0, 0.0, -1e4], np.float32))
    still = np.asarray(generator(inputs)["video"])
    np.testing.assert_allclose(still, np.repeat(inputs["identity"][:, None], 16, axis=1),
                               atol=1e-6)


def test_mouth_region_keeps_the_identity_above_the_lips_and_changes_no_weight():
    full = LipGenerator(8, 1, output_mode="attention", upsampling="resize")
    inputs = _generator_inputs()
    full(inputs)
    mouth = full.rebuilt(attention_region="mouth")
    assert LipGenerator.from_config(mouth.get_config()).attention_region == "mouth"
    out, reference = mouth(inputs), full(inputs)
    identity = np.repeat(inputs["identity"][:, None], 16, axis=1)
    top = int(LipGenerator.MOUTH_REGION_TOP[0] * 64)
    np.testing.assert_allclose(np.asarray(out["video"])[:, :, :top], identity[:, :, :top],
                               atol=1e-6)
    below = int(LipGenerator.MOUTH_REGION_TOP[1] * 64) + 1
    np.testing.assert_allclose(np.asarray(out["video"])[:, :, below:],
                               np.asarray(reference["video"])[:, :, below:], atol=1e-6)
    with pytest.raises(ValueError, match="attention_region"):
        LipGenerator(8, 1, attention_region="chin")


def test_vertical_warp_moves_rows_and_interpolates_between_them():
    import tensorflow as tf

    from lipmotion_tf.models.layers import vertical_warp

    image = _rand(2, 1, 64, 64, 3)
    up = np.asarray(vertical_warp(image, np.full((2, 3, 64, 64, 1), 2.0, np.float32), 4))
    np.testing.assert_allclose(up[:, :, :62], np.repeat(image[:, :, 2:], 3, axis=1), atol=1e-6)
    np.testing.assert_allclose(up[:, :, 62:], np.repeat(image[:, :, 63:], 3, axis=1)[:, :, [0, 0]],
                               atol=1e-6)  # the edge row repeated below the image
    down = np.asarray(vertical_warp(image, np.full((2, 1, 64, 64, 1), -0.25, np.float32), 4))
    np.testing.assert_allclose(down[:, 0, 1:], 0.75 * image[:, 0, 1:] + 0.25 * image[:, 0, :-1],
                               atol=1e-6)
    # The gradient with respect to the shift is the image's vertical difference.
    shift = tf.Variable(np.full((2, 1, 64, 64, 1), 0.5, np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(vertical_warp(image, shift, 4))
    expected = (image[:, 0, 1:] - image[:, 0, :-1]).sum(-1)
    np.testing.assert_allclose(tape.gradient(total, shift).numpy()[:, 0, :-1, :, 0], expected,
                               atol=1e-5)
    with pytest.raises(ValueError, match="max_shift"):
        vertical_warp(image, image[..., :1], 0)


def test_warp_head_moves_the_identity_within_its_range():
    generator = LipGenerator(8, 1, output_mode="attention", upsampling="resize", warp_range=3)
    inputs = _generator_inputs()
    generator(inputs)
    assert LipGenerator.from_config(generator.get_config()).warp_range == 3
    assert "decoder_motion" in [b.name for b in generator.conv_blocks()]
    # Mask held at 0 and the shift head saturated upwards: the identity moved up 3 pixels.
    generator.decoder_output.conv.bias.assign(np.array([0, 0, 0, -1e4], np.float32))
    generator.decoder_motion.conv.bias.assign(np.array([50.0], np.float32))
    video = np.asarray(generator(inputs)["video"])
    np.testing.assert_allclose(video[:, :, :61],
                               np.repeat(inputs["identity"][:, None, 3:], 16, axis=1), atol=1e-5)
    # With the mouth region the rows above the upper lip stay where they are.
    mouth = np.asarray(generator.rebuilt(attention_region="mouth")(inputs)["video"])
    top = int(LipGenerator.MOUTH_REGION_TOP[0] * 64)
    np.testing.assert_allclose(mouth[:, :, :top],
                               np.repeat(inputs["identity"][:, None, :top], 16, axis=1), atol=1e-6)
    below = int(LipGenerator.MOUTH_REGION_TOP[1] * 64) + 1
    np.testing.assert_allclose(mouth[:, :, below:61], video[:, :, below:61], atol=1e-6)
    with pytest.raises(ValueError, match="warp_range"):
        LipGenerator(8, 1, warp_range=3)  # direct output has no identity image to move
    config = ExperimentConfig()
    config.model.generator_warp_range = 2
    with pytest.raises(ConfigError, match="generator_warp_range"):
        config.model.validate()


def test_dead_zone_returns_the_identity_exactly_where_the_heads_barely_move():
    generator = LipGenerator(8, 1, output_mode="attention", upsampling="resize", warp_range=4)
    inputs = _generator_inputs()
    generator(inputs)
    # Both heads a little above 0 everywhere: a mask of 0.02 and shifts of 0.08 pixels.
    for conv in (generator.decoder_output.conv, generator.decoder_motion.conv):
        conv.kernel.assign(np.zeros(conv.kernel.shape, np.float32))
    generator.decoder_output.conv.bias.assign(np.array([1, 1, 1, np.log(0.02 / 0.98)], np.float32))
    generator.decoder_motion.conv.bias.assign(np.array([np.arctanh(0.02)], np.float32))
    still = np.repeat(inputs["identity"][:, None], 16, axis=1)
    assert np.abs(np.asarray(generator(inputs)["video"]) - still).max() > 1e-3
    gated = generator.rebuilt(dead_zone=0.05)
    assert LipGenerator.from_config(gated.get_config()).dead_zone == 0.05
    outputs = gated(inputs)
    np.testing.assert_array_equal(np.asarray(outputs["video"]), still)
    assert not np.asarray(outputs["attention"]).any()
    # Beyond the zone the values shrink towards it, continuously: 0.05 -> 0, 1 -> 1.
    values = np.array([-1.0, -0.3, -0.05, 0.0, 0.04, 0.05, 0.3, 1.0], np.float32)
    np.testing.assert_allclose(np.asarray(gated._dead_zone(values)),
                               [-1.0, -0.25 / 0.95, 0, 0, 0, 0, 0.25 / 0.95, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="dead_zone"):
        LipGenerator(8, 1, dead_zone=0.05)  # direct output has no identity image to return
    config = ExperimentConfig()
    config.model.generator_output = "attention"
    config.model.generator_dead_zone = 0.5
    with pytest.raises(ConfigError, match="generator_dead_zone"):
        config.model.validate()


def test_resize_upsampling_has_no_checkerboard():
    # A constant feature map must stay constant away from the borders: a stride-2 transposed
    # 3x3 convolution makes even and odd pixels differ (the checkerboard), a nearest copy
    # followed by a convolution cannot.
    from lipmotion_tf.models.layers import ConvTransposeBlock, UpsampleConvBlock

    x = np.ones((1, 2, 8, 8, 4), np.float32)
    resize = np.asarray(UpsampleConvBlock(4, 3)(x, training=False))[0, 0, 2:-2, 2:-2]
    assert np.ptp(resize, axis=(0, 1)).max() < 1e-5
    transposed = ConvTransposeBlock(4, 3, strides=(1, 2, 2), rank=3, padding=1,
                                    output_padding=(0, 1, 1))
    grid = np.asarray(transposed(x, training=False))[0, 1, 2:-2, 2:-2]
    assert np.ptp(grid, axis=(0, 1)).max() > 1e-2


@pytest.mark.parametrize("output_mode, upsampling", [
    ("attention", "resize"),  # the shipped decoder
    # the other decoders, about 3 s each on 2 cores: slow (test_tflite exports the transposed one)
    pytest.param("direct", "resize", marks=pytest.mark.slow),
    pytest.param("attention", "transpose", marks=pytest.mark.slow),
])
def test_decoder_switches_keep_the_fast_paths_exact(output_mode, upsampling):
    keras.utils.set_random_seed(0)
    inputs = dict(_generator_inputs(), audio=_rand(2, 64, 128, seed=3))
    model = LipGenerator(8, 2, output_mode=output_mode, upsampling=upsampling)
    model(inputs)
    _randomise_batch_norm(model)
    plain = model.rebuilt(factored_fusion=False, time_shift_output=False, frame_conv_2d=True)
    restored = LipGenerator.from_config(model.get_config())
    assert (restored.output_mode, restored.upsampling) == (output_mode, upsampling)
    # A random network's activations are large, so the two summation orders round ~1e-5
    # apart; a layout mistake differs by orders of magnitude more.
    np.testing.assert_allclose(np.asarray(plain(inputs)["video"]),
                               np.asarray(model(inputs)["video"]), atol=5e-5)


def test_generator_refuses_unknown_decoder_switches():
    with pytest.raises(ValueError, match="output_mode"):
        LipGenerator(8, 1, output_mode="residual-ish")
    with pytest.raises(ValueError, match="upsampling"):
        LipGenerator(8, 1, upsampling="bicubic")


def test_generator_rejects_frame_conv_2d_with_3d_kernels():
    with pytest.raises(ValueError, match="frame_conv_2d"):
        LipGenerator(8, 1, res_kernel_3d=True, frame_conv_2d=True)


def test_generator_runs_with_unknown_batch_and_length():
    generator = LipGenerator(8, 1, frame_conv_2d=True)
    fn = tf.function(
        lambda audio, identity: generator({"audio": audio, "identity": identity}),
        input_signature=[tf.TensorSpec((None, None, 128)), tf.TensorSpec((None, 64, 64, 3))],
    )
    # An unknown length takes the built-map path, a known one the factored path: unit-range
    # audio keeps their rounding differences small (see test_generator_fast_paths_...).
    inputs = dict(_generator_inputs(batch=3, frames=3), audio=_rand(3, 12, 128, seed=3))
    out = fn(inputs["audio"], inputs["identity"])
    assert tuple(out["video"].shape) == (3, 3, 64, 64, 3)
    np.testing.assert_allclose(out["video"], generator(inputs)["video"], atol=1e-5)


@pytest.mark.slow  # the paper's full-size networks
def test_full_generator_size():
    generator = LipGenerator()
    generator(_generator_inputs(batch=1))
    # PyTorch counts exclude batch-norm running statistics, so compare trainable weights.
    assert abs(_trainable_count(generator) - 16.70e6) < 0.05 * 16.70e6
    assert abs(_trainable_count(generator.audio_encoder) - 0.98e6) < 0.01e6
    assert abs(_trainable_count(generator.identity_encoder) - 0.38e6) < 0.01e6
    assert abs(_trainable_count(generator.compress) - 3.54e6) < 0.01e6
    decoder = (_trainable_count(generator) - _trainable_count(generator.audio_encoder)
               - _trainable_count(generator.identity_encoder)
               - _trainable_count(generator.compress))
    assert abs(decoder - 11.80e6) < 0.01e6
    assert generator.count_params() >= _trainable_count(generator)


# ----------------------------------------------------------------------------- discriminator


@pytest.mark.parametrize("streams", ["three", "two", "frame_diff"])
def test_discriminator_returns_one_logit_per_clip(streams):
    discriminator = LipDiscriminator(8, streams)
    inputs = _discriminator_inputs()
    if streams != "three":
        del inputs["flow"]  # only the three-stream network reads flows
    logits = np.asarray(discriminator(inputs))
    assert logits.shape == (2, 1)
    assert np.all(np.isfinite(logits))


def test_discriminator_depends_on_every_stream():
    discriminator = LipDiscriminator(8, "three")
    inputs = _discriminator_inputs(batch=1)
    base = np.asarray(discriminator(inputs))
    for key in ("video", "audio", "flow"):
        changed = dict(inputs, **{key: _discriminator_inputs(batch=1, seed=11)[key]})
        assert np.abs(np.asarray(discriminator(changed)) - base).max() > 1e-6, key


def test_three_stream_discriminator_needs_flow():
    discriminator = LipDiscriminator(8, "three")
    inputs = _discriminator_inputs()
    discriminator(inputs)
    del inputs["flow"]
    with pytest.raises(ValueError, match="flow"):
        discriminator(inputs)


@pytest.mark.slow
def test_full_discriminator_sizes():
    three = LipDiscriminator()
    three(_discriminator_inputs(batch=1))
    assert abs(_trainable_count(three) - 54.28e6) < 0.01e6
    two = LipDiscriminator(streams="two")
    two(_discriminator_inputs(batch=1))
    # The authors' two-stream D has 55.59 M (its Dense has a bias and no batch norm).
    assert abs(_trainable_count(two) - 55.59e6) < 0.05e6


# ----------------------------------------------------------------------------- flow


def test_flownet_returns_flows_finest_first():
    flows = FlowNet(8)(_rand(3, 64, 64, 6))
    assert [tuple(f.shape) for f in flows] == [
        (3, 16, 16, 2), (3, 8, 8, 2), (3, 4, 4, 2), (3, 2, 2, 2), (3, 1, 1, 2)
    ]


def test_clip_flows_runs_on_consecutive_pairs():
    flownet = FlowNet(8)
    video = _rand(2, 5, 64, 64, 3)
    flows = np.asarray(flownet.clip_flows(video))
    assert flows.shape == (2, 4, 16, 16, 2)
    pair = np.concatenate([video[1, 2], video[1, 3]], axis=-1)[None]
    np.testing.assert_allclose(flows[1, 2], np.asarray(flownet(pair)[0])[0], atol=1e-5)


def test_gradient_flows_from_flow_back_to_the_video():
    flownet = FlowNet(8)
    video = tf.Variable(_rand(1, 3, 64, 64, 3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(flownet.clip_flows(video)))
    grad = tape.gradient(loss, video)
    assert grad is not None
    assert float(tf.reduce_max(tf.abs(grad))) > 0.0


@pytest.mark.slow  # the paper's full-size FlowNet, as the generator and discriminators above
def test_full_flownet_size():
    flownet = FlowNet()
    flownet(_rand(1, 64, 64, 6))
    assert abs(flownet.count_params() - 38.68e6) < 0.01e6


# ----------------------------------------------------------------------------- correlation


def test_audio_derivative_encoder_shapes_and_derivative():
    encoder = AudioDerivativeEncoder(16)
    features = _rand(2, 16, 16, 32)
    out = np.asarray(encoder(features))
    assert out.shape == (2, 15)
    # A time-constant offset has no derivative: the output must not change.
    shifted = features + _rand(2, 1, 16, 32, seed=3)
    np.testing.assert_allclose(np.asarray(encoder(shifted)), out, atol=1e-5)
    plain = AudioDerivativeEncoder(16, derivative=False)
    assert tuple(plain(features).shape) == (2, 16)
    assert np.abs(np.asarray(plain(shifted)) - np.asarray(plain(features))).max() > 1e-6


def test_flow_encoder_shapes():
    assert tuple(FlowEncoder()(_rand(2, 15, 16, 16, 2)).shape) == (2, 15)
    assert tuple(FlowEncoder(derivative=False)(_rand(2, 16, 64, 64, 3)).shape) == (2, 16)


def test_full_correlation_encoder_sizes():
    audio = AudioDerivativeEncoder()
    audio(_rand(1, 16, 16, 256))
    assert abs(_trainable_count(audio) - 0.39e6) < 0.01e6
    flow = FlowEncoder()
    flow(_rand(1, 15, 16, 16, 2))
    assert abs(flow.count_params() - 11.6e3) < 0.1e3


# ----------------------------------------------------------------------------- autoencoder


def test_autoencoder_shapes_and_encode():
    autoencoder = VideoAutoencoder(8, 1)
    video = _rand(2, 4, 64, 64, 3)
    out = autoencoder(video)
    assert tuple(out["reconstruction"].shape) == (2, 4, 64, 64, 3)
    assert tuple(out["features"].shape) == (2, 4, 16, 16, 32)
    np.testing.assert_allclose(np.asarray(autoencoder.encode(video)), out["features"], atol=1e-5)
    # Frames are encoded independently.
    single = np.asarray(autoencoder.encode(video[:, 2:3]))
    np.testing.assert_allclose(single[:, 0], np.asarray(out["features"])[:, 2], atol=1e-5)


def test_full_autoencoder_size():
    autoencoder = VideoAutoencoder()
    autoencoder(_rand(1, 1, 64, 64, 3))
    assert abs(_trainable_count(autoencoder) - 7.84e6) < 0.01e6


# ----------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("name", sorted(TINY))
def test_config_round_trip(name):
    make, _, _ = TINY[name]
    model = make()
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config


@pytest.mark.parametrize("name", sorted(TINY))
def test_keras_file_round_trip(name, tmp_path):
    make, make_inputs, pick = TINY[name]
    model = make()
    inputs = make_inputs()
    model(inputs)
    _randomise_batch_norm(model)
    expected = np.asarray(pick(model(inputs)))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    np.testing.assert_array_equal(np.asarray(pick(restored(inputs))), expected)


# ----------------------------------------------------------------------------- factory


def test_tiny_experiment_config():
    config = tiny_experiment_config()
    assert isinstance(config, ExperimentConfig)
    assert config.model.generator_channels == 8 and config.model.generator_res_blocks == 1
    assert config.model.flownet_channels == 8 and config.model.correlation_channels == 16
    assert config.model.autoencoder_channels == 8 and config.model.autoencoder_res_blocks == 1
    assert config.data.batch_size == 2


def test_build_networks_from_config():
    config = tiny_experiment_config()
    networks = build_networks(config)
    assert set(networks) == {"generator", "discriminator", "flownet", "audio_encoder",
                             "flow_encoder", "autoencoder"}
    assert all(model.built and model.weights for model in networks.values())
    assert networks["generator"].channels == 8 and networks["generator"].res_blocks == 1
    assert networks["discriminator"].streams == "three"
    assert networks["audio_encoder"].derivative and networks["flow_encoder"].derivative
    # The pieces fit together: generator features -> audio encoder, flownet -> flow encoder.
    out = networks["generator"](_generator_inputs())
    flows = networks["flownet"].clip_flows(out["video"])
    audio_code = networks["audio_encoder"](out["audio_features"])
    flow_code = networks["flow_encoder"](flows)
    assert tuple(audio_code.shape) == tuple(flow_code.shape) == (2, 15)
    logits = networks["discriminator"](
        {"video": out["video"], "audio": _generator_inputs()["audio"], "flow": flows}
    )
    assert tuple(logits.shape) == (2, 1)


def test_build_networks_ablations():
    config = tiny_experiment_config()
    config.loss.derivative_correlation = False
    config.model.discriminator_streams = "frame_diff"
    config.model.generator_res_kernel_3d = True
    networks = build_networks(config)
    assert not networks["audio_encoder"].derivative
    assert not networks["flow_encoder"].derivative
    assert networks["discriminator"].streams == "frame_diff"
    assert networks["generator"].res_kernel_3d
    video = _rand(2, 16, 64, 64, 3)
    assert tuple(networks["flow_encoder"](video).shape) == (2, 16)


def test_build_networks_rejects_other_windows():
    config = tiny_experiment_config()
    config.data.window = 8
    with pytest.raises(ConfigError, match="data.window"):
        build_networks(config)


# ----------------------------------------------------------------------------- JAX backend

_JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    import numpy as np
    import keras
    from lipmotion_tf.models import LipDiscriminator, LipGenerator

    def run(model, inputs, weights):
        # Build symbolically (no eager op-by-op compiles), load the TF weights, run jitted.
        model({k: keras.KerasTensor(v.shape) for k, v in inputs.items()})
        model.load_weights(weights)
        variables = ([v.value for v in model.trainable_variables],
                     [v.value for v in model.non_trainable_variables])
        return [jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=mode)[0])(
                    *variables, inputs) for mode in (False, True)]

    def error(ours, reference):
        # Largest difference relative to the reference's scale (at least 1).
        return float(np.abs(np.asarray(ours) - reference).max() / max(1.0, np.abs(reference).max()))

    folder = sys.argv[1]
    data = np.load(folder + "/io.npz")
    g_in = {"audio": data["g_audio"], "identity": data["g_identity"]}
    d_in = {"video": data["d_video"], "audio": data["d_audio"], "flow": data["d_flow"]}
    g_out = run(LipGenerator(8, 1, name="g"), g_in, folder + "/g.weights.h5")
    d_out = run(LipDiscriminator(8, "three", name="d"), d_in, folder + "/d.weights.h5")
    report = {"backend": keras.backend.backend()}
    for i, mode in enumerate(("inference", "training")):
        report[mode] = {
            "video": error(g_out[i]["video"], data[f"g_video_{mode}"]),
            "features": error(g_out[i]["audio_features"], data[f"g_features_{mode}"]),
            "logits": error(d_out[i], data[f"d_logits_{mode}"]),
        }
    print(json.dumps(report))
    """
)


@pytest.mark.slow  # a fresh process importing JAX
def test_jax_backend_matches_tensorflow(tmp_path):
    pytest.importorskip("jax")
    g_in = _generator_inputs()
    d_in = _discriminator_inputs()
    generator = LipGenerator(8, 1, name="g")
    generator(g_in)
    _randomise_batch_norm(generator)
    discriminator = LipDiscriminator(8, "three", name="d")
    discriminator(d_in)
    _randomise_batch_norm(discriminator, seed=1)
    generator.save_weights(str(tmp_path / "g.weights.h5"))
    discriminator.save_weights(str(tmp_path / "d.weights.h5"))
    arrays = {"g_audio": g_in["audio"], "g_identity": g_in["identity"], "d_video": d_in["video"],
              "d_audio": d_in["audio"], "d_flow": d_in["flow"]}
    for mode in ("inference", "training"):
        training = mode == "training"
        g_out = generator(g_in, training=training)
        arrays[f"g_video_{mode}"] = np.asarray(g_out["video"])
        arrays[f"g_features_{mode}"] = np.asarray(g_out["audio_features"])
        arrays[f"d_logits_{mode}"] = np.asarray(discriminator(d_in, training=training))
    np.savez(tmp_path / "io.npz", **arrays)
    # XLA's CPU optimisation passes dominate the run time of these small programs (each
    # initializer compiles on its own); level 0 computes the same results.
    xla_flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags)
    result = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax", report
    # Float32 round-off only (observed up to ~3e-5 with batch statistics and ~2e-4 with the
    # random moving statistics, which let activations reach ~1e3 before the tanh); a layout,
    # padding or weight-order mismatch gives errors ~0.1 and more.
    assert max(report["training"].values()) < 2e-4, report
    assert max(report["inference"].values()) < 2e-3, report


def test_nearest_upsampling_copies_each_pixel_to_a_2x2_block():
    from lipmotion_tf.models.layers.upsample_conv_block import upsample_nearest_2x

    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5, 6)).astype("float32")
    expected = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(upsample_nearest_2x(x)), expected)
