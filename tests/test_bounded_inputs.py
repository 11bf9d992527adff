"""Issue 33, the rest: every number option bounded, sizes and lengths refused from headers
before decoding, speech beyond float range refused in every path, a full disk, the umask,
locks, long names, swallowed interrupts and clearer messages. CLI behaviours run in a fresh
``lipmotion`` process; none of them loads a model."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipmotion_tf.cli.main import build_parser, main
from lipmotion_tf.errors import InputError

REPO = Path(__file__).resolve().parents[1]
LIPMOTION = Path(sys.executable).with_name("lipmotion")
SAMPLES = REPO / "lipmotion_tf" / "assets" / "samples"


def run_lipmotion(*args, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """``lipmotion ARGS`` in a fresh process (its stderr as text)."""
    return subprocess.run([str(LIPMOTION), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, **kwargs)


def one_line_refusal(result: subprocess.CompletedProcess, command: str) -> str:
    err = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, err)
    assert err.startswith(f"lipmotion {command}: error:") and len(err.splitlines()) == 1, err
    return err


# --- number options -------------------------------------------------------------------------

def _number_options(parser=None, prefix=()):
    """(command words, option string, dest, type) of every int/float option of every command."""
    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _number_options(sub, (*prefix, name))
        elif action.type in (int, float) and action.option_strings:
            yield prefix, action.option_strings[0], action.dest, action.type


def test_every_number_option_has_a_bound():
    from lipmotion_tf.cli.bounds import BOUNDS

    options = list(_number_options())
    assert len(options) > 30
    missing = [(" ".join(words), option) for words, option, dest, _ in options
               if dest not in BOUNDS]
    assert not missing, f"number options without a range in cli/bounds.py: {missing}"
    for words, option, dest, _ in options:  # the table names the option as the parser does
        assert BOUNDS[dest].option in build_parser_options(words), (words, option)


def build_parser_options(words) -> set[str]:
    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return {s for a in parser._actions for s in a.option_strings}


HOSTILE = ["nan", "inf", "-inf", "-1", "0", "1", "1e12", str(2**70), "-" + str(2**70)]


def test_number_options_take_any_value_or_refuse_it_in_one_line():
    """Every number option of every command, fed hostile values: parsed and in range, or one
    InputError line naming the option (argparse itself refuses what is not a number)."""
    from lipmotion_tf.cli.bounds import BOUNDS, check_number_options

    accepted = refused = 0
    for words, option, dest, kind in _number_options():
        for text in HOSTILE:
            try:
                value = kind(text)
            except ValueError:
                continue  # argparse: "invalid int value"
            args = argparse.Namespace(**{dest: value})
            try:
                check_number_options(args)
            except InputError as error:
                assert "\n" not in str(error) and BOUNDS[dest].option in str(error), error
                refused += 1
                continue
            accepted += 1
            bound = BOUNDS[dest]
            assert value == float("inf") or bound.low <= value <= bound.high, (option, value)
    assert accepted and refused


@pytest.mark.parametrize("args, words", [
    (["generate", "--ease-in", "100000000"], "--ease-in must be a whole number from 0 to 250"),
    (["generate", "--size", "100000"], "--size must be a whole number from 16 to 2048"),
    (["generate", "--max-size", "-5"], "--max-size"),
    (["dub", "--video", "v.mp4", "--audio", "a.wav", "--batch-size", "0"], "--batch-size"),
    (["generate", "--max-duration", "nan"], "--max-duration"),
    (["adapt", "--video", "v.mp4", "-o", "out", "--minutes", "inf"], "--minutes"),
    (["serve", "--model-base-path", "m", "--port", "70000"], "--port"),
])
def test_out_of_range_numbers_are_refused_at_once(args, words, tmp_path):
    err = one_line_refusal(run_lipmotion(*args, cwd=tmp_path), args[0])
    assert words in err, err
    assert not list(tmp_path.iterdir())  # nothing written, no folder made


def test_ease_in_is_bounded_in_the_config_and_the_python_api(generator_and_config):
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    with pytest.raises(ConfigError, match="data.ease_in"):
        load_config(overrides=["data.ease_in=100000000"])
    generator, config = generator_and_config
    with pytest.raises(InputError, match="ease-in"):
        LipMotionPipeline(generator, config, ease_in=100_000_000)


# --- images: pixels from the header, photos scaled down ---------------------------------------

def write_png_header_bomb(path: Path, size: int = 20000) -> Path:
    """A 100-byte PNG whose header declares ``size`` x ``size`` RGB pixels (its pixel data
    is one row: a reader that checks the header refuses it before looking further)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * (1 + 3 * size)))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def png_bomb(tmp_path_factory) -> Path:
    return write_png_header_bomb(tmp_path_factory.mktemp("bomb") / "huge.png")


