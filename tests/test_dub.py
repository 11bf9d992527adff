"""Dubbing a video (tiny random generator; videos made from the bundled face photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.generate.dub import generated_index, pingpong_index
from lipmotion_tf.testing import write_face_video

SAMPLES = Path(__file__).resolve().parents[1] / "lipmotion_tf" / "assets" / "samples"
FPS = 30
FRAMES = 45
BLACK = (20, 21, 22)


def _speech(seconds: float, rate: int = 44100) -> np.ndarray:
    import soundfile as sf

    audio, sample_rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    assert sample_rate == rate
    return np.tile(audio, 3)[: int(seconds * rate)]


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    return write_face_video(tmp_path_factory.mktemp("dub") / "person.mp4", FRAMES, FPS, BLACK)


def test_video_plays_forward_then_backward_and_follows_the_speech_clock():
    assert [pingpong_index(j, 4) for j in range(10)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert [pingpong_index(j, 1) for j in range(3)] == [0, 0, 0]
    # A 50 fps video shows each 25 fps generated frame twice; the last one is repeated.
    assert [generated_index(j, 50.0, 25, 3) for j in range(8)] == [0, 1, 1, 2, 2, 2, 2, 2]
    assert [generated_index(j, 25.0, 25, 4) for j in range(4)] == [0, 1, 2, 3]


def test_composite_differs_from_the_frame_only_inside_the_feathered_mask():
    from lipmotion_tf.generate.compositing import MouthCompositor, feather_mask
    from lipmotion_tf.video.image_io import read_image
    from lipmotion_tf.video.lip_crop import box_to_rect

    frame = read_image(str(SAMPLES / "face.jpg"))
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for box in ([360.0, 300.0, 101.0], [20.0, 470.0, 80.0]):  # inside; over a corner
        out = MouthCompositor(0.1, reference=crop).paste(frame, box, crop)
        x0, y0, side = box_to_rect(box)
        allowed = np.zeros(frame.shape[:2], bool)
        mask = feather_mask(side, 0.1) > 0
        ys, xs = np.nonzero(mask)
        ys, xs = ys + y0, xs + x0
        keep = (ys >= 0) & (ys < frame.shape[0]) & (xs >= 0) & (xs < frame.shape[1])
        allowed[ys[keep], xs[keep]] = True
        changed = (out != frame).any(axis=-1)
        assert changed.any() and not (changed & ~allowed).any()
        assert out.shape == frame.shape and out.dtype == np.uint8


@pytest.mark.parametrize("seconds, expected", [
    (2.5, 75),
    # a shorter speech than the video, the same checks (the 2.5 s one also plays it back):
    # about 3 s, slow
    pytest.param(1.0, 30, marks=pytest.mark.slow),
])
def test_dub_writes_the_speech_length_and_passes_faceless_frames(
        tiny_checkpoint, face_video, tmp_path, capsys, seconds, expected):
    import av
    import soundfile as sf

    speech = tmp_path / "speech.wav"
    sf.write(speech, _speech(seconds), 44100)
    output = tmp_path / "dubbed.mp4"
    code = main(["dub", "--video", str(face_video), "--audio", str(speech), "-o", str(output),
                 "--checkpoint", str(tiny_checkpoint)])
    assert code == 0
    faceless = sum(pingpong_index(j, FRAMES) in BLACK for j in range(expected))
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{expected} frames at 30 fps" in line
    assert f"{faceless} frames without a face passed through" in line
    with av.open(str(output)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 720, 480)
        assert video.average_rate == 30
        assert container.streams.audio[0].codec_context.name == "aac"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == expected
    for j, frame in enumerate(frames):
        if pingpong_index(j, FRAMES) in BLACK:
            assert frame.mean() < 3  # passed through: still black
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("argument, expected", [([], 0), (["--ease-in", "2"], 2)])
def test_dub_opens_on_the_video_unless_an_ease_in_is_asked(tiny_checkpoint, face_video, tmp_path,
                                                          monkeypatch, argument, expected):
    """The model's data.ease_in (a photo opening) is not a dub's: it uses 0 unless asked."""
    import soundfile as sf

    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    eased = tmp_path / "eased"
    eased.mkdir()
    for path in tiny_checkpoint.iterdir():
        (eased / path.name).write_bytes(path.read_bytes())
    config = eased / "config.yaml"
    config.write_text(config.read_text().replace("ease_in: 0", "ease_in: 5"))
    assert "ease_in: 5" in config.read_text()
    seen = []
    original = LipMotionPipeline.from_checkpoint

    def pipeline(*args, **kwargs):
        made = original(*args, **kwargs)
        seen.append(made.ease_in)
        return made

    monkeypatch.setattr(LipMotionPipeline, "from_checkpoint", pipeline)
    speech = tmp_path / "speech.wav"
    sf.write(speech, _speech(1.0), 44100)
    assert main(["dub", "--video", str(face_video), "--audio", str(speech), "-o",
                 str(tmp_path / "out.mp4"), "--checkpoint", str(eased), *argument]) == 0
    assert seen == [expected]


def test_dub_bad_inputs_give_one_line_and_no_file(tiny_checkpoint, face_video, tmp_path, capsys):
    silent = write_face_video(tmp_path / "silent.mp4", FRAMES, FPS, sound=False)
    faceless = write_face_video(tmp_path / "nobody.mp4", FRAMES, FPS, face=False)
    (tmp_path / "notes.txt").write_text("not a folder")
    base = ["dub", "--checkpoint", str(tiny_checkpoint)]
    cases = [
        (["--video", str(face_video), "--audio", str(silent)], "no audio"),
        (["--video", str(faceless), "--audio", str(face_video)], "no face"),
        (["--video", str(face_video), "--audio", str(face_video), "--identity-frame", "99"],
         "the video has 45 frames"),
        (["--video", str(face_video), "--audio", str(face_video), "--identity-frame", "21"],
         "no face found in that frame"),
        (["--video", str(tmp_path / "missing.mp4"), "--audio", str(face_video)], "missing.mp4"),
    ]
    for extra, expected in cases:
        output = tmp_path / "out.mp4"
        assert main(base + extra + ["-o", str(output)]) == 2
        err = capsys.readouterr().err.strip()
        # One line after any progress bar, no traceback.
        assert expected in err.splitlines()[-1] and "Traceback" not in err, (extra, err)
        assert not output.exists()
    output = tmp_path / "notes.txt" / "out.mp4"
    assert main(base + ["--video", str(face_video), "--audio", str(face_video),
                        "-o", str(output)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nobody.mp4", "notes.txt", "silent.mp4"]
