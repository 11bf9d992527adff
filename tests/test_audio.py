"""Audio front end: file loading, the in-graph log-mel and its parity with librosa."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
import soundfile

from lipmotion_tf.audio.loader import audio_duration, load_audio
from lipmotion_tf.audio.log_mel_numpy import log_mel_numpy
from lipmotion_tf.audio.mel_window import mel_window
from lipmotion_tf.config import AudioConfig
from lipmotion_tf.errors import InputError

RATE = 44100


def _test_signal(rate: int, seconds: float = 1.5) -> np.ndarray:
    """A speech-like test signal: a gliding harmonic tone with noise, then 0.1 s of silence."""
    t = np.arange(int(rate * seconds)) / rate
    pitch = 150 + 100 * t / seconds
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    tone = sum(0.2 / k * np.sin(k * phase) for k in range(1, 6))
    noise = 0.02 * np.random.default_rng(0).standard_normal(t.size)
    signal = (tone + noise).astype(np.float32)
    signal[-int(0.1 * rate):] = 0.0
    return signal


def _best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Largest normalised correlation of ``a`` and ``b`` over lags up to ``max_lag`` samples."""
    n = min(a.size, b.size) - max_lag
    best = -1.0
    for lag in range(-max_lag, max_lag + 1, 1):
        x = a[max(lag, 0): max(lag, 0) + n]
        y = b[max(-lag, 0): max(-lag, 0) + n]
        best = max(best, float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12)))
    return best


def _write_aac(path, signal: np.ndarray, rate: int, container_format: str) -> None:
    """Encodes mono ``signal`` as AAC with PyAV (soundfile cannot write m4a)."""
    import av

    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = fractions.Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _write_silent_video(path) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            image = np.full((64, 64, 3), index * 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


# --- loader -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, write_kwargs, min_correlation",
    [
        (".wav", {"subtype": "PCM_16"}, 0.999),
        (".flac", {}, 0.999),
        (".ogg", {"format": "OGG", "subtype": "VORBIS"}, 0.95),
        (".mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}, 0.95),
    ],
)
def test_load_audio_soundfile_formats(tmp_path, suffix, write_kwargs, min_correlation):
    signal = _test_signal(RATE)
    path = tmp_path / f"speech{suffix}"
    soundfile.write(path, signal, RATE, **write_kwargs)
    loaded = load_audio(path, RATE)
    assert loaded.dtype == np.float32 and loaded.ndim == 1
    assert abs(loaded.size - signal.size) < 0.05 * RATE
    assert np.abs(loaded).max() <= 1.0
    assert _best_correlation(loaded, signal, 1200) > min_correlation


@pytest.mark.parametrize("suffix, container_format", [(".m4a", "ipod"), (".mp4", "mp4")])
def test_load_audio_aac_with_pyav(tmp_path, suffix, container_format):
    signal = _test_signal(RATE)
    path = tmp_path / f"speech{suffix}"
    _write_aac(path, signal, RATE, container_format)
    loaded = load_audio(path, RATE)
    assert loaded.dtype == np.float32
    assert abs(loaded.size - signal.size) < 0.05 * RATE
    assert _best_correlation(loaded, signal, 2100) > 0.95


def test_load_audio_averages_stereo_channels(tmp_path):
    signal = _test_signal(RATE)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([signal, np.zeros_like(signal)], axis=1), RATE, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, RATE), signal / 2, atol=1e-7)