def test_pixel_limit_is_checked_before_decoding(png_bomb, monkeypatch):
    import cv2

    from lipmotion_tf.video.image_io import read_image

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("the image was decoded before its size was checked")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    assert png_bomb.stat().st_size < 1000
    with pytest.raises(InputError, match="more than the limit of 100 megapixels"):
        read_image(png_bomb)


def test_huge_png_is_refused_by_generate_in_one_line(png_bomb, tmp_path):
    # main() in a fresh process that reports its own peak memory (VmHWM: ru_maxrss would
    # count the pytest process it was forked from).
    code = ("import sys\n"
            "from lipmotion_tf.cli.main import main\n"
            "code = main(sys.argv[1:])\n"
            "peak = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
            "print(peak, file=sys.stderr)\n"
            "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", code, "generate", "--image", str(png_bomb),
                             "-o", str(tmp_path / "out.mp4")], capture_output=True, text=True,
                            timeout=120)
    *lines, peak_kb = result.stderr.strip().splitlines()
    result.stderr = "\n".join(lines)
    assert "100 megapixels" in one_line_refusal(result, "generate")
    assert int(peak_kb) < 300_000  # the 1.2 GB of pixels were never decoded


def test_photo_is_scaled_down_to_max_size(tmp_path):
    from lipmotion_tf.cli.generate import read_photo
    from lipmotion_tf.video.image_io import DEFAULT_MAX_SIZE, read_image, scaled_to

    image = read_image(SAMPLES / "face.jpg")
    large = np.ascontiguousarray(np.tile(image, (6, 9, 1)))  # a 12 MP-class photo
    height, width = large.shape[:2]
    assert max(height, width) > DEFAULT_MAX_SIZE
    small = scaled_to(large, DEFAULT_MAX_SIZE)
    assert max(small.shape[:2]) == DEFAULT_MAX_SIZE
    assert abs(small.shape[1] / small.shape[0] - width / height) < 0.01
    assert scaled_to(large, 0) is large and scaled_to(image, DEFAULT_MAX_SIZE) is image
    import cv2

    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), large[..., ::-1])
    assert max(read_photo(path, 1024).shape[:2]) == 1024
    assert read_photo(path, 0).shape == large.shape


def test_image_folder_and_image_as_audio_are_named(tmp_path):
    result = run_lipmotion("generate", "--image", tmp_path, "-o", tmp_path / "out.mp4")
    assert "is a folder, not an image" in one_line_refusal(result, "generate")
    for command in (["generate"], ["dub", "--video", SAMPLES / "face.jpg"]):
        result = run_lipmotion(*command, "--audio", SAMPLES / "face.jpg",
                               "-o", tmp_path / "out.mp4")
        assert "face.jpg is an image, not audio" in one_line_refusal(result, command[0])


def test_faceless_small_image_taken_as_lip_crop_says_so(generator_and_config, capsys):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    pipeline = LipMotionPipeline(*generator_and_config)
    crop, box = pipeline.identity_from_image(np.full((80, 80, 3), 128, np.uint8))
    assert box is None and crop.shape == (64, 64, 3)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "taking it as an already-cropped lip image" in err


# --- speech: duration from the header, decoding stops at the limit, float range --------------

