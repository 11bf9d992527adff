"""SavedModel export for TF Serving: signatures, equality with Keras and the pipeline, CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.generate.blending import (
    WindowBlender,
    blend_weights,
    num_output_frames,
    covering_window_starts,
)

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def model_base(exported_model_base):
    return exported_model_base


@pytest.fixture(scope="module")
def reloaded(model_base):
    import tensorflow as tf

    return tf.saved_model.load(str(model_base / "1"))


def _speech(seconds: float) -> np.ndarray:
    return (0.1 * RNG.standard_normal(int(round(seconds * 44100)))).astype(np.float32)


# -- the graph twin of the numpy blending ------------------------------------------------------

def test_graph_window_plan_equals_numpy_plan():
    import tensorflow as tf

    from lipmotion_tf.generate.blending import num_output_frames_tf, covering_window_starts_tf

    # Every length up to 40 frames, and lengths straddling the half-frame rounding points.
    lengths = list(range(0, 40 * 1764, 97)) + [882 * k + d for k in range(1, 60) for d in (-1, 0, 1)]
    for samples in lengths:
        frames = num_output_frames(samples, 1764)
        assert int(num_output_frames_tf(tf.constant(samples), 1764)) == frames, samples
        np.testing.assert_array_equal(covering_window_starts_tf(tf.constant(frames), 16, 8).numpy(),
                                      covering_window_starts(frames, 16, 8))


@pytest.mark.parametrize("samples, length", [(1000, 1200), (1000, 800), (20, 70), (1, 30),
                                             (7, 7)])
def test_graph_speech_extension_equals_numpy(samples, length):
    import tensorflow as tf

    from lipmotion_tf.generate.blending import extend_speech, extend_speech_tf

    waveform = RNG.normal(size=samples).astype(np.float32)
    expected = np.pad(waveform, (0, max(length - samples, 0)), mode="reflect")[:length]
    np.testing.assert_array_equal(extend_speech(waveform, length), expected)
    np.testing.assert_array_equal(extend_speech_tf(tf.constant(waveform), length).numpy(), expected)


@pytest.mark.parametrize("frames", [1, 8, 16, 17, 24, 75])
def test_graph_blending_equals_window_blender(frames):
    from lipmotion_tf.generate.blending import blend_windows_tf

    starts = covering_window_starts(frames, 16, 8)
    windows = RNG.uniform(-1, 1, (len(starts), 16, 2, 2, 3)).astype(np.float32)
    blender = WindowBlender(frames, 16, 8)
    expected = np.stack([f for w in windows for f in blender.add(w)])
    got = blend_windows_tf(windows, np.array(starts, np.int32), frames, 8).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert blend_weights(16, 8).shape == (16,)


@pytest.mark.parametrize("frames", [1, 2, 16, 40])
def test_graph_ease_in_equals_window_blender(frames):
    from lipmotion_tf.generate.blending import blend_windows_tf

    starts = covering_window_starts(frames, 16, 8)
    windows = RNG.uniform(-1, 1, (len(starts), 16, 2, 2, 3)).astype(np.float32)
    identity = RNG.uniform(-1, 1, (2, 2, 3)).astype(np.float32)
    blender = WindowBlender(frames, 16, 8, identity, ease_in=3)
    expected = np.stack([f for w in windows for f in blender.add(w)])
    got = blend_windows_tf(windows, np.array(starts, np.int32), frames, 8, identity, 3).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_serving_graph_eases_in_as_the_pipeline_does(generator_and_config):
    import dataclasses

    from lipmotion_tf.export.serving_functions import ServingFunctions
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    generator, config = generator_and_config
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, ease_in=5))
    waveform = _speech(0.8)
    image = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.stack(list(LipMotionPipeline(generator, config).iter_frames(waveform, 44100,
                                                                              image)))
    got = ServingFunctions(generator, config).generate(waveform, image)["frames"].numpy()
    np.testing.assert_array_equal(got[0], image)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def _random_inputs(batch=2):
    return {"audio": RNG.normal(-40, 20, (batch, 64, 128)).astype(np.float32),
            "identity": RNG.uniform(-1, 1, (batch, 64, 64, 3)).astype(np.float32)}


def test_per_frame_conv2d_residual_blocks_equal_conv3d(generator_and_config):
    generator, _ = generator_and_config
    frame_2d = generator.rebuilt(frame_conv_2d=True)
    inputs = _random_inputs()
    np.testing.assert_allclose(frame_2d(inputs)["video"], generator(inputs)["video"], atol=1e-5)


@pytest.mark.parametrize("kind, kernel", [("conv", 7), ("conv", 3), ("transpose", 3)])
def test_frame_stacked_convolutions_equal_3d_ones(kind, kernel):
    import keras

    from lipmotion_tf.models.layers import TemporalStackConv3D, TemporalStackConv3DTranspose

    if kind == "conv":
        args = dict(filters=5, kernel_size=kernel, padding="same", use_bias=True)
        layer, stacked = keras.layers.Conv3D(**args), TemporalStackConv3D(**args)
    else:
        args = dict(filters=5, kernel_size=kernel, strides=(1, 2, 2), padding="valid",
                    use_bias=True)
        layer, stacked = keras.layers.Conv3DTranspose(**args), TemporalStackConv3DTranspose(**args)
    inputs = RNG.standard_normal((2, 16, 12, 12, 6)).astype(np.float32)
    layer(inputs)
    layer.bias.assign(RNG.standard_normal(5).astype(np.float32))
    expected = layer(inputs).numpy()
    stacked.build(inputs.shape)
    stacked.set_weights(layer.get_weights())
    got = stacked(inputs).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("upsampling", [
    "resize",  # the shipped decoder
    # the paper's transposed decoder, about 2.5 s: slow (test_tflite exports it in the default suite)
    pytest.param("transpose", marks=pytest.mark.slow),
])
def test_deployment_copy_has_no_3d_convolution_or_batch_norm_left(upsampling):
    import keras

    from lipmotion_tf.models.generator import LipGenerator

    keras.utils.set_random_seed(0)  # a random network magnifies rounding: one fixed draw
    generator = LipGenerator(8, 2, output_mode="attention", upsampling=upsampling)
    inputs = _random_inputs()
    generator(inputs, training=True)  # moving statistics away from their initial values
    deployed = generator.deployment_copy()
    convs = [block.conv for block in deployed.conv_blocks()]
    assert not [c for c in convs if type(c) in (keras.layers.Conv3D, keras.layers.Conv3DTranspose)]
    kinds = {type(c).__name__ for c in convs}
    assert {"FrameConv3D", "TemporalStackConv3D", "TimeShiftConv3D"} <= kinds
    assert ("TemporalStackConv3DTranspose" in kinds) == (upsampling == "transpose")
    assert not [w for w in deployed.weights if "_bn/" in w.path]
    assert not deployed.trainable
    np.testing.assert_allclose(deployed(inputs)["video"], generator(inputs)["video"], atol=1e-4)
    with pytest.raises(ValueError, match="deployment_copy"):
        generator.rebuilt(folded_norm=True)


# -- the exported model -------------------------------------------------------------------------

def test_version_folder_layout(model_base):
    version = model_base / "1"
    assert (version / "saved_model.pb").is_file()
    assert (version / "variables").is_dir()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert not [p for p in model_base.iterdir() if p.name.startswith(".")]


def test_every_weight_is_stored_once(model_base, generator_and_config):
    import tensorflow as tf

    generator, _ = generator_and_config
    stored = tf.train.list_variables(str(model_base / "1" / "variables" / "variables"))
    values = sum(int(np.prod(shape)) for name, shape in stored if "VARIABLE_VALUE" in name)
    assert values == generator.count_params()


def test_signature_defs_are_the_documented_contract(model_base):
    from tensorflow.core.protobuf import saved_model_pb2

    stored = saved_model_pb2.SavedModel.FromString((model_base / "1" / "saved_model.pb").read_bytes())
    signatures = stored.meta_graphs[0].signature_def

    def describe(tensors):
        return {name: (info.dtype, [d.size for d in info.tensor_shape.dim])
                for name, info in tensors.items()}

    float32, uint8 = 1, 4  # tensorflow DataType enum values
    assert describe(signatures["serving_default"].inputs) == {
        "waveform": (float32, [-1]), "image": (uint8, [-1, -1, 3])}
    assert describe(signatures["serving_default"].outputs) == {"frames": (uint8, [-1, 64, 64, 3])}
    assert describe(signatures["generate_window"].inputs) == {
        "log_mel": (float32, [-1, 64, 128]), "image": (float32, [-1, 64, 64, 3])}
    assert describe(signatures["generate_window"].outputs) == {
        "frames": (float32, [-1, 16, 64, 64, 3])}
    assert describe(signatures["log_mel"].inputs) == {"waveform": (float32, [-1])}
    assert describe(signatures["log_mel"].outputs) == {"log_mel": (float32, [-1, 128])}


@pytest.mark.parametrize("batch", [1, 3])
def test_window_signature_matches_keras(reloaded, generator_and_config, batch):
    generator, _ = generator_and_config
    log_mel = RNG.normal(-40, 20, (batch, 64, 128)).astype(np.float32)
    image = RNG.uniform(-1, 1, (batch, 64, 64, 3)).astype(np.float32)
    got = reloaded.signatures["generate_window"](log_mel=log_mel, image=image)["frames"].numpy()
    expected = generator({"audio": log_mel, "identity": image})["video"].numpy()
    assert got.shape == (batch, 16, 64, 64, 3)
    assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize("seconds", [0.05, 0.64, 1.23, 3.0])
def test_any_length_signature_gives_the_pipeline_frames(reloaded, generator_and_config, seconds):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    generator, config = generator_and_config
    pipeline = LipMotionPipeline(generator, config, batch_size=3)
    waveform = _speech(seconds)
    image = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.stack(list(pipeline.iter_frames(waveform, 44100, image)))
    got = reloaded.signatures["serving_default"](waveform=waveform, image=image)["frames"].numpy()
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert got.shape[0] == num_output_frames(len(waveform), 1764)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_identity_image_is_cropped_and_resized_as_the_pipeline_does(generator_and_config):
    from lipmotion_tf.export.serving_functions import ServingFunctions
    from lipmotion_tf.video.pixels import to_unit_range
    from lipmotion_tf.video.lip_crop import crop_box

    generator, config = generator_and_config
    functions = ServingFunctions(generator, config)
    for height, width in [(64, 64), (128, 128), (96, 160), (200, 130)]:
        image = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
        box = np.array([width / 2, height / 2, min(height, width)], np.float32)
        expected = to_unit_range(crop_box(image, box, 64))
        got = functions.identity_from_uint8(image).numpy()
        tolerance = 1e-6 if (height, width) == (64, 64) else 2.5 / 127.5  # area-resize rounding
        assert np.abs(got - expected).max() <= tolerance, (height, width)


def test_log_mel_signature_is_the_training_front_end(reloaded, generator_and_config):
    from lipmotion_tf.audio.log_mel import LogMelSpectrogram

    _, config = generator_and_config
    waveform = _speech(0.5)
    got = reloaded.signatures["log_mel"](waveform=waveform)["log_mel"].numpy()
    expected = LogMelSpectrogram.from_audio_config(config.audio)(waveform).numpy()
    assert got.shape == (1 + len(waveform) // 441, 128)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_warmup_requests_name_every_signature_and_run(model_base, reloaded):
    import tensorflow as tf

    from lipmotion_tf.export.warmup import read_warmup_requests, warmup_path

    requests = read_warmup_requests(warmup_path(model_base / "1"))
    assert [r.model_spec.signature_name for r in requests] == [
        "serving_default", "generate_window", "log_mel"]
    assert all(r.model_spec.name == "lipmotion" for r in requests)
    for request in requests:
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        outputs = reloaded.signatures[request.model_spec.signature_name](**inputs)
        assert all(np.all(np.isfinite(np.asarray(v, np.float32))) for v in outputs.values())


# -- the command line ---------------------------------------------------------------------------

def test_cli_numbers_versions_and_refuses_to_overwrite(tiny_checkpoint, tmp_path, capsys):
    base = tmp_path / "lipmotion"
    args = ["export", "saved-model", "--checkpoint", str(tiny_checkpoint), "--output", str(base)]
    assert main(args + ["--version", "3"]) == 0
    assert main(args) == 0  # next version after the highest
    assert sorted(p.name for p in base.iterdir()) == ["3", "4"]
    capsys.readouterr()
    assert main(args + ["--version", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    before = (base / "3" / "saved_model.pb").stat().st_mtime_ns
    assert main(args + ["--version", "3", "--overwrite"]) == 0
    assert (base / "3" / "saved_model.pb").stat().st_mtime_ns != before
    assert sorted(p.name for p in base.iterdir()) == ["3", "4"]


@pytest.mark.parametrize("case", ["missing_checkpoint", "output_is_a_file", "bad_version",
                                  "no_config"])
def test_cli_bad_input_is_one_line(tiny_checkpoint, tmp_path, capsys, case):
    checkpoint, output = str(tiny_checkpoint), str(tmp_path / "base")
    extra = []
    if case == "missing_checkpoint":
        checkpoint = str(tmp_path / "nope")
    elif case == "output_is_a_file":
        (tmp_path / "file").write_text("x")
        output = str(tmp_path / "file" / "base")
    elif case == "bad_version":
        extra = ["--version", "0"]
    elif case == "no_config":
        checkpoint = str(tmp_path / "empty")
        Path(checkpoint).mkdir()
    code = main(["export", "saved-model", "--checkpoint", checkpoint, "--output", output] + extra)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("lipmotion export: error:") and len(err.splitlines()) == 1
    assert not (tmp_path / "base").exists() or not any((tmp_path / "base").iterdir())


def test_cli_unwritable_output_is_one_line(tiny_checkpoint, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write to read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code = main(["export", "saved-model", "--checkpoint", str(tiny_checkpoint),
                 "--output", str(locked / "base")])
    assert code == 2 and "cannot" in capsys.readouterr().err


@pytest.mark.slow
def test_saved_model_cli_shows_the_documented_signatures(model_base):
    cli = Path(sys.executable).with_name("saved_model_cli")
    out = subprocess.run([str(cli), "show", "--all", "--dir", str(model_base / "1")],
                         capture_output=True, text=True, check=True).stdout
    docs = (Path(__file__).resolve().parents[1] / "docs" / "deployment.md").read_text()
    for line in ["signature_def['serving_default']", "signature_def['generate_window']",
                 "signature_def['log_mel']",
                 "inputs['waveform'] tensor_info:", "inputs['image'] tensor_info:",
                 "outputs['frames'] tensor_info:", "dtype: DT_UINT8", "shape: (-1, 64, 64, 3)",
                 "shape: (-1, -1, 3)", "shape: (-1, 16, 64, 64, 3)", "shape: (-1, 64, 128)"]:
        assert line in out, line
        assert line in docs, line


@pytest.mark.parametrize("kind", ["conv", "transpose"])
def test_folding_batch_norm_keeps_the_block_output(kind):
    from lipmotion_tf.models.layers import ConvBlock, ConvTransposeBlock

    if kind == "conv":
        block_class, args = ConvBlock, dict(filters=6, kernel_size=3, rank=3)
    else:
        block_class, args = ConvTransposeBlock, dict(
            filters=6, kernel_size=3, strides=(1, 2, 2), rank=3, padding=1,
            output_padding=(0, 1, 1))
    block = block_class(**args)
    inputs = RNG.standard_normal((2, 4, 8, 8, 5)).astype(np.float32)
    block(inputs)
    bn = block.bn
    for weight, values in ((bn.gamma, RNG.uniform(0.5, 2, 6)), (bn.beta, RNG.normal(0, 1, 6)),
                           (bn.moving_mean, RNG.normal(0, 1, 6)),
                           (bn.moving_variance, RNG.uniform(0.2, 3, 6))):
        weight.assign(values.astype(np.float32))
    expected = np.asarray(block(inputs, training=False))
    folded = block_class(folded_norm=True, **args)
    folded(inputs)
    assert folded.bn is None and len(folded.weights) == 2
    kernel, bias = block.folded_weights()
    folded.conv.kernel.assign(kernel)
    folded.conv.bias.assign(bias)
    np.testing.assert_allclose(np.asarray(folded(inputs)), expected, atol=1e-5)
