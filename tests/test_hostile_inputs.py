"""Issue 33's hostile cases: an output that is an input, config values out of range, number
options that make no sense. Each is refused in one line before any work, and fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lipmotion_tf.cli.main import main
from lipmotion_tf.errors import InputError

SOURCE = b"the user's only copy"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lipmotion {command}: error:") and len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(SOURCE)
    return path


def test_check_not_an_input(tmp_path, clip):
    from lipmotion_tf.generate.render import check_not_an_input

    check_not_an_input(tmp_path / "other.mp4", clip, None)
    check_not_an_input(clip.with_name("missing.mp4"), tmp_path / "also_missing.wav")
    os.symlink(clip, tmp_path / "link.mp4")
    os.link(clip, tmp_path / "hard.mp4")
    for output in (clip, tmp_path / "link.mp4", tmp_path / "hard.mp4",
                   tmp_path / "sub" / ".." / "clip.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InputError, match="is also an input"):
            check_not_an_input(output, tmp_path / "speech.wav", clip)
    with pytest.raises(InputError, match="is also an input"):
        check_not_an_input(clip, str(tmp_path / "link.mp4"))  # the input is the symlink


@pytest.mark.parametrize("case", ["generate_audio", "dub_video", "dub_audio", "dub_symlink"])
def test_output_that_is_an_input_is_refused(case, tmp_path, clip, capsys):
    other = tmp_path / "speech.wav"
    other.write_bytes(b"speech")
    if case == "generate_audio":
        command, args = "generate", ["--model", "paper", "--audio", str(clip), "-o", str(clip)]
    elif case == "dub_video":
        command, args = "dub", ["--video", str(clip), "--audio", str(other), "-o", str(clip)]
    elif case == "dub_audio":
        command, args = "dub", ["--video", str(other), "--audio", str(clip), "-o", str(clip)]
    else:
        os.symlink(clip, tmp_path / "link.mp4")
        command, args = "dub", ["--video", str(clip), "--audio", str(other),
                                "-o", str(tmp_path / "link.mp4")]
    assert main([command, *args]) == 2
    err = _one_line_error(capsys, command)
    assert "is also an input" in err, err
    assert clip.read_bytes() == SOURCE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary


# --- config values ------------------------------------------------------------------------

BAD_OVERRIDES = {
    "optimizer.learning_rate=-1": "optimizer.learning_rate",
    "optimizer.learning_rate=0": "optimizer.learning_rate",
    "optimizer.learning_rate=nan": "optimizer.learning_rate",
    "optimizer.flownet_learning_rate=inf": "optimizer.flownet_learning_rate",
    "optimizer.discriminator_learning_rate=nan": "optimizer.discriminator_learning_rate",
    "optimizer.beta_1=7": "optimizer.beta_1",
    "optimizer.beta_2=1": "optimizer.beta_2",
    "optimizer.beta_1=-0.1": "optimizer.beta_1",
    "optimizer.correlation_weight_decay=-1": "optimizer.correlation_weight_decay",
    "train.steps_per_epoch=-3": "train.steps_per_epoch",
    "train.validation_steps=-1": "train.validation_steps",
    "audio.fps=0": "audio.fps",
    "audio.hop_length=0": "audio.hop_length",
    "audio.sample_rate=-44100": "audio.sample_rate",
    "audio.amin=0": "audio.amin",
    "seed=-1": "seed",
    "seed=99999999999": "seed",
    "loss.perceptual=inf": "loss.perceptual",
    "data.crop_scale=0": "data.crop_scale",
    "data.val_fraction=-0.5": "data.val_fraction",
    "data.source_weights=1,inf": "data.source_weights",
    "seed=1e400": "seed",
}


@pytest.mark.parametrize("override", sorted(BAD_OVERRIDES))
def test_config_value_out_of_range_is_refused(override):
    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError

    with pytest.raises(ConfigError, match=BAD_OVERRIDES[override].replace(".", r"\.")):
        load_config(overrides=[override])


def _all_keys(instance, prefix=""):
    import dataclasses

    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if dataclasses.is_dataclass(value):
            yield from _all_keys(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}"


HOSTILE_VALUES = [float("nan"), float("inf"), float("-inf"), -1, 0, 1, 0.5, 7, 1e308, 2**70,
                  -(2**70), True, None, "abc", "", [], [1.0], {"a": 1}]


def test_every_config_key_takes_any_value_or_refuses_it_in_one_line(tmp_path):
    """Every key of the experiment config, fed hostile YAML values: a valid config or a
    ConfigError, never another exception (a table sweep in place of random testing)."""
    import math

    import yaml

    from lipmotion_tf.config import ExperimentConfig, load_config
    from lipmotion_tf.errors import ConfigError

    keys = list(_all_keys(ExperimentConfig()))
    assert len(keys) > 60
    path = tmp_path / "c.yaml"
    accepted = 0
    for key in keys:
        for value in HOSTILE_VALUES:
            content: dict = {}
            node = content
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
            path.write_text(yaml.safe_dump(content))
            try:
                config = load_config(path)
            except ConfigError as error:
                assert "\n" not in str(error), (key, value, str(error))
                continue
            accepted += 1
            # What is accepted is usable: the derived sizes exist, rates are positive.
            assert config.audio.mel_frames_per_frame >= 1, (key, value)
            assert 0 <= config.seed < 2**32
            for name in ("learning_rate", "correlation_learning_rate", "flownet_learning_rate",
                         "flownet_pretrain_learning_rate", "autoencoder_learning_rate"):
                rate = getattr(config.optimizer, name)
                assert 0 < rate < math.inf, (key, value)
            assert 0 <= config.optimizer.beta_1 < 1 and 0 <= config.optimizer.beta_2 < 1
            assert config.train.steps_per_epoch >= 0, (key, value)
    assert accepted > 0


def test_non_utf8_config_and_checkpoint_config_are_named(tmp_path):
    import shutil

    from lipmotion_tf.config import load_config
    from lipmotion_tf.errors import ConfigError
    from lipmotion_tf.generate.checkpoint import checkpoint_config, demo_checkpoint

    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8"):
        load_config(path)
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(demo_checkpoint(), checkpoint)
    (checkpoint / "config.yaml").write_bytes(b"\xff\xfe" + (checkpoint / "config.yaml").read_bytes())
    with pytest.raises(InputError, match=r"config\.yaml: not UTF-8"):
        checkpoint_config(checkpoint)


# --- number options of the commands ---------------------------------------------------------

def test_pack_refuses_a_bad_size_limit_and_a_bad_seed(tmp_path, capsys):
    data = tmp_path / "prepared"
    data.mkdir()
    out = tmp_path / "pack"
    for value in ("nan", "inf", "0", "-1"):
        assert main(["pack", "--data", str(data), "--out", str(out), "--max-mib", value]) == 2
        assert "--max-mib" in _one_line_error(capsys, "pack")
    # The seed is refused with the config, before any data is read.
    assert main(["pack", "--data", str(tmp_path / "missing"), "--out", str(out),
                 "--set", "seed=-1"]) == 2
    assert "seed must be in" in _one_line_error(capsys, "pack")
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--minutes", "inf"], "--minutes"),
    (["--holdout", "1.5"], "--holdout"),
])
def test_adapt_refuses_bad_numbers_before_loading(args, words, tmp_path, capsys, monkeypatch):
    import lipmotion_tf.generate.checkpoint as checkpoint

    def not_yet(*_args, **_kwargs):
        raise AssertionError("the model was loaded before the numbers were checked")

    monkeypatch.setattr(checkpoint, "load_generator", not_yet)
    video = tmp_path / "person.mp4"
    video.write_bytes(b"not read")
    out = tmp_path / "adapted"
    assert main(["adapt", "--video", str(video), "-o", str(out), *args]) == 2
    assert words in _one_line_error(capsys, "adapt")
    assert not out.exists()


def test_export_refuses_a_version_beyond_int64(tmp_path, capsys):
    base = tmp_path / "models"
    assert main(["export", "saved-model", "--output", str(base), "--version",
                 str(2**63)]) == 2
    assert "--version" in _one_line_error(capsys, "export")
    last = base / str(2**63 - 1)  # a version at the limit: the next would pass it
    last.mkdir(parents=True)
    (last / "saved_model.pb").write_bytes(b"")
    assert main(["export", "saved-model", "--output", str(base)]) == 2
    assert "beyond" in _one_line_error(capsys, "export")
    assert sorted(p.name for p in base.iterdir()) == [str(2**63 - 1)]