def write_flac_claiming(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A one-second FLAC whose STREAMINFO header says it lasts ``seconds``."""
    import soundfile

    soundfile.write(str(path), np.zeros(rate, np.float32), rate, format="FLAC")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    word = int.from_bytes(data[18:26], "big")  # rate, channels, depth, 36-bit sample count
    word = (word & ~((1 << 36) - 1)) | int(seconds * rate)
    data[18:26] = word.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def test_three_hour_speech_is_refused_from_its_header(tmp_path, monkeypatch):
    import lipmotion_tf.audio.loader as loader

    path = write_flac_claiming(tmp_path / "long.flac", 3 * 3600)
    assert loader.audio_duration(path) == 3 * 3600

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("the speech was decoded before its duration was checked")

    monkeypatch.setattr(loader, "_read_soundfile", no_decoding)
    monkeypatch.setattr(loader, "_read_pyav", no_decoding)
    with pytest.raises(InputError, match=r"lasts 10800\.0 s, more than the limit of 900 s"):
        loader.load_audio(path, 16000, max_duration=900)
    monkeypatch.undo()
    result = run_lipmotion("generate", "--audio", path, "-o", tmp_path / "out.mp4")
    assert "more than the limit of 900 s" in one_line_refusal(result, "generate")


@pytest.mark.parametrize("suffix", [".wav", ".m4a"])
def test_decoding_stops_at_the_duration_limit(tmp_path, suffix):
    """A header that understates the length (or states none) does not let a long file be
    decoded whole: each decoder stops once past the limit."""
    from lipmotion_tf.audio import loader
    from lipmotion_tf.audio.validation import TooLongError
    from lipmotion_tf.generate.mp4_writer import write_frames

    rate = 16000
    speech = (0.1 * np.sin(np.arange(5 * rate) / 9.0)).astype(np.float32)
    path = tmp_path / f"five{suffix}"
    if suffix == ".wav":
        import soundfile

        soundfile.write(str(path), speech, rate)
        read = lambda limit: loader._read_soundfile(path, limit)  # noqa: E731
    else:
        write_frames(tmp_path / "five.mp4", [np.zeros((16, 16, 3), np.uint8)] * 125, speech,
                     rate)
        (tmp_path / "five.mp4").rename(path)
        read = lambda limit: loader._read_pyav(path, limit=limit)  # noqa: E731
    with pytest.raises(TooLongError, match=r"lasts over [\d.]+ s, more than the limit of 1 s"):
        read(1.0)
    samples, got_rate = read(10.0)
    assert got_rate == rate and abs(len(samples) - 5 * rate) < 2048


def test_speech_beyond_float_range_is_refused_and_near_it_clipped():
    from lipmotion_tf.audio.validation import check_waveform

    with pytest.raises(InputError, match="far outside float speech's"):
        check_waveform(np.full(1000, 3.4e38, np.float32), 16000)
    with pytest.raises(InputError, match="int16 samples are divided by 32768"):
        check_waveform((np.arange(1000) * 30).astype(np.int16), 16000)
    hot = np.linspace(-1.5, 1.5, 1000).astype(np.float32)
    clipped = check_waveform(hot, 16000)
    assert clipped.min() == -1.0 and clipped.max() == 1.0 and hot.max() == np.float32(1.5)


def test_absurd_speech_is_refused_by_the_python_api(generator_and_config):
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    pipeline = LipMotionPipeline(*generator_and_config)
    with pytest.raises(InputError, match="far outside"):
        pipeline.generate(np.full(3 * 1764, 3.4e38, np.float32), 44100,
                          np.zeros((64, 64, 3), np.uint8), is_lip_crop=True)


def test_exported_graph_refuses_absurd_speech_and_unpaired_windows(exported_model_base):
    """What TF Serving runs: the graph itself refuses (INVALID_ARGUMENT to its clients)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exported_model_base / "1"))
    image = tf.zeros((64, 64, 3), tf.uint8)
    for name in ("serving_default", "log_mel"):
        inputs = {"waveform": tf.fill([3 * 1764], 3.4e38)}
        if name == "serving_default":
            inputs["image"] = image
        with pytest.raises(tf.errors.InvalidArgumentError, match="far outside"):
            loaded.signatures[name](**inputs)
    frames = loaded.signatures["serving_default"](
        waveform=tf.fill([3 * 1764], 1.5), image=image)["frames"]  # clipped, not refused
    assert frames.shape[0] == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="one image per log-mel window"):
        loaded.signatures["generate_window"](log_mel=tf.zeros((2, 64, 128)),
                                             image=tf.zeros((1, 64, 64, 3)))


# --- output files: full disk, umask, long names, locks, interrupts ----------------------------

def _limited_file_size():
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_full_disk_while_writing_a_video_is_one_line_and_leaves_nothing(tmp_path):
    """A file system that refuses more bytes (here a file size limit, EFBIG, as ENOSPC and
    EDQUOT are handled) while the video is written and closed: one InputError line, no
    output and no temporary left, in a fresh process."""
    code = ("import sys, numpy as np\n"
            "from lipmotion_tf.errors import InputError\n"
            "from lipmotion_tf.generate.mp4_writer import write_frames\n"
            "rng = np.random.default_rng(0)\n"
            "try:\n"
            "    write_frames(sys.argv[1], rng.integers(0, 255, (25, 128, 128, 3), np.uint8),\n"
            "                 rng.uniform(-0.5, 0.5, 44100).astype(np.float32), 44100)\n"
            "except InputError as error:\n"
            "    sys.exit(f'error: {error}')\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.mp4")],
                            preexec_fn=_limited_file_size, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: cannot write {tmp_path / 'out.mp4'}: File too large"), result.stderr
    assert not list(tmp_path.iterdir())