def _write_pcm_with_layout(path, data: np.ndarray, rate: int, layout: str) -> None:
    """Writes ``(samples, channels)`` float data as 16-bit PCM with a named channel layout."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout=layout)
        interleaved = np.round(data * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("writer", ["pyav_5.1", "pyav_5.1(side)", "soundfile_6ch"])
def test_surround_dialogue_keeps_its_level(tmp_path, writer):
    """5.1 with the speech in the centre channel (and a loud LFE): the ITU downmix keeps the
    dialogue at its level where the mean of six channels put it 15.6 dB down."""
    rate = 16000
    speech = _test_signal(rate, seconds=0.5) * 0.5
    data = np.zeros((speech.size, 6), np.float32)
    data[:, 2] = speech
    data[:, 3] = 0.5 * np.sin(2 * np.pi * 50 * np.arange(speech.size) / rate)  # LFE rumble
    path = tmp_path / "surround.wav"
    if writer == "soundfile_6ch":  # no channel names: FFmpeg's default 5.1 order
        soundfile.write(path, data, rate, subtype="FLOAT")
    else:
        _write_pcm_with_layout(path, data, rate, writer.split("_", 1)[1])
    loaded = load_audio(path, rate)
    assert abs(_db(loaded) - _db(speech)) < 0.1
    assert _best_correlation(loaded, speech, 10) > 0.99  # the LFE is left out


def test_downmix_weights():
    from lipmotion_tf.audio.loader import downmix_weights

    np.testing.assert_allclose(downmix_weights(("FL", "FR")), [0.5, 0.5])
    np.testing.assert_allclose(downmix_weights(("FC",)), [1.0])
    np.testing.assert_allclose(downmix_weights(("FL", "FR", "FC", "LFE", "BL", "BR")),
                               [0.7071, 0.7071, 1.0, 0.0, 0.5, 0.5])
    seven = downmix_weights(("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"))
    np.testing.assert_allclose(seven[4:], [0.5 / np.sqrt(2)] * 4, rtol=1e-6)
    np.testing.assert_allclose(downmix_weights(("NONE",) * 6), downmix_weights(
        ("FL", "FR", "FC", "LFE", "BL", "BR")))
    np.testing.assert_allclose(downmix_weights(("FL", "FR", "BL", "BR")), [0.25] * 4)  # quad


@pytest.mark.parametrize("suffix", [".wav", ".mkv"])
def test_stereo_that_cancels_uses_one_channel_and_says_so(tmp_path, suffix, capsys):
    rate = 16000
    speech = _test_signal(rate, seconds=0.5) * 0.5
    path = tmp_path / f"inverted{suffix}"
    data = np.stack([speech, -speech], axis=1)
    if suffix == ".wav":  # libsndfile's path
        soundfile.write(path, data, rate, subtype="FLOAT")
    else:  # FFmpeg's path
        _write_pcm_with_layout(path, data, rate, "stereo")
    loaded = load_audio(path, rate)
    assert abs(_db(loaded) - _db(speech)) < 0.1  # not silence
    assert _best_correlation(loaded, speech, 10) > 0.99
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cancel out" in err[0] and str(path) in err[0], err

    # Channels that differ but do not cancel are averaged, silently.
    soundfile.write(path.with_suffix(".ok.wav"), np.stack([speech, 0.2 * speech], 1), rate,
                    subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path.with_suffix(".ok.wav"), rate), 0.6 * speech,
                               atol=1e-6)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("source_rate", [16000, 48000])
def test_load_audio_resamples(tmp_path, source_rate):
    seconds = 1.0
    t_source = np.arange(int(source_rate * seconds)) / source_rate
    path = tmp_path / f"tone_{source_rate}.wav"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 1000 * t_source), source_rate, subtype="FLOAT")
    loaded = load_audio(path, RATE)
    assert loaded.size == pytest.approx(RATE * seconds, abs=2)
    expected = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(loaded.size) / RATE)
    middle = slice(1000, -1000)  # the resampler's edges ramp in and out
    np.testing.assert_allclose(loaded[middle], expected[middle], atol=2e-3)


def test_load_audio_grid_mpg(grid_s1):
    """GRID's MP2 stereo track matches ffmpeg's own decode (imageio-ffmpeg's binary)."""
    import subprocess

    import imageio_ffmpeg

    video = sorted(grid_s1.glob("*.mpg"))[0]
    loaded = load_audio(video, RATE)
    assert loaded.size == pytest.approx(3.0 * RATE, rel=0.02)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(video),
               "-vn", "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    reference = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout,
                              np.float32)
    n = min(loaded.size, reference.size)
    assert _best_correlation(loaded[:n], reference[:n], 2) > 0.999
    assert audio_duration(video) == pytest.approx(3.0, abs=0.1)


def test_load_audio_lrs3_mp4_matches_its_wav(shared_data):
    video = shared_data / "lrs3" / "sample1.mp4"
    wav, rate = soundfile.read(shared_data / "lrs3" / "sample1.wav", dtype="float32")
    loaded = load_audio(video, rate)
    n = min(loaded.size, wav.size)
    assert n > 0.95 * wav.size
    np.testing.assert_allclose(loaded[:n], wav[:n], atol=1e-3)
    assert load_audio(video, RATE).size == pytest.approx(loaded.size * RATE / rate, abs=2)


def test_audio_duration_of_wav(tmp_path):
    path = tmp_path / "a.wav"
    soundfile.write(path, np.zeros(24000, np.float32), 16000)
    assert audio_duration(path) == pytest.approx(1.5)


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "absent.wav", RATE)
    with pytest.raises(InputError, match="not found"):
        audio_duration(tmp_path / "absent.mp4")


def test_directory_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not a file"):
        load_audio(tmp_path, RATE)


