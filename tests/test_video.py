"""Video decoding: real GRID and LRS3 files, frame-rate resampling, and broken inputs."""

from __future__ import annotations

import types

import numpy as np
import pytest

from lipmotion_tf.errors import InputError
from lipmotion_tf.video.reader import iter_video, read_video, video_info


def write_index_video(path, num_frames, fps, size=(16, 32)):
    """Writes a lossless video whose frame ``i`` is filled with the value ``4 * i``."""
    import av

    height, width = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "bgr0"
        for index in range(num_frames):
            image = np.full((height, width, 3), 4 * index, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_grid_mpg(grid_s1):
    path = sorted(grid_s1.glob("*.mpg"))[0]
    frames = read_video(path)
    assert frames.shape == (75, 288, 360, 3) and frames.dtype == np.uint8
    info = video_info(path)
    assert (info.fps, info.num_frames, info.width, info.height) == (25.0, 75, 360, 288)
    assert info.has_audio and info.duration == pytest.approx(3.0)


def test_lrs3_mp4(shared_data):
    path = shared_data / "lrs3" / "sample1.mp4"
    frames = read_video(path)
    info = video_info(path)
    assert frames.shape[1:] == (224, 224, 3)
    assert frames.shape[0] == info.num_frames == 146  # 25 fps source: unchanged
    assert info.has_audio


@pytest.mark.parametrize(
    "num_frames, fps", [(45, 30), (31, 30), (34, 30), (10, 10), (50, 50), (25, 25)]
)
def test_resampled_to_25_fps_by_nearest_timestamp(tmp_path, num_frames, fps):
    path = write_index_video(tmp_path / "clip.mkv", num_frames, fps)
    frames = read_video(path, fps=25)
    expected_count = int(np.floor(num_frames / fps * 25 + 0.5))
    assert frames.shape == (expected_count, 16, 32, 3)
    # Output frame j shows the source frame nearest to time j / 25 (ties: the earlier one).
    expected = [min(num_frames - 1, int(np.ceil(j * fps / 25 - 0.5))) for j in range(expected_count)]
    assert [int(f[0, 0, 0]) // 4 for f in frames] == expected
    info = video_info(path)
    assert (info.fps, info.num_frames, info.has_audio) == (fps, num_frames, False)


def test_iter_video_streams_frames(tmp_path):
    path = write_index_video(tmp_path / "clip.mkv", 12, 25)
    frames = iter_video(path)
    assert isinstance(frames, types.GeneratorType)
    assert next(frames).shape == (16, 32, 3)
    assert len(list(frames)) == 11


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="not found"):
        video_info(tmp_path / "nope.mp4")


def test_corrupt_file_raises_input_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InputError, match="broken.mp4"):
        read_video(path)
    with pytest.raises(InputError, match="broken.mp4"):
        video_info(path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "speech.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1600), np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(InputError, match="no video stream"):
        read_video(path)


def test_empty_video_raises_input_error(tmp_path):
    import av

    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "bgr0"
        container.start_encoding()
    with pytest.raises(InputError, match="empty.mkv"):
        read_video(path)


def write_rotated_video(path, degrees, num_frames=3, size=(16, 32), hflip=False, vflip=False):
    """Writes an H.264 mp4 as a phone does: stored pixels ``size`` (height, width) with a
    display matrix turning them ``degrees`` counter-clockwise (and mirroring them, as a
    front camera's video may); the stored top-left quarter is white, a green bar below right
    of the middle (so that every mirror and turn looks different), the rest black."""
    import av

    height, width = size
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = 255
    image[height // 2:, width // 2: width // 2 + 8] = (0, 255, 0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        for _ in range(num_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return image


@pytest.mark.parametrize("degrees, turns", [(-90, 3), (90, 1), (180, 2), (0, 0)])
def test_display_rotation_is_applied(tmp_path, degrees, turns):
    """A phone's portrait clip (landscape pixels, -90 degree display matrix) comes out
    upright: frames turned as FFmpeg shows them, and video_info gives the displayed size."""
    path = tmp_path / "phone.mp4"
    stored = write_rotated_video(path, degrees)
    expected = np.rot90(stored, turns)
    frames = read_video(path)
    assert frames.shape == (3, *expected.shape)
    assert np.abs(frames[0].astype(int) - expected).mean() < 8
    info = video_info(path)
    assert (info.height, info.width) == expected.shape[:2]
    assert info.rotation == 90 * turns


@pytest.mark.parametrize("degrees, hflip, vflip", [
    (-90, False, False), (0, True, False), (0, False, True), (90, True, False),
    (-90, False, True), (180, True, False)])
def test_display_matrix_matches_ffmpeg(tmp_path, degrees, hflip, vflip):
    """The reader shows a turned clip (a phone's portrait) and a mirrored one (a display
    matrix with a flip, as a front camera may write) the way the ffmpeg player does."""
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    path = tmp_path / "phone.mp4"
    write_rotated_video(path, degrees, num_frames=1, size=(16, 48), hflip=hflip, vflip=vflip)
    shown = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(path),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True).stdout
    frame = read_video(path)[0]
    assert frame.shape == ((16, 48, 3) if degrees in (0, 180) else (48, 16, 3))
    reference = np.frombuffer(shown, np.uint8).reshape(frame.shape)
    assert np.abs(frame.astype(int) - reference).mean() < 2
    info = video_info(path)
    assert info.mirrored == (hflip != vflip)
    assert (info.height, info.width) == frame.shape[:2]
