"""The motion-first pipeline's exports: rig tensors, the SavedModel served over real gRPC, the
TFLite models in the LiteRT interpreter, each giving ``lipmotion generate --model motion``'s
frames (fresh processes, the bundled photo, 1 s of speech)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "lipmotion_tf" / "assets" / "samples"
PHOTO = SAMPLES / "face.jpg"


def _run(*args, **kwargs):
    """A fresh process in the repository root (``lipmotion ...`` or a script)."""
    command = ([sys.executable, "-m", "lipmotion_tf.cli.main", *args[1:]] if args[0] == "lipmotion"
               else [sys.executable, *args])
    return subprocess.Popen([str(a) for a in command], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _finish(process, timeout=600):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{process.args}\n{out[-2000:]}\n{err[-3000:]}"
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def rig():
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.video.image_io import read_image

    return FaceRig.from_image(read_image(PHOTO))


def test_rig_tensors_rebuild_the_rig_and_bad_ones_are_refused(rig):
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.motion.rig_tensors import check_rig_tensors, rig_from_tensors, rig_tensors

    tensors = rig_tensors(rig)
    again = rig_from_tensors(rig.image, tensors)
    motion = np.random.default_rng(0).normal(0, 0.05, (3, 59, 2)).astype(np.float32)
    for name, value in rig.targets(motion).items():
        assert np.array_equal(again.targets(motion)[name], value), name
    assert np.array_equal(again.crop(), rig.crop())
    check_rig_tensors(tensors, rig.image.shape, 64)
    height, width = rig.image.shape[:2]
    bad = {
        "origin": (np.array([width - 10, 0], np.int32), "not inside the"),
        "mouth_box": (np.array([0, 0, rig.crop_size + 1, 5], np.int32), "mouth_box"),
        "crop_size": (np.asarray(32, np.int32), "below"),
        "basis": (rig.basis[:, :-1], "basis of shape"),
        "mouth_scale": (np.asarray(np.nan), "positive"),
    }
    for name, (value, words) in bad.items():
        with pytest.raises(InputError, match=words):
            check_rig_tensors({**tensors, name: value}, rig.image.shape, 64)


def test_graph_targets_equal_the_rig_targets(rig):
    import tensorflow as tf

    from lipmotion_tf.motion.graph_targets import targets_tf
    from lipmotion_tf.motion.rig_tensors import rig_tensors

    motion = np.random.default_rng(1).normal(0, 0.05, (4, 59, 2)).astype(np.float32)
    motion[0] = 0.0  # a closed mouth: no teeth
    graph = tf.function(targets_tf)(tf.constant(motion), {
        name: tf.constant(value) for name, value in rig_tensors(rig).items()})
    for name, value in rig.targets(motion).items():
        np.testing.assert_allclose(np.asarray(graph[name]), value, atol=1e-4, err_msg=name)


def test_the_lips_are_drawn_farther_and_silence_stays_the_rest_shape(rig):
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.motion.face_rig import DRAW_GAIN

    still = np.zeros((1, 59, 2), np.float32)
    for name, value in rig.targets(still).items():
        assert np.array_equal(rig.targets(still, gain=1.0)[name], value), name
    motion = np.zeros((1, 59, 2), np.float32)
    motion[0, rep.LOWER_INNER, 1] = motion[0, rep.motion_position(17), 1] = 0.1  # lower lip down
    drawn, exact = rig.targets(motion), rig.targets(motion, gain=1.0)
    rest = rig.targets(still)["displacement"][0]

    def moved(targets, index):  # how far from the rest shape the point is drawn, pixels
        point = rep.motion_position(index)
        return np.linalg.norm(targets["displacement"][0, point] - rest[point])

    mouth_width = np.linalg.norm(rig.mesh[61, :2] - rig.mesh[291, :2])
    assert moved(exact, 14) == pytest.approx(0.1 * mouth_width, rel=0.1)
    for lip in (14, 17):  # inner and outer lower lip alike: the lip keeps its thickness
        assert moved(drawn, lip) == pytest.approx(DRAW_GAIN * moved(exact, lip), rel=1e-3)
    assert moved(drawn, 0) == 0.0  # a point the motion leaves still stays still


def test_the_jaw_outline_near_its_angles_is_drawn_still(rig):
    from lipmotion_tf.motion.face_rig import still_jaw_positions

    still = np.zeros((1, 59, 2), np.float32)
    motion = np.full((1, 59, 2), 0.05, np.float32)
    rest = rig.targets(still)["displacement"][0]
    moved = np.linalg.norm(rig.targets(motion)["displacement"][0, :59] - rest[:59], axis=-1)
    angles = still_jaw_positions()
    assert np.all(moved[angles] == 0.0)
    assert np.all(np.delete(moved, angles) > 0.5)  # the chin and the lips move


def test_still_anchors_hold_the_neck_beyond_the_jaw(rig):
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.motion.face_rig import ANCHOR_INDICES, NUM_CONTROLS

    assert rig.controls.shape == (NUM_CONTROLS, 2)
    first = rep.NUM_MOTION_POINTS + len(ANCHOR_INDICES)
    beyond = rig.controls[first:first + len(rep.JAW_OUTLINE_INDICES)]
    outline = rig.controls[[rep.motion_position(i) for i in rep.JAW_OUTLINE_INDICES]]
    centre = rig.controls[[rep.LEFT_CORNER, rep.RIGHT_CORNER]].mean(axis=0)
    assert np.all(np.linalg.norm(beyond - centre, axis=1)
                  > 1.5 * np.linalg.norm(outline - centre, axis=1))
    motion = np.full((1, 59, 2), 0.05, np.float32)
    assert np.all(rig.targets(motion)["displacement"][0, first:] == 0.0)


def test_a_still_jaw_point_beside_the_lips_is_let_go(rig):
    """Seen from the front every still jaw point holds the warp; one lying beside the lips
    (a turned face's far side) is left out of it, and halfway into the fade half of it is."""
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.motion.face_rig import (
        STILL_JAW_FADE,
        STILL_JAW_REACH,
        grid_basis,
        loosened_still_points,
        still_jaw_positions,
    )

    assert loosened_still_points(rig.controls) == {}
    width = np.linalg.norm(rig.controls[rep.LEFT_CORNER] - rig.controls[rep.RIGHT_CORNER])
    corner = rig.controls[rep.LEFT_CORNER]
    controls = rig.controls.copy()
    point, other = still_jaw_positions()[:2]
    controls[point] = corner + [0.0, 0.5 * STILL_JAW_REACH * width]
    controls[other] = corner + [-(STILL_JAW_REACH + STILL_JAW_FADE / 2) * width, 0.0]
    weights = loosened_still_points(controls)
    assert weights[point] == 1.0 and weights[other] == pytest.approx(0.5, abs=0.02)
    basis = grid_basis(controls, rig.crop_size, 16)
    assert np.abs(basis[:, point]).max() == 0.0
    assert np.abs(basis[:, other]).max() > 0.0


def test_export_tflite_model_and_part_options(tmp_path, capsys):
    from lipmotion_tf.cli.main import build_parser, main

    args = build_parser().parse_args(["export", "tflite", "--model", "log_mel", "-o", "x.tflite"])
    assert (args.model, args.part) == ("log_mel", None)  # the paper's part, as before
    output = tmp_path / "x.tflite"
    for extra, words in ((["--model", "motion", "--part", "generator"], "no part 'generator'"),
                         (["--part", "renderer", "--quantize", "int8", "--calibration-data",
                           str(tmp_path)], "float32 only"),
                         (["--quantize", "int8"], "prepare-motion"),
                         (["--model", "log_mel", "--part", "motion"], "cannot go with")):
        assert main(["export", "tflite", "-o", str(output), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert not output.exists()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``lipmotion generate --model motion`` on 1 s of the bundled speech and the bundled
    photo, and the motion model exported as a SavedModel and three TFLite models, each in its
    own process (run side by side)."""
    import soundfile as sf

    from lipmotion_tf.audio.loader import load_audio

    folder = tmp_path_factory.mktemp("motion_export")
    speech = folder / "speech.wav"
    sf.write(speech, load_audio(SAMPLES / "speech.flac", 44100)[:44100], 44100, subtype="FLOAT")
    paths = {"reference": folder / "generate.mp4", "models": folder / "models",
             "motion": folder / "motion.tflite", "renderer": folder / "renderer.tflite",
             "log_mel": folder / "log_mel.tflite", "speech": speech, "folder": folder}
    processes = [
        _run("lipmotion", "generate", "--model", "motion", "--audio", speech, "--image", PHOTO,
             "-o", paths["reference"]),
        _run("lipmotion", "export", "saved-model", "--model", "motion", "-o", paths["models"]),
        *[_run("lipmotion", "export", "tflite", "--part", part, "-o", paths[part])
          for part in ("motion", "renderer", "log_mel")],
    ]
    for process in processes:
        _finish(process)
    return paths


def _decoded(path: Path) -> np.ndarray:
    from lipmotion_tf.video.reader import read_video

    return read_video(path)


@pytest.mark.slow  # five exports and four fresh processes: over a minute on 2 cores
def test_served_and_tflite_frames_equal_generate(exported):
    """`lipmotion serve` answers examples/grpc_client.py with generate's frames to the bit;
    examples/tflite_runner.py's are within a grey level at a few pixels (PSNR >= 40 dB; both
    measured on the decoded MP4s, whose encoder is the same)."""
    from lipmotion_tf.testing import start_serve

    folder = exported["folder"]
    served, steps, lite = folder / "served.mp4", folder / "steps.mp4", folder / "tflite.mp4"
    runner = _run("examples/tflite_runner.py", "--motion", exported["motion"], "--renderer",
                  exported["renderer"], "--log-mel", exported["log_mel"], "--audio",
                  exported["speech"], "--image", PHOTO, "--output", lite)
    server, port = start_serve(exported["models"], "--no-warmup")
    try:
        clients = [_run("examples/grpc_client.py", "--target", f"127.0.0.1:{port}", "--audio",
                        exported["speech"], "--image", PHOTO, "--output", output, *extra)
                   for output, extra in ((served, ()), (steps, ("--frames-per-request", "10")))]
        for client in clients:
            _finish(client)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    _finish(runner)
    reference = _decoded(exported["reference"])
    assert reference.shape[0] == 25
    assert np.array_equal(_decoded(served), reference)
    assert np.array_equal(_decoded(steps), reference)
    psnr = _psnr(_decoded(lite), reference)
    print(f"TFLite vs generate: PSNR {psnr:.1f} dB")
    assert psnr >= 40.0


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, rig):
    """The shipped motion model exported here (SavedModel, TFLite motion and renderer), its
    pipeline, and 1 s of the bundled speech."""
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.export.motion_tflite import export_motion_tflite
    from lipmotion_tf.export.saved_model import export_motion_saved_model
    from lipmotion_tf.motion.pipeline import MotionPipeline

    folder = tmp_path_factory.mktemp("motion_in_process")
    pipeline = MotionPipeline.from_checkpoint()
    base = folder / "models"
    export_motion_saved_model(pipeline.generator, pipeline.config, base)
    for part in ("motion", "renderer"):
        export_motion_tflite(pipeline.generator, pipeline.config, folder / f"{part}.tflite", part)
    speech = load_audio(SAMPLES / "speech.flac", 44100)[:44100]
    frames = np.stack(list(pipeline.iter_frames(speech, 44100, rig)))
    return {"base": base, "folder": folder, "pipeline": pipeline, "speech": speech,
            "frames": frames}


@pytest.mark.slow  # the shipped motion model exported three ways in process (its fixture): 25-45 s
# on 2 shared cores (the rig tensors, graph targets and export refusals above stay in the default
# suite, and test_motion_render converts the renderer to TFLite)
def test_served_model_computes_generate_frames_and_refuses_bad_rigs(in_process, rig):
    """`lipmotion serve`'s computation of serving_default (and of motion + render, a client's
    other route) gives the pipeline's frames to the bit; TF Serving's one graph within a grey
    level; a rig that does not fit the photo is refused by both."""
    import tensorflow as tf

    from lipmotion_tf.motion.face_rig import crop_to_uint8
    from lipmotion_tf.motion.pipeline import renderer_inputs
    from lipmotion_tf.motion.rig_tensors import rig_tensors
    from lipmotion_tf.serving.served_model import RequestError, ServedModel

    model = ServedModel.load(in_process["base"])
    speech, expected = in_process["speech"], in_process["frames"]
    inputs = {"waveform": speech, "image": rig.image, **rig_tensors(rig)}
    protos = {name: tf.make_tensor_proto(value) for name, value in inputs.items()}
    served = model.predict("serving_default", protos)["frames"]
    assert np.array_equal(np.stack([rig.paste(crop) for crop in served]), expected)

    log_mel = in_process["pipeline"].log_mel(speech, 44100)
    motion = model.predict("motion", {
        "log_mel": tf.make_tensor_proto(log_mel[None]),
        "rest": tf.make_tensor_proto(rig.rest_motion_input[None])})["motion"][0]
    render = renderer_inputs(rig, motion[:10])
    crops = model.predict("render", {k: tf.make_tensor_proto(v) for k, v in render.items()})
    # Within a grey level: this route computes the motion in another graph than generate, and
    # float sums in another order can round a pixel the other way.
    assert np.abs(rig.paste(crop_to_uint8(crops["frames"][9])).astype(int)
                  - expected[9].astype(int)).max() <= 1

    graph = model.functions["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    frames = graph["frames"].numpy()
    assert frames.shape == served.shape == (25, rig.crop_size, rig.crop_size, 3)
    # The mouth's fine texture is taken from the nearest source pixel, so a float difference
    # between the two routes can move a pixel's detail by one place: a few pixels may differ.
    differ = np.abs(frames.astype(int) - served) > 1
    assert differ.mean() < 1e-4 and _psnr(frames, served) >= 55.0, (differ.sum(),
                                                                    _psnr(frames, served))

    outside = {**protos, "origin": tf.make_tensor_proto(
        np.array([rig.image.shape[1] - 10, 0], np.int32))}
    with pytest.raises(RequestError, match="not inside the"):
        model.predict("serving_default", outside)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not inside the photo"):
        model.functions["serving_default"](**{k: tf.constant(tf.make_ndarray(v))
                                              for k, v in outside.items()})


@pytest.mark.slow  # needs the shipped motion model's exports above: about 3 s on their 25-45 s
def test_tflite_pipeline_frames_match_generate(in_process, rig):
    """The TFLite motion model and renderer in the LiteRT interpreter (librosa's log-mel, as
    generate): PSNR >= 40 dB against the pipeline's frames, changed pixels in the crop only."""
    from lipmotion_tf.export.tflite_motion import TFLiteMotionPipeline

    folder = in_process["folder"]
    runner = TFLiteMotionPipeline(folder / "motion.tflite", folder / "renderer.tflite",
                                  num_threads=2, config=in_process["pipeline"].config)
    frames = np.stack(list(runner.iter_frames(in_process["speech"], rig)))
    expected = in_process["frames"]
    assert frames.shape == expected.shape
    assert _psnr(frames, expected) >= 40.0
    x0, y0 = rig.origin
    outside = np.ones(frames.shape[1:3], bool)
    outside[y0:y0 + rig.crop_size, x0:x0 + rig.crop_size] = False
    assert np.array_equal(frames[:, outside], expected[:, outside])
