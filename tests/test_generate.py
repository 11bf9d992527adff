"""Any-length generation, output layouts, the MP4 file and bad inputs (tiny random generator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.config import load_config
from lipmotion_tf.errors import ConfigError, InputError, NoFaceError
from lipmotion_tf.generate.blending import (
    WindowBlender,
    blend_weights,
    covering_window_starts,
    ease_in_weights,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "lipmotion_tf" / "assets" / "samples"
RNG_WINDOWS = np.random.default_rng(7)


@pytest.fixture(scope="module")
def pipeline(tiny_checkpoint):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    return LipMotionPipeline.from_checkpoint(tiny_checkpoint, batch_size=4)


@pytest.fixture(scope="module")
def face_image():
    from lipmotion_tf.video.image_io import read_image

    return read_image(str(SAMPLES / "face.jpg"))


def _speech(seconds: float, sample_rate: int = 44100) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    repeats = int(np.ceil(seconds * rate / len(audio)))
    return np.tile(audio, repeats)[: int(round(seconds * rate))]


def test_blend_weights_sum_to_one_across_an_overlap():
    weights = blend_weights(16, 8)
    np.testing.assert_allclose(weights[:8] + weights[8:], 1.0, atol=1e-6)


@pytest.mark.parametrize("frames", [1, 2, 15, 16, 17, 75, 1000])
def test_blender_returns_every_frame_once_in_order(frames):
    blender = WindowBlender(frames, 16, 8)
    out = []
    for start in blender.starts:
        window = np.zeros((16, 1, 1, 1), np.float32) + np.arange(start, start + 16)[:, None, None, None]
        out.extend(blender.add(window))
    assert len(out) == frames
    np.testing.assert_allclose(np.ravel(out), np.arange(frames), atol=1e-4)
    # The last window ends at the last frame: none reads padding past the speech.
    assert covering_window_starts(frames, 16, 8)[-1] + 16 == max(frames, 16)


def test_ease_in_weights_start_at_the_identity_and_fall():
    np.testing.assert_allclose(ease_in_weights(3), [1.0, 0.75, 0.25], atol=1e-6)
    np.testing.assert_allclose(ease_in_weights(1), [1.0])
    assert ease_in_weights(0).shape == (0,)
    assert np.all(np.diff(ease_in_weights(8)) < 0)


@pytest.mark.parametrize("frames", [1, 2, 20])
def test_blender_eases_in_from_the_identity(frames):
    identity = np.full((1, 1, 3), 0.5, np.float32)
    plain, eased = WindowBlender(frames, 16, 8), WindowBlender(frames, 16, 8, identity, ease_in=3)
    windows = [RNG_WINDOWS.uniform(-1, 1, (16, 1, 1, 3)).astype(np.float32)
               for _ in plain.starts]
    before = np.stack([f for w in windows for f in plain.add(w)])
    after = np.stack([f for w in windows for f in eased.add(w)])
    weights = ease_in_weights(3)[:frames, None, None, None]
    np.testing.assert_array_equal(after[0], identity)
    np.testing.assert_allclose(after[:3], weights * identity + (1 - weights) * before[:3],
                               atol=1e-6)
    np.testing.assert_array_equal(after[3:], before[3:])
    with pytest.raises(ValueError, match="identity"):
        WindowBlender(frames, 16, 8, ease_in=2)


@pytest.mark.parametrize("samples, length, context", [(1000, 1200, 100), (1000, 800, 100),
                                                      (50, 60, 100), (500, 500, 882),
                                                      (20, 70, 10), (1, 100, 5)])
def test_padded_segment_equals_a_slice_of_the_padded_signal(samples, length, context):
    from lipmotion_tf.generate.pipeline import padded_segment

    waveform = np.random.default_rng(0).normal(size=samples).astype(np.float32)
    # Past its end the speech is extended by reflection (repeated where the gap is longer).
    signal = np.pad(waveform, (0, max(length - samples, 0)), mode="reflect")[:length]
    padded = np.pad(signal, context, mode="reflect" if length > context else "constant")
    for start, stop in ((0, len(padded)), (5, 77), (len(padded) - 30, len(padded))):
        np.testing.assert_array_equal(padded_segment(waveform, length, context, start, stop),
                                      padded[start:stop])


def test_chunked_log_mel_equals_whole_signal_log_mel(pipeline):
    # Chunking bounds memory; it must not change a single window's features.
    waveform = _speech(5.0)
    starts = covering_window_starts(pipeline.num_frames(len(waveform)), 16, 8)
    pipeline.windows_per_chunk = 3
    chunked = np.stack(list(pipeline._window_log_mels(waveform, starts)))
    whole = np.asarray(pipeline.log_mel(waveform[None])[0])
    for start, window in zip(starts, chunked):
        reference = whole[4 * start: 4 * start + 64]
        valid = len(reference)  # the rounding of the last frame may be extended by reflection
        np.testing.assert_allclose(window[: valid - 2], reference[: valid - 2], atol=2e-3)


@pytest.mark.parametrize("seconds", [0.1, 0.64, 3.0,
                                     pytest.param(60.0, marks=pytest.mark.slow)])
def test_frame_count_follows_the_speech_duration(pipeline, face_image, seconds):
    crop, box = pipeline.identity_from_image(face_image)
    count = sum(1 for _ in pipeline.iter_frames(_speech(seconds), 44100, crop))
    assert abs(count - 25 * seconds) <= 1
    assert box is not None


def test_generation_is_deterministic_and_accepts_other_sample_rates(pipeline, face_image):
    speech = _speech(1.0)
    first = pipeline.generate(speech, 44100, face_image)
    second = pipeline.generate(speech, 44100, face_image)
    np.testing.assert_array_equal(first, second)
    resampled = pipeline.generate(speech[::2].copy(), 22050, face_image)
    assert resampled.shape == first.shape == (25, 64, 64, 3)


def test_lip_image_is_taken_as_is(pipeline, face_image):
    crop, _ = pipeline.identity_from_image(face_image)
    again, box = pipeline.identity_from_image(crop, is_lip_crop=True)
    assert box is None and again.shape == (64, 64, 3)
    with pytest.raises(NoFaceError):
        pipeline.identity_from_image(np.full((480, 640, 3), 90, np.uint8))


@pytest.mark.parametrize("layout, size", [
    # the lips layout also generates in fresh processes in test_cli_chain and
    # test_motion_render: this variant (about 4 s) is slow
    pytest.param("lips", (128, 128), marks=pytest.mark.slow),
    # the side-by-side layout, about 5 s: slow (the default face layout stays)
    pytest.param("side-by-side", (256, 128), marks=pytest.mark.slow),
    ("face", (720, 480)),
])
def test_cli_writes_a_playable_mp4_with_sound(tiny_checkpoint, tmp_path, layout, size):
    import av

    output = tmp_path / f"{layout}.mp4"
    code = main(["generate", "--checkpoint", str(tiny_checkpoint), "--layout", layout,
                 "--size", "128", "-o", str(output)])
    assert code == 0
    with av.open(str(output)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", *size)
        assert container.streams.audio[0].codec_context.name == "aac"
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 25 * 5.5) <= 1
    assert not list(tmp_path.glob(".*partial*"))


def test_bad_inputs_give_one_line_and_no_file(tiny_checkpoint, tmp_path, capsys):
    import soundfile as sf

    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    long_audio = tmp_path / "long.wav"
    sf.write(long_audio, np.zeros(16000 * 3, np.float32), 16000)
    blank = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(blank), np.full((480, 640, 3), 90, np.uint8))
    base = ["generate", "--checkpoint", str(tiny_checkpoint)]
    cases = [
        (["--image", str(not_image)], "not an image"),
        (["--audio", str(empty)], str(empty)),
        (["--audio", str(tmp_path / "missing.wav")], "missing.wav"),
        (["--audio", str(long_audio), "--max-duration", "2"], "limit"),
        (["--ease-in", "-2"], "ease-in"),
        (["--image", str(blank), "--layout", "face"], "face"),
        (["-o", str(tmp_path / "no" / "such" / "dir" / "out.mp4")], "does not exist"),
    ]
    for extra, expected in cases:
        output = tmp_path / "out.mp4"
        code = main(base + ["-o", str(output)] + extra)
        err = capsys.readouterr().err.strip()
        assert code != 0, extra
        assert expected in err, (extra, err)
        assert len(err.splitlines()) == 1, err
        assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["notes.jpg", "empty.wav", "long.wav", "blank.png"])


def test_pipeline_opens_on_the_given_lips_when_asked(pipeline, face_image):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    crop, _ = pipeline.identity_from_image(face_image)
    speech = _speech(1.0)
    plain = np.stack(list(pipeline.iter_frames(speech, 44100, crop)))
    eased_pipeline = LipMotionPipeline(pipeline.generator, pipeline.config, ease_in=4)
    eased = np.stack(list(eased_pipeline.iter_frames(speech, 44100, crop)))
    np.testing.assert_array_equal(eased[0], crop)  # the given image, to the last bit
    np.testing.assert_array_equal(eased[4:], plain[4:])
    assert pipeline.ease_in == pipeline.config.data.ease_in == 0
    with pytest.raises(InputError, match="ease-in"):
        LipMotionPipeline(pipeline.generator, pipeline.config, ease_in=-1)
    with pytest.raises(ConfigError, match="ease_in"):
        load_config(REPO / "training" / "tiny.yaml", ["data.ease_in=-1"])


def test_silent_speech_is_allowed(pipeline, face_image):
    frames = pipeline.generate(np.zeros(44100, np.float32), 44100, face_image)
    assert frames.shape == (25, 64, 64, 3)


def test_checkpoint_errors_are_clear(tmp_path):
    from lipmotion_tf.generate.checkpoint import load_generator

    with pytest.raises(InputError, match="not found"):
        load_generator(tmp_path / "nothing")
    with pytest.raises(InputError, match="config.yaml"):
        load_generator(tmp_path)