_NOISE_BYTES = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".mp4", ".m4a", ".mpg"])
@pytest.mark.parametrize("content", [b"", _NOISE_BYTES], ids=["empty", "noise"])
def test_corrupt_file_is_input_error(tmp_path, suffix, content):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    with pytest.raises(InputError, match="broken"):
        load_audio(path, RATE)


def test_video_without_sound_is_input_error(tmp_path):
    path = tmp_path / "silent_film.mp4"
    _write_silent_video(path)
    with pytest.raises(InputError, match="no audio track"):
        load_audio(path, RATE)
    with pytest.raises(InputError, match="no audio track"):
        audio_duration(path)


def test_empty_audio_is_input_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), RATE)
    with pytest.raises(InputError, match="no audio samples"):
        load_audio(path, RATE)


# --- log-mel ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log_mel_layer():
    from lipmotion_tf.audio.log_mel import LogMelSpectrogram

    return LogMelSpectrogram.from_audio_config(AudioConfig())


def test_log_mel_matches_librosa_on_speech(shared_data, log_mel_layer):
    speech = load_audio(shared_data / "faces" / "F03_C.wav", RATE)[5 * RATE: 13 * RATE]
    ours = np.asarray(log_mel_layer(speech))
    reference = log_mel_numpy(speech, AudioConfig())
    assert ours.shape == reference.shape == (1 + speech.size // 441, 128)
    assert np.abs(ours - reference).max() <= 1e-3


def test_log_mel_matches_librosa_on_synthetic_signal(log_mel_layer):
    signal = _test_signal(RATE, seconds=1.0)
    ours = np.asarray(log_mel_layer(signal[None]))[0]
    reference = log_mel_numpy(signal, AudioConfig())
    assert np.abs(ours - reference).max() <= 1e-3
    assert reference[-3:].max() == pytest.approx(-100.0)  # digital silence sits on the floor


def test_log_mel_shapes(log_mel_layer):
    batch = np.zeros((3, 28224), np.float32) + _test_signal(RATE, 0.64)
    out = np.asarray(log_mel_layer(batch))
    assert out.shape == (3, 65, 128) and out.dtype == np.float32
    assert log_mel_layer.compute_output_shape((None, 28224)) == (None, 65, 128)
    assert np.asarray(log_mel_layer(batch[0])).shape == (65, 128)


def test_mel_window_cuts_continuous_frames(log_mel_layer):
    """Window s of a clip = whole-clip mel frames 4s..4s+63; a standalone window agrees inside."""
    clip = _test_signal(RATE, seconds=1.6)[: 40 * 1764]
    whole = np.asarray(log_mel_layer(clip))
    assert whole.shape[0] == 4 * 40 + 1
    start = 8
    cut = whole[mel_window(start, 16, 4)]
    assert cut.shape == (64, 128)
    standalone = np.asarray(log_mel_layer(clip[1764 * start: 1764 * (start + 16)]))
    assert standalone.shape == (65, 128)
    # Frames whose 1024-sample window stays inside the 0.64 s chunk see the same samples.
    np.testing.assert_allclose(standalone[2:62], cut[2:62], atol=1e-3)
    assert mel_window(0, 16, 4) == slice(0, 64)
    with pytest.raises(ValueError):
        mel_window(-1, 16, 4)


def test_log_mel_config_round_trip(log_mel_layer):
    import keras

    from lipmotion_tf.audio.log_mel import LogMelSpectrogram

    small = LogMelSpectrogram(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40,
                              fmin=20.0, fmax=7600.0, amin=1e-8)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(small))
    assert isinstance(restored, LogMelSpectrogram)
    assert restored.get_config() == small.get_config()
    signal = _test_signal(16000, 0.5)
    np.testing.assert_array_equal(np.asarray(restored(signal)), np.asarray(small(signal)))
    assert np.asarray(small(signal)).shape == (1 + signal.size // 160, 40)


def test_log_mel_stays_float32_under_mixed_precision():
    import keras

    from lipmotion_tf.audio.log_mel import LogMelSpectrogram

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = LogMelSpectrogram()
        out = layer(_test_signal(RATE, 0.3))
    finally:
        keras.config.set_dtype_policy(previous)
    assert out.dtype.name == "float32"


def test_log_mel_converts_to_tflite_builtins(log_mel_layer):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    function = tf.function(log_mel_layer.call,
                           input_signature=[tf.TensorSpec([1, 28224], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], log_mel_layer
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    signal = _test_signal(RATE, 0.64)[None]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], signal)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, np.asarray(log_mel_layer(signal)), atol=1e-3)
