"""TFLite export: builtin ops only, each quantization against Keras, the runner, CLI errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lipmotion_tf.cli.main import main

RNG = np.random.default_rng(11)
# Documented lower bounds on the mean grayscale PSNR of each variant's frames against Keras's
# (docs/deployment.md gives the figures of the full-size model on real windows).
PSNR_BOUNDS_DB = {"float16": 50.0, "dynamic": 35.0, "int8": 30.0}


def _write_prepared(root, config, num_clips=3, num_frames=24, seed=0):
    """A small prepared-data folder: random lips, speech-like noise (the records format)."""
    import tensorflow as tf

    from lipmotion_tf.data import records
    from lipmotion_tf.data.manifest import ClipEntry, Manifest

    rng = np.random.default_rng(seed)
    (root / "shards").mkdir(parents=True)
    shard = "shards/train-00000.tfrecord"
    entries = []
    samples = num_frames * config.audio.samples_per_frame
    with tf.io.TFRecordWriter(str(root / shard)) as writer:
        for index in range(num_clips):
            clip = records.PreparedClip(
                clip_id=f"synthetic/{index:03d}", speaker="synthetic", source=f"{index:03d}.mpg",
                frames=rng.integers(0, 256, (num_frames, 64, 64, 3), dtype=np.uint8),
                audio=(3000 * np.sin(np.arange(samples) * 0.05 * (index + 1))
                       * rng.uniform(0.2, 1.0, samples)).astype(np.int16),
                sample_rate=config.audio.sample_rate,
                boxes=np.zeros((num_frames, 3), np.float32),
                landmarks=np.zeros((num_frames, 40, 2), np.float32),
                face_found=np.ones(num_frames, bool), speech=np.ones(num_frames, np.int8),
                frame_size=(288, 360),
            )
            writer.write(records.serialize_clip(clip))
            entries.append(ClipEntry(clip.clip_id, clip.speaker, clip.source, "train", shard,
                                     num_frames, num_frames))
    Manifest(root, dataclasses.asdict(config.audio), 64, config.data.crop_scale, entries).save()
    return root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, generator_and_config):
    _, config = generator_and_config
    return _write_prepared(tmp_path_factory.mktemp("prepared") / "data", config)


@pytest.fixture(scope="module")
def windows(prepared, generator_and_config):
    from lipmotion_tf.export.tflite import calibration_windows_from_prepared

    _, config = generator_and_config
    found = calibration_windows_from_prepared(prepared, config, count=6)
    assert len(found) == 6 and found[0]["log_mel"].shape == (1, 64, 128)
    return found


class _Exports(dict):
    """``{quantization: path}``, each model written by the command line when first asked for
    (the default suite asks for the float32 model and the front end only; the quantized ones
    are read by the slow variants)."""

    def __init__(self, folder, checkpoint, prepared):
        super().__init__()
        self.folder, self.checkpoint, self.prepared = folder, checkpoint, prepared

    def __missing__(self, mode):
        if mode == "log_mel":
            path = self.folder / "log_mel.tflite"
            args = ["export", "tflite", "--checkpoint", str(self.checkpoint), "--model", "log_mel",
                    "-o", str(path)]
        else:
            assert mode in ("none", "float16", "dynamic", "int8"), mode
            path = self.folder / f"generator_{mode}.tflite"
            args = ["export", "tflite", "--checkpoint", str(self.checkpoint), "-o", str(path),
                    "--quantize", mode]
            if mode == "int8":
                args += ["--calibration-data", str(self.prepared), "--calibration-windows", "8"]
        assert main(args) == 0
        self[mode] = path
        return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_checkpoint, prepared):
    """``{quantization: path}`` written by the command line (when first read)."""
    return _Exports(tmp_path_factory.mktemp("tflite"), tiny_checkpoint, prepared)


# Each quantized export takes 3-8 s on 2 cores: their checks are slow variants.
QUANTIZED = [pytest.param(mode, marks=pytest.mark.slow) for mode in ("float16", "dynamic", "int8")]


def _keras_frames(generator, windows):
    return np.concatenate([
        generator({"audio": w["log_mel"], "identity": w["image"]})["video"].numpy() for w in windows
    ])


def _tflite_frames(path, windows):
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator

    runner = TFLiteLipGenerator(path)
    return np.concatenate([runner.generate_window(w["log_mel"], w["image"]) for w in windows])


@pytest.mark.parametrize("mode", ["none", *QUANTIZED, "log_mel"])
def test_models_use_builtin_operators_only(exported, mode):
    from lipmotion_tf.export.tflite_ops import tflite_op_names

    names = tflite_op_names(exported[mode].read_bytes())
    assert not [n for n in names if n.startswith("CUSTOM")], names
    if mode == "log_mel":
        assert {"RFFT2D", "LOG"} <= set(names)
    else:
        # Every 3-D convolution runs as a 2-D one (XNNPACK kernels, no GB-sized im2col);
        # the shipped decoder upsamples by copying pixels (no transposed convolution).
        assert "CONV_2D" in names
        assert not {"CONV_3D", "CONV_3D_TRANSPOSE", "TRANSPOSE_CONV"} & set(names)
        # Static shapes: no shape computed at run time, no broadcast copy (XNNPACK takes
        # neither, and each one split the graph into slower pieces).
        assert not {"SHAPE", "BROADCAST_TO"} & set(names), names


def test_paper_decoder_runs_its_transposed_convolutions_on_static_shapes(generator_and_config):
    """The paper's transposed upsampling exports as TRANSPOSE_CONV with a constant output
    shape (a run-time SHAPE/PACK left it outside XNNPACK: half the float32 speed)."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from lipmotion_tf.export.tflite import convert_to_tflite
    from lipmotion_tf.export.tflite_ops import tflite_op_names
    from lipmotion_tf.models.generator import LipGenerator

    _, config = generator_and_config
    keras.utils.set_random_seed(0)
    generator = LipGenerator(8, 1, upsampling="transpose")
    log_mel = RNG.normal(-30, 15, (1, 64, 128)).astype(np.float32)
    image = RNG.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    expected = generator({"audio": log_mel, "identity": image})["video"].numpy()
    content, _ = convert_to_tflite(generator, config)
    names = set(tflite_op_names(content))
    assert "TRANSPOSE_CONV" in names and not {"SHAPE", "PACK", "BROADCAST_TO"} & names, names
    runner = Interpreter(model_content=content).get_signature_runner("generate_window")
    got = runner(log_mel=log_mel, image=image)["frames"]
    # Float rounding: the transposed convolutions sum in another order on some CPUs (1.05e-4 on
    # an Intel Xeon with AVX-512 FP16, under 1e-4 on the AMD EPYCs).
    assert np.abs(got - expected).max() <= 2e-4


