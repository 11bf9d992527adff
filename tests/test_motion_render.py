"""The motion-first renderer: warp, masks, face rig, pipeline and `generate --model motion`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.motion.warp import polygon_mask, tps_basis
from lipmotion_tf.testing import mouth_ring

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "lipmotion_tf" / "assets" / "samples"


def _controls(side: int = 64) -> np.ndarray:
    """As many moving points as a rig has, on ellipses round the middle (the renderer reads
    the inner lips' displacement among them), then the border's."""
    angle = np.linspace(0.0, 2.0 * np.pi, 20, endpoint=False)
    rings = [np.stack([side / 2 + r * np.cos(angle), side / 2 + 0.5 * r * np.sin(angle)], 1)
             for r in (side / 8, side * 7 / 32, side * 5 / 16)]
    moving = np.concatenate(rings)[:59]
    edge = np.linspace(0, side - 1, 5)[:-1]
    border = np.concatenate([np.stack([edge, 0 * edge], 1), np.stack([0 * edge + side - 1, edge], 1),
                             np.stack([side - 1 - edge, 0 * edge + side - 1], 1),
                             np.stack([0 * edge, side - 1 - edge], 1)])
    return np.concatenate([moving, border]).astype(np.float32)


def _pattern(side: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    image = np.stack([np.sin(x / 3.0), np.cos(y / 4.0), np.sin((x + y) / 5.0)], -1)
    return (0.5 + 0.4 * image)[None].astype(np.float32)


def _renderer_inputs(displacement: np.ndarray, side: int = 64):
    controls = _controls(side)
    centres = (np.arange(32) + 0.5) * side / 32 - 0.5
    gx, gy = np.meshgrid(centres, centres)
    basis = tps_basis(controls, np.stack([gx.ravel(), gy.ravel()], 1))
    far = mouth_ring(-10.0, -10.0, 1.0, 1.0)  # no mouth
    return {"crop": _pattern(side), "basis": basis, "displacement": displacement[None],
            "inner_lip": far, "teeth": far[:, :3], "colours": np.zeros((1, 2, 3), np.float32)}


def test_tps_reproduces_control_displacements_and_affine_fields():
    controls = _controls()
    basis = tps_basis(controls, controls)
    rng = np.random.default_rng(1)
    displacement = rng.normal(size=(len(controls), 2)).astype(np.float32)
    np.testing.assert_allclose(basis @ displacement, displacement, atol=1e-3)
    points = rng.uniform(0, 63, (50, 2))
    shift = np.tile([[2.5, -1.0]], (len(controls), 1))
    np.testing.assert_allclose(tps_basis(controls, points) @ shift,
                               np.tile([[2.5, -1.0]], (50, 1)), atol=1e-4)


def test_renderer_is_the_identity_for_zero_displacement():
    from lipmotion_tf.motion.renderer import MotionRenderer

    inputs = _renderer_inputs(np.zeros((len(_controls()), 2), np.float32))
    out = np.asarray(MotionRenderer(64, (0, 0, 8, 8), grid_size=32)(inputs))
    assert np.array_equal(out, inputs["crop"])


def test_renderer_moves_a_pattern_by_a_known_displacement():
    """Every control point moved by (2.3, -1.4) px: a blob's centre moves by it (to 0.5 px)."""
    from lipmotion_tf.motion.renderer import MotionRenderer

    shift = np.array([2.3, -1.4], np.float32)
    inputs = _renderer_inputs(np.tile(shift, (len(_controls()), 1)))
    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    blob = np.exp(-((x - 30.0) ** 2 + (y - 33.0) ** 2) / (2 * 4.0 ** 2))
    inputs["crop"] = np.repeat(blob[None, :, :, None], 3, axis=-1)
    out = np.asarray(MotionRenderer(64, (0, 0, 8, 8), grid_size=32)(inputs))[0, ..., 0]
    centre = np.array([(out * x).sum(), (out * y).sum()]) / out.sum()
    np.testing.assert_allclose(centre - [30.0, 33.0], shift, atol=0.5)


def test_polygon_mask_area_matches_the_polygon():
    square = np.array([[[10.0, 10.0], [30.0, 10.0], [30.0, 20.0], [10.0, 20.0]]], np.float32)
    mask = np.asarray(polygon_mask(square, 40, 40, supersample=4))
    assert mask.sum() == pytest.approx(200.0, abs=2.0)
    assert mask[0, 15, 20] == 1.0 and mask[0, 5, 5] == 0.0


def test_drawn_interior_is_a_dark_slit_when_narrow_with_tongue_and_teeth_when_wide():
    from lipmotion_tf.motion.renderer import UPPER_TEETH_LIGHT, MotionRenderer

    side, lip = 96, np.array([0.6, 0.3, 0.3], np.float32)
    cavity, white = 0.22 * lip, np.array([0.9, 0.9, 0.85], np.float32)
    renderer = MotionRenderer(side, (8, 8, 80, 80), grid_size=32, own_interior=False)

    def middle_column(gap, tooth, upper_teeth=True):
        ring = mouth_ring(48.0, 48.0, 28.0, gap)  # mouth width 56 pixels
        depth = min(0.45 * gap, 0.1 * 56.0)  # as the rig draws the upper teeth
        teeth = np.concatenate([ring[:, :11], ring[:, 10::-1] + np.array([0.0, depth])], axis=1)
        inputs = {"inner_lip": ring, "teeth": (teeth if upper_teeth else teeth - 60.0)
                  .astype(np.float32), "colours": np.stack([cavity, tooth])[None],
                  "displacement": _opened(ring, mouth_ring(48.0, 48.0, 28.0, 0.0))}
        painted, _ = renderer.draw(np.broadcast_to(lip, (1, side, side, 3)).copy(), inputs)
        return np.asarray(painted)[0, :, 48]  # (S, 3)

    # 7% of the width: a dark slit, no lower teeth (their colour changes nothing).
    narrow = middle_column(4.0, white, upper_teeth=False)
    np.testing.assert_array_equal(narrow, middle_column(4.0, lip, upper_teeth=False))
    assert narrow[47:50].mean() < 0.5 * lip.mean()
    wide = middle_column(20.0, white)  # 36%: the contours cross the column at 38 and 58
    np.testing.assert_allclose(wide[40], cavity + UPPER_TEETH_LIGHT * (white - cavity),
                               atol=0.01)  # the upper teeth, in shadow
    np.testing.assert_allclose(wide[50], 1.72 * cavity, atol=0.01)  # lighter lower down
    assert wide[56].mean() > wide[50].mean() + 0.3  # the lower teeth
    np.testing.assert_array_equal(wide[:8], np.broadcast_to(lip, (8, 3)))  # outside the box


def _opened(target, source):
    """A rig's displacements ``(1, 59, 2)`` that move the inner-lip ring ``source`` to
    ``target`` (the renderer reads the identity's ring as the target's less these)."""
    from lipmotion_tf.motion import representation as rep

    displacement = np.zeros((1, rep.NUM_MOTION_POINTS, 2), np.float32)
    displacement[:, list(rep.INNER_RING_POSITIONS)] = target - source
    return displacement


def test_a_closed_mouth_keeps_its_own_lip_line_until_the_lips_part():
    """The drawing covers only what opens beyond the identity's own lips: at rest the photo's
    lip line is left as it is (no dark slit laid along it), and parted by 1 pixel
    (:data:`PARTING_PIXELS`) or more, the opening is drawn."""
    from lipmotion_tf.motion.renderer import PARTING_PIXELS, MotionRenderer

    side, lip = 96, np.array([0.6, 0.3, 0.3], np.float32)
    photo = np.broadcast_to(lip, (1, side, side, 3)).copy()
    photo[0, 47:49, 24:72] = 0.4 * lip  # its own line between the lips
    source = mouth_ring(48.0, 48.0, 28.0, 1.5)
    cavity = 0.22 * lip

    def draw(gap):
        target = mouth_ring(48.0, 48.0, 28.0, gap)
        inputs = {"crop": photo, "inner_lip": target, "teeth": target[:, :3],
                  "displacement": _opened(target, source),
                  "colours": np.stack([cavity, np.array([0.9, 0.9, 0.85])])[None]
                  .astype(np.float32)}
        renderer = MotionRenderer(side, (8, 8, 80, 80), grid_size=32)
        painted, mask = renderer.draw(photo, inputs)
        return np.asarray(painted)[0], np.asarray(mask)[0]

    rest, mask = draw(1.5)
    np.testing.assert_array_equal(rest, photo[0])
    assert mask.max() == 0.0
    parted, mask = draw(1.5 + 2.0 * PARTING_PIXELS + 4.0)
    assert parted[48, 48].mean() < 0.35 * lip.mean()  # the cavity, tongue-lit lower down
    assert mask[48, 48] == pytest.approx(1.0)


def test_the_paint_covers_the_mask_exactly_once():
    """An identity open by 9% of its width (half its own inside, half the drawing) closing to
    a narrower target, where the drawing comes in only partly: with the photo, its inside
    and the drawn colours all one grey, the frame stays that grey (the weights of the warped
    frame, the own inside and the drawing sum to one)."""
    from lipmotion_tf.motion.renderer import MotionRenderer

    side, grey = 96, np.full(3, 0.5, np.float32)
    crop = np.broadcast_to(grey, (1, side, side, 3)).copy()
    source, target = mouth_ring(48.0, 48.0, 28.0, 5.0), mouth_ring(48.0, 48.0, 28.0, 3.0)
    inputs = {"crop": crop, "displacement": _opened(target, source), "inner_lip": target,
              "teeth": target[:, :3], "colours": np.stack([grey, grey])[None]}
    painted, mask = MotionRenderer(side, (8, 8, 80, 80), grid_size=32).draw(crop, inputs)
    np.testing.assert_allclose(np.asarray(painted)[0], crop[0], atol=1e-6)
    assert 0.0 < float(np.asarray(mask).max()) < 1.0  # the drawing's share: none of it


def test_an_open_identity_lends_its_own_teeth_and_a_closed_one_changes_nothing():
    """The identity's inside (white teeth over a pink tongue, lips 16 pixels apart) opened to
    30 pixels: the teeth ride with the upper lip, the tongue with the lower, and the cavity
    colour fills the gap between; closed to 8 pixels, both are squeezed in. A closed
    identity is drawn exactly as without its own interior."""
    from lipmotion_tf.motion.renderer import MotionRenderer

    side, lip = 96, np.array([0.6, 0.3, 0.3], np.float32)
    white, pink = np.array([0.9, 0.9, 0.85], np.float32), np.array([0.8, 0.4, 0.5], np.float32)
    cavity = 0.22 * lip
    crop = np.broadcast_to(lip, (side, side, 3)).copy()
    crop[40:48, 20:77], crop[48:57, 20:77] = white, pink
    own, drawn = (MotionRenderer(side, (8, 8, 80, 80), grid_size=32, own_interior=flag)
                  for flag in (True, False))

    def render(renderer, source_gap, target_gap):
        source, target = (mouth_ring(48.0, 48.0, 28.0, gap) for gap in (source_gap, target_gap))
        inputs = {"crop": crop[None], "displacement": _opened(target, source),
                  "inner_lip": target, "teeth": target[:, :3],
                  "colours": np.stack([cavity, white])[None]}
        painted, _ = renderer.draw(np.broadcast_to(lip, (1, side, side, 3)).copy(), inputs)
        return np.asarray(painted)[0, :, 48]

    wide = render(own, 16.0, 30.0)  # the target's contours cross the middle column at 33, 63
    np.testing.assert_allclose(wide[35:39], np.broadcast_to(white, (4, 3)), atol=0.02)
    np.testing.assert_allclose(wide[57:61], np.broadcast_to(pink, (4, 3)), atol=0.02)
    np.testing.assert_allclose(wide[46:51], np.broadcast_to(cavity, (5, 3)), atol=0.02)
    narrow = render(own, 16.0, 8.0)  # 44 to 52: half the height, both bands in it
    np.testing.assert_allclose(narrow[46:48], np.broadcast_to(white, (2, 3)), atol=0.02)
    np.testing.assert_allclose(narrow[49:51], np.broadcast_to(pink, (2, 3)), atol=0.02)
    np.testing.assert_array_equal(render(own, 1.0, 20.0), render(drawn, 1.0, 20.0))


def test_renderer_converts_to_tflite_builtins_and_matches_keras(tmp_path):
    import keras
    import tensorflow as tf

    from lipmotion_tf.motion.renderer import MotionRenderer

    inputs = _renderer_inputs(np.random.default_rng(2).normal(
        0, 1.5, (len(_controls()), 2)).astype(np.float32))
    inputs["inner_lip"] = mouth_ring(32.0, 32.0, 12.0, 8.0)
    inputs["teeth"] = inputs["inner_lip"][:, :11] + np.array([0.0, 2.0], np.float32)
    inputs["colours"] = np.array([[[0.1, 0.0, 0.0], [0.9, 0.9, 0.8]]], np.float32)
    renderer = MotionRenderer(64, (16, 16, 32, 40), grid_size=32)
    expected = np.asarray(renderer(inputs))
    names = ["crop", "basis", "displacement", "inner_lip", "teeth", "colours"]
    archive = keras.export.ExportArchive()
    archive.track(renderer)
    archive.add_endpoint("serve", lambda *args: renderer(dict(zip(names, args))),
                         input_signature=[tf.TensorSpec(inputs[n].shape, tf.float32, name=n)
                                          for n in names])
    archive.write_out(str(tmp_path / "saved"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = converter.convert()
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    (signature,) = interpreter.get_signature_list()
    runner = interpreter.get_signature_runner(signature)
    result = runner(**{name: inputs[name] for name in names})
    out = next(iter(result.values()))
    assert np.abs(out - expected).max() < 1e-3


def test_log_mel_of_frames_in_chunks_equals_the_whole_signal_log_mel():
    from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy, log_mel_of_frames
    from lipmotion_tf.config import AudioConfig

    audio = AudioConfig()
    frames = 60
    waveform = np.random.default_rng(3).normal(
        0, 0.1, frames * audio.samples_per_frame).astype(np.float32)
    chunked = log_mel_of_frames(waveform, frames, audio, chunk_seconds=0.37)  # several chunks
    whole = log_mel_numpy(waveform, audio)[: frames * audio.mel_frames_per_frame]
    assert np.abs(chunked - whole).max() < 1e-3


def test_motion_pipeline_changes_only_the_mouth_region(tiny_motion_checkpoint):
    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.video.image_io import read_image

    pipeline = MotionPipeline.from_checkpoint(tiny_motion_checkpoint)
    image = read_image(SAMPLES / "face.jpg")
    rig = FaceRig.from_image(image)
    speech = load_audio(SAMPLES / "speech.flac", 44100)[: 44100]
    frames = list(pipeline.iter_frames(speech, 44100, rig))
    assert len(frames) == 25
    x0, y0 = rig.origin
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y0 + rig.crop_size, x0:x0 + rig.crop_size] = False
    for frame in frames:
        assert frame.shape == image.shape
        assert np.array_equal(frame[outside], image[outside])


def test_lower_lip_moves_without_pulling_the_upper_lip_or_the_skin_above_it():
    """The warp basis cuts the lips apart where they meet: the bundled (closed) mouth's lower
    lip and jaw moved 10 pixels down leave the upper lip and the skin above it where they
    are and move the lower lip as commanded. One spline through both lips swung the field
    to 18 pixels down and 6 up; near the fixed corners some swing is left."""
    from lipmotion_tf.motion import representation as rep
    from lipmotion_tf.motion.face_rig import FaceRig, grid_basis
    from lipmotion_tf.video.image_io import read_image

    rig = FaceRig.from_image(read_image(SAMPLES / "face.jpg"))
    displacement = np.zeros(rig.controls.shape, np.float32)
    displacement[list(rep.LOWER_LIP_POSITIONS + rep.JAW_POSITIONS), 1] = 10.0
    side, grid = rig.crop_size, rig.grid_size
    field = (rig.basis @ displacement).reshape(grid, grid, 2)
    cell = side / grid
    node = lambda point: tuple(int(np.clip(round((v + 0.5) / cell - 0.5), 0, grid - 1))
                               for v in point[::-1])
    above = rig.controls[rep.motion_position(0)] - [0.0, 2.0]  # the Cupid's bow, 2 px up
    below = rig.controls[rep.motion_position(17)]  # the lower lip's outer middle
    assert abs(field[node(above)][1]) < 0.5
    assert abs(field[node(below)][1] - 10.0) < 1.0
    assert field[..., 1].max() < 13.0 and field[..., 1].min() > -2.5
    np.testing.assert_array_equal(grid_basis(rig.controls, side, grid), rig.basis)
    np.testing.assert_allclose(rig.basis @ np.tile([[2.0, -3.0]], (len(rig.controls), 1)),
                               np.tile([[2.0, -3.0]], (grid * grid, 1)), atol=1e-3)


def test_drawn_teeth_take_the_light_of_the_scene():
    """A grey region's teeth are the neutral off-white; an orange-lit one's are warmer,
    half as tinted as the region, and as bright as the region says."""
    from lipmotion_tf.motion.face_rig import interior_colours

    lips = np.array([[20, 30], [44, 30], [44, 36], [20, 36]], np.float32)
    grey = np.full((64, 64, 3), 140, np.uint8)
    orange = np.zeros((64, 64, 3), np.uint8) + np.array([194, 128, 51], np.uint8)
    neutral, warm = interior_colours(grey, lips)[1], interior_colours(orange, lips)[1]
    np.testing.assert_allclose(neutral / neutral[0], np.array([0.86, 0.84, 0.79]) / 0.86,
                               atol=1e-3)
    assert warm[0] > warm[1] > warm[2]
    np.testing.assert_allclose(warm[2] / warm[0], 0.79 / 0.86 * (0.5 + 0.5 * 51 / 194),
                               atol=1e-2)


def test_an_open_mouths_cavity_is_the_darkest_of_its_own_inside():
    """The gap the renderer opens between a photo's own teeth takes the colour of the photo's
    darkest inside, no brighter than the drawn cavity; a closed mouth's cavity is a dark
    shade of its lips, as before."""
    from lipmotion_tf.motion.face_rig import interior_colours

    region = np.full((64, 64, 3), 140, np.uint8)
    region[24:34, 14:51], region[34:42, 14:51] = (30, 10, 10), (200, 200, 190)
    lips = np.array([[12, 22], [52, 22], [52, 44], [12, 44]], np.float32)
    open_ring, closed_ring = mouth_ring(32.0, 33.0, 16.0, 16.0)[0], mouth_ring(32.0, 33.0,
                                                                               16.0, 1.0)[0]
    np.testing.assert_allclose(interior_colours(region, lips, open_ring)[0],
                               np.array([30, 10, 10]) / 255.0, atol=1e-6)
    np.testing.assert_array_equal(interior_colours(region, lips, closed_ring),
                                  interior_colours(region, lips))
    region[24:34, 14:51] = (160, 120, 120)  # teeth and tongue only: as dark as drawn, redder
    drawn, own = interior_colours(region, lips)[0], interior_colours(region, lips, open_ring)[0]
    assert own.sum() == pytest.approx(drawn.sum(), rel=1e-5)
    np.testing.assert_allclose(own / own.sum(), np.array([160, 120, 120]) / 400, atol=1e-6)


def test_face_too_small_is_refused_with_the_sizes(tmp_path):
    import cv2

    from lipmotion_tf.errors import NoFaceError
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.video.image_io import read_image

    image = read_image(SAMPLES / "face.jpg")
    small = cv2.resize(image, (image.shape[1] // 6, image.shape[0] // 6))
    with pytest.raises(NoFaceError, match="too small|no face"):
        FaceRig.from_image(np.ascontiguousarray(small))


def _turned(mesh: np.ndarray, degrees: float) -> np.ndarray:
    """A face mesh (pixels, with depth) turned about the vertical axis through its middle."""
    angle, centre = np.radians(degrees), mesh.mean(axis=0)
    offset, turned = mesh - centre, mesh.copy()
    turned[:, 0] = centre[0] + offset[:, 0] * np.cos(angle) + offset[:, 2] * np.sin(angle)
    turned[:, 2] = centre[2] - offset[:, 0] * np.sin(angle) + offset[:, 2] * np.cos(angle)
    return turned


def test_a_face_turned_from_the_camera_is_noted(tiny_motion_checkpoint, tmp_path, capsys,
                                                monkeypatch):
    """The rig measures how far the face turns (the bundled photo is near frontal); past
    TURN_LIMIT, `generate` says so on stderr and still renders."""
    from lipmotion_tf.cli.main import main
    from lipmotion_tf.motion import face_rig
    from lipmotion_tf.motion.render import render_motion_video
    from lipmotion_tf.video.image_io import read_image

    image = read_image(SAMPLES / "face.jpg")
    frontal = face_rig.FaceRig.from_image(image)
    assert frontal.turn < 10 and frontal.turn_note() is None
    turned = face_rig.FaceRig.from_image(image, mesh=_turned(frontal.mesh, 60))
    assert 50 < turned.turn < 65 and face_rig.TURN_LIMIT < turned.turn
    assert f"{turned.turn:.0f} degrees" in turned.turn_note("me.jpg")

    build = face_rig.FaceRig.from_image.__func__
    monkeypatch.setattr(face_rig.FaceRig, "from_image", classmethod(
        lambda cls, photo, **kwargs: build(cls, photo, mesh=turned.mesh, **kwargs)))
    output = tmp_path / "turned.mp4"
    notes = []
    render_motion_video(SAMPLES / "speech.flac", image, output,
                        checkpoint=tiny_motion_checkpoint, source="me.jpg", progress=False,
                        on_note=notes.append)
    assert notes == [turned.turn_note("me.jpg")]
    assert output.stat().st_size > 0
    photo = SAMPLES / "face.jpg"
    again = tmp_path / "again.mp4"
    assert main(["generate", "--image", str(photo), "--audio", str(SAMPLES / "speech.flac"),
                 "--checkpoint", str(tiny_motion_checkpoint), "-o", str(again)]) == 0
    note = [line for line in capsys.readouterr().err.splitlines() if "turned" in line]
    assert len(note) == 1 and note[0].startswith(f"lipmotion generate: the face in {photo}")
    assert again.stat().st_size > 0


def _lipmotion(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "lipmotion_tf.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_generate_motion_and_paper_in_fresh_processes(tiny_motion_checkpoint, tmp_path):
    import av

    from lipmotion_tf.video.image_io import read_image

    height, width = read_image(SAMPLES / "face.jpg").shape[:2]
    motion = tmp_path / "motion.mp4"
    done = _lipmotion("generate", "--model", "motion", "--checkpoint", tiny_motion_checkpoint,
                      "-o", motion)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "turned" not in done.stderr  # the bundled photo faces the camera
    with av.open(str(motion)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (width + width % 2, height + height % 2)
        assert container.streams.audio
    paper = tmp_path / "paper.mp4"
    done = _lipmotion("generate", "--model", "paper", "--layout", "lips", "--size", "64",
                      "-o", paper)
    assert done.returncode == 0, done.stderr[-2000:]
    with av.open(str(paper)) as container:
        assert container.streams.video[0].width == 64


def test_generate_motion_bad_inputs_one_line_nothing_written(tiny_motion_checkpoint, tmp_path):
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 90, np.uint8))
    output = tmp_path / "out.mp4"
    for extra, words in ((["--image", blank], "no face found"),
                         (["--lip-image"], "--model paper"),
                         (["--model", "paper"], "holds a motion model")):
        done = _lipmotion("generate", "--checkpoint", tiny_motion_checkpoint, *extra, "-o", output)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = [line for line in done.stderr.splitlines() if line.startswith("lipmotion")]
        assert len(lines) == 1 and words in lines[0], done.stderr[-2000:]
        assert not output.exists()


@pytest.mark.slow  # a real clip tracked and dubbed in a fresh process
def test_dub_motion_moves_only_the_mouth_region(tiny_motion_checkpoint, shared_data, tmp_path):
    """`dub --model motion` on a real clip with its own sound, in a fresh process."""
    import av

    video = shared_data / "lrw" / "test_ABOUT_00001.mp4"
    output = tmp_path / "dubbed.mp4"
    done = _lipmotion("dub", "--checkpoint", tiny_motion_checkpoint, "--video", video,
                      "--audio", video, "-o", output)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0 frames without a face" in done.stdout
    from lipmotion_tf.video.reader import read_video

    source, dubbed = read_video(video), read_video(output)
    assert dubbed.shape[1:] == source.shape[1:] and abs(len(dubbed) - len(source)) <= 1
    with av.open(str(output)) as container:
        assert container.streams.audio
    # The top third of the frame (eyes, forehead) is the source's, the encoding aside.
    top = slice(0, source.shape[1] // 3)
    error = np.abs(dubbed[:len(source), top].astype(float) - source[:len(dubbed), top]).mean()
    assert error < 3.0