def test_disk_full_at_close_through_generate_is_one_line(tiny_checkpoint, tmp_path, capsys,
                                                         monkeypatch):
    """ENOSPC from the container's close (the trailer written last) through the CLI."""
    import errno

    import av


    class FullAtClose:
        def __init__(self, container):
            self._container = container

        def __getattr__(self, name):
            return getattr(self._container, name)

        def close(self):
            self._container.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: FullAtClose(real_open(*a, **k))
                        if k.get("mode") == "w" else real_open(*a, **k))
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an older video")
    assert main(["generate", "--model", "paper", "--checkpoint", str(tiny_checkpoint),
                 "--audio", str(SAMPLES / "speech.flac"), "--layout", "lips", "--size", "64",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"lipmotion generate: error: cannot write {out}: No space left on device"
    assert out.read_bytes() == b"an older video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_outputs_honour_the_umask_and_keep_a_private_file_private(tmp_path):
    code = ("import sys\n"
            "from lipmotion_tf.output_files import write_atomically\n"
            "for name in sys.argv[1:]:\n"
            "    with write_atomically(name) as temporary:\n"
            "        temporary.write_text('output')\n")
    private = tmp_path / "private.txt"
    private.write_text("old")
    private.chmod(0o600)
    for umask, name, mode in ((0o077, "new.txt", 0o600), (0o002, "shared.txt", 0o664),
                              (0o022, "private.txt", 0o600)):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True,
                       preexec_fn=lambda umask=umask: os.umask(umask), timeout=60)
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name
    assert private.read_text() == "output"


def test_long_output_names(tmp_path):
    """A name near the file system's limit is written (its temporary takes a shorter name);
    one past it is refused before any work, in one line."""
    from lipmotion_tf.generate.mp4_writer import write_frames

    long = tmp_path / ("v" * 240 + ".mp4")  # 244 bytes
    write_frames(long, [np.zeros((16, 16, 3), np.uint8)] * 3, None, 44100)
    assert [p.name for p in tmp_path.iterdir()] == [long.name]
    result = run_lipmotion("generate", "-o", tmp_path / ("v" * 252 + ".mp4"))
    assert "its name is 256 bytes long, more than the 255" in one_line_refusal(result,
                                                                               "generate")


def test_second_train_into_a_locked_folder_is_refused(tmp_path):
    from lipmotion_tf.output_files import folder_lock

    run = tmp_path / "run"
    with folder_lock(run, "run folder"):
        result = run_lipmotion("train", "--data", tmp_path / "missing", "--output", run)
        assert "another command is writing to the run folder" in one_line_refusal(result,
                                                                                 "train")
    assert not run.exists()  # made for the lock, left empty: removed
    with folder_lock(run):  # released with the first holder
        pass


@pytest.fixture
def ctrl_c_handled():
    """Ctrl-C as an interactive session has it: a suite started with ``nohup`` ignores SIGINT,
    and so would these tests (and their subprocesses)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_swallowed_interrupt_still_stops_the_output(tmp_path, ctrl_c_handled):
    """Ctrl-C raised inside a garbage-collection callback (as JAX's) is printed and dropped
    by Python; the command must still stop before its output is put in place."""
    import gc
    import signal

    from lipmotion_tf.cli.interrupts import terminate_as_interrupt
    from lipmotion_tf.output_files import write_atomically

    fired = []

    def callback(phase, _info):
        if phase == "start" and not fired:
            fired.append(True)
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "model.tflite"
    with terminate_as_interrupt():
        gc.callbacks.append(callback)
        try:
            gc.collect()  # the KeyboardInterrupt is raised in the callback and dropped
        finally:
            gc.callbacks.remove(callback)
        assert fired
        with pytest.raises(KeyboardInterrupt):
            with write_atomically(out) as temporary:
                temporary.write_bytes(b"complete")
    assert not list(tmp_path.iterdir())
    with write_atomically(out) as temporary:  # the next command is not stopped
        temporary.write_bytes(b"complete")
    assert out.read_bytes() == b"complete"


def test_export_tflite_stopped_in_a_gc_callback_exits_130(tmp_path, ctrl_c_handled):
    """The same through ``lipmotion export tflite`` in a fresh process (the conversion
    replaced by one that is interrupted inside a gc callback, then writes its file)."""
    code = ("import gc, signal, sys\n"
            "import lipmotion_tf.export.tflite as tflite\n"
            "import lipmotion_tf.generate.checkpoint as checkpoint\n"
            "from lipmotion_tf.cli.main import main\n"
            "from lipmotion_tf.output_files import write_atomically\n"
            "def interrupted_in_gc(phase, info):\n"
            "    gc.callbacks.clear()\n"
            "    signal.raise_signal(signal.SIGINT)\n"
            "def export(generator, config, output, **kwargs):\n"
            "    gc.callbacks.append(interrupted_in_gc)\n"
            "    gc.collect()\n"
            "    with write_atomically(output) as temporary:\n"
            "        temporary.write_bytes(b'model')\n"
            "    raise AssertionError('the export completed')\n"
            "checkpoint.load_generator = lambda *a, **k: (None, None)\n"
            "tflite.export_tflite = export\n"
            "sys.exit(main(['export', 'tflite', '--model', 'paper', '-o', sys.argv[1]]))\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model.tflite")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "lipmotion export: interrupted"
    assert not list(tmp_path.iterdir())
