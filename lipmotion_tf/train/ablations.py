"""Named override sets reproducing the switches of the paper's ablation study (Table 2).

Each preset is a list of ``section.key=value`` overrides applied on top of an experiment
file, before any ``--set`` given on the command line. The module imports nothing heavy so
the command line can list the presets in ``--help``.
"""

from __future__ import annotations

from lipmotion_tf.errors import ConfigError

#: name -> (description, overrides). ``full`` is the paper's final model (method (e)).
ABLATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "full": (
        "all four losses, three-stream discriminator (the paper's full model)",
        (),
    ),
    "no_correlation": (
        "without the audio-visual correlation loss",
        ("loss.correlation=0",),
    ),
    "non_derivative_correlation": (
        "correlation of audio features with video frames instead of derivatives with flow",
        ("loss.derivative_correlation=false",),
    ),
    "two_stream": (
        "discriminator with audio and video streams only",
        ("model.discriminator_streams=two",),
    ),
    "frame_diff": (
        "third discriminator stream on frame differences instead of optical flow",
        ("model.discriminator_streams=frame_diff",),
    ),
    "no_perceptual": (
        "without the perceptual loss",
        ("loss.perceptual=0",),
    ),
}


def ablation_overrides(name: str) -> list[str]:
    """The overrides of the preset ``name``.

    Raises:
        ConfigError: unknown preset name.
    """
    if name not in ABLATIONS:
        raise ConfigError(f"unknown ablation '{name}' (choose from {', '.join(ABLATIONS)})")
    return list(ABLATIONS[name][1])


def describe_ablations() -> str:
    """One line per preset: ``name: description``, for help texts."""
    return "; ".join(f"{name}: {text}" for name, (text, _) in ABLATIONS.items())