def test_warp_head_and_dead_zone_export_as_builtin_operators(generator_and_config):
    """The warp is slices, multiplies and adds, the dead zone abs, relu and sign: static
    shapes, matching Keras."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from lipmotion_tf.export.tflite import convert_to_tflite
    from lipmotion_tf.export.tflite_ops import tflite_op_names
    from lipmotion_tf.models.generator import LipGenerator

    _, config = generator_and_config
    keras.utils.set_random_seed(0)
    generator = LipGenerator(8, 1, output_mode="attention", upsampling="resize", warp_range=4,
                             dead_zone=0.05)
    log_mel = RNG.normal(-30, 15, (1, 64, 128)).astype(np.float32)
    image = RNG.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    generator({"audio": log_mel, "identity": image})
    generator.decoder_motion.conv.kernel.assign(  # shifts of a few pixels, not ~0
        RNG.normal(0, 0.05, generator.decoder_motion.conv.kernel.shape).astype(np.float32))
    expected = generator({"audio": log_mel, "identity": image})["video"].numpy()
    content, _ = convert_to_tflite(generator, config)
    names = set(tflite_op_names(content))
    assert not [n for n in names if n.startswith("CUSTOM")] and not {
        "SHAPE", "BROADCAST_TO", "GATHER", "GATHER_ND", "CONV_3D"} & names, names
    runner = Interpreter(model_content=content).get_signature_runner("generate_window")
    got = runner(log_mel=log_mel, image=image)["frames"]
    # A shift's rounding error is multiplied by the image's vertical difference (up to 2 on
    # this noise image): 1e-3 instead of the plain generator's 1e-4.
    assert np.abs(got - expected).max() <= 1e-3


def test_signatures_have_named_inputs_and_outputs(exported):
    from ai_edge_litert.interpreter import Interpreter

    assert Interpreter(model_path=str(exported["none"])).get_signature_list() == {
        "generate_window": {"inputs": ["image", "log_mel"], "outputs": ["frames"]}}
    assert Interpreter(model_path=str(exported["log_mel"])).get_signature_list() == {
        "log_mel": {"inputs": ["waveform"], "outputs": ["log_mel"]}}


def test_float32_matches_keras_at_any_batch_size(exported, generator_and_config, windows):
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator

    generator, _ = generator_and_config
    runner = TFLiteLipGenerator(exported["none"])
    for batch in (1, 3):
        log_mel = np.concatenate([w["log_mel"] for w in windows[:batch]])
        image = np.concatenate([w["image"] for w in windows[:batch]])
        got = runner.generate_window(log_mel, image)
        expected = generator({"audio": log_mel, "identity": image})["video"].numpy()
        assert got.shape == (batch, 16, 64, 64, 3)
        assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize("mode", QUANTIZED)
def test_quantized_variants_stay_within_their_psnr_bound(exported, generator_and_config, windows,
                                                        mode):
    from lipmotion_tf.metrics.ssim_psnr import psnr

    generator, _ = generator_and_config
    expected = _keras_frames(generator, windows)
    got = _tflite_frames(exported[mode], windows)
    value = psnr(got.reshape(-1, 64, 64, 3), expected.reshape(-1, 64, 64, 3))
    assert value >= PSNR_BOUNDS_DB[mode], f"{mode}: {value:.1f} dB"


@pytest.mark.slow  # reads the three quantized exports
def test_quantization_shrinks_the_file(exported):
    sizes = {mode: exported[mode].stat().st_size for mode in ("none", "float16", "dynamic", "int8")}
    assert sizes["float16"] < 0.6 * sizes["none"]
    assert sizes["dynamic"] < 0.4 * sizes["none"]
    assert sizes["int8"] < 0.4 * sizes["none"]


def test_front_end_matches_the_training_log_mel(exported, generator_and_config):
    from lipmotion_tf.audio.log_mel import LogMelSpectrogram
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator

    _, config = generator_and_config
    layer = LogMelSpectrogram.from_audio_config(config.audio)
    runner = TFLiteLipGenerator(exported["none"], exported["log_mel"])
    for samples in (28224, 5000, 44100):
        waveform = (0.1 * RNG.standard_normal(samples)).astype(np.float32)
        np.testing.assert_allclose(runner.log_mel(waveform), layer(waveform).numpy(), atol=2e-3)


@pytest.mark.parametrize("ease_in", [0, 3])
def test_any_length_runner_gives_the_pipeline_frames(exported, generator_and_config, ease_in):
    import dataclasses

    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    generator, config = generator_and_config
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, ease_in=ease_in))
    runner = TFLiteLipGenerator(exported["none"], exported["log_mel"], config=config)
    waveform = (0.1 * RNG.standard_normal(int(1.3 * 44100))).astype(np.float32)
    identity = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.stack(list(LipMotionPipeline(generator, config).iter_frames(waveform, 44100,
                                                                              identity)))
    got = runner.generate(waveform, identity, batch_size=2)
    assert got.shape == expected.shape == (32, 64, 64, 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    if ease_in:
        np.testing.assert_array_equal(got[0], identity)


@pytest.mark.parametrize("case", ["int8_without_calibration", "existing_output",
                                  "quantized_front_end", "missing_calibration_data",
                                  "missing_checkpoint"])
def test_cli_bad_input_is_one_line(tiny_checkpoint, tmp_path, capsys, case):
    output = tmp_path / "model.tflite"
    args = ["export", "tflite", "--checkpoint", str(tiny_checkpoint), "-o", str(output)]
    if case == "int8_without_calibration":
        args += ["--quantize", "int8"]
    elif case == "existing_output":
        output.write_bytes(b"old")
    elif case == "quantized_front_end":
        args += ["--model", "log_mel", "--quantize", "float16"]
    elif case == "missing_calibration_data":
        args += ["--quantize", "int8", "--calibration-data", str(tmp_path / "nothing")]
    elif case == "missing_checkpoint":
        args[3] = str(tmp_path / "no_checkpoint")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipmotion export: error:") and len(err.splitlines()) == 1, err
    assert not output.exists() or output.read_bytes() == b"old"
    assert not list(tmp_path.glob(".*partial*"))


def test_runner_reports_a_missing_or_wrong_model(exported, tmp_path):
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.export.tflite_generator import TFLiteLipGenerator

    with pytest.raises(InputError, match="not found"):
        TFLiteLipGenerator(tmp_path / "none.tflite")
    with pytest.raises(InputError, match="no 'generate_window' signature"):
        TFLiteLipGenerator(exported["log_mel"])


@pytest.mark.slow
def test_quantized_variants_on_real_grid_windows(grid_s1, tmp_path, generator_and_config):
    """Real GRID clips prepared on the fly, used to calibrate int8 and to measure every variant."""
    from lipmotion_tf.export.tflite import calibration_windows_from_prepared, export_tflite
    from lipmotion_tf.metrics.ssim_psnr import psnr

    generator, config = generator_and_config
    prepared = tmp_path / "grid"
    assert main(["prepare", str(grid_s1), str(prepared), "--limit", "2", "--workers", "1",
                 "--no-progress"]) == 0
    windows = calibration_windows_from_prepared(prepared, config, count=12, split="all")
    expected = _keras_frames(generator, windows)
    for mode in ("float16", "dynamic", "int8"):
        path = tmp_path / f"{mode}.tflite"
        export_tflite(generator, config, path, quantize=mode, calibration=windows)
        got = _tflite_frames(path, windows)
        value = psnr(got.reshape(-1, 64, 64, 3), expected.reshape(-1, 64, 64, 3))
        assert value >= PSNR_BOUNDS_DB[mode], f"{mode}: {value:.1f} dB"


def test_the_tflite_runner_example_writes_a_video(exported, tiny_checkpoint, tmp_path):
    """examples/tflite_runner.py as a user runs it, on the bundled speech and face."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    samples = root / "lipmotion_tf" / "assets" / "samples"
    output = tmp_path / "lips.mp4"
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "tflite_runner.py"),
         "--generator", str(exported["none"]), "--log-mel", str(exported["log_mel"]),
         "--audio", str(samples / "speech.flac"), "--image", str(samples / "face.jpg"),
         "--output", str(output), "--checkpoint", str(tiny_checkpoint)],
        capture_output=True, text=True, timeout=300, cwd=root,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote" in result.stdout and output.stat().st_size > 1000
