"""The paper's ablation study (Table 2): train each variant, evaluate them all into one table.

Each variant is a named preset of :mod:`lipmotion_tf.train.ablations` applied to one base
experiment (the ``--config`` file, then the preset's overrides, then ``--set`` overrides):
the full model, and the model without the correlation loss, with the non-derivative
correlation, with a two-stream or a frame-difference discriminator, or without the
perceptual loss. Every variant is trained with the project's
training runner (:func:`lipmotion_tf.train.runner.train`) on the train split into
``OUT/runs/<variant>``, then all of them are measured together by
:func:`~lipmotion_tf.evaluation.evaluator.evaluate_generators` on the evaluation split, so
the real-side work (video decoding, real landmarks) is done once and every variant sees the
same clips, identities and backgrounds. The table has one row per variant after the ground
truth and the static baseline.

A variant whose run folder already holds its generator is not trained again, and the training
runner resumes a variant cut short from its last finished stage, so an interrupted ablation
goes on where it stopped. A run folder that holds a run of another configuration is refused
(its finished stages would otherwise be reused).
"""

from __future__ import annotations

from pathlib import Path

from lipmotion_tf.errors import ConfigError, InputError

RUNS_DIR = "runs"


def variant_names() -> list[str]:
    """Preset names, in the order the table lists them."""
    from lipmotion_tf.train.ablations import ABLATIONS

    return list(ABLATIONS)


def variant_config(config_path, name: str, overrides=()):
    """The experiment of variant ``name``: the file, then the preset, then ``overrides``.

    The preset's overrides come before the caller's, as ``lipmotion train`` applies them; the
    experiment is named ``<name in the file>-<variant>``.

    Raises:
        ConfigError: an unknown variant, or a bad file or override.
    """
    from lipmotion_tf.config import load_config
    from lipmotion_tf.train.ablations import ablation_overrides

    config = load_config(config_path, ablation_overrides(name) + list(overrides))
    config.name = f"{config.name}-{name}"
    return config


def _needs_training(run_dir: Path, config) -> bool:
    """Whether ``run_dir`` still lacks the variant's generator.

    Raises:
        ConfigError: the folder holds a run of another configuration (the training runner
            would reuse its finished stages).
    """
    from lipmotion_tf.config import read_yaml
    from lipmotion_tf.generate.checkpoint import CONFIG_NAME, KERAS_NAME

    saved_path = run_dir / CONFIG_NAME
    if saved_path.is_file():
        try:
            saved = read_yaml(saved_path)
        except ConfigError:  # unreadable: not this configuration's run
            saved = None
        if saved != config.to_dict():
            raise ConfigError(
                f"{run_dir} holds a run of another configuration: remove it or choose another --out"
            )
    return not (run_dir / KERAS_NAME).is_file()


def run_ablation(
    config_path,
    data_dir,
    out_dir,
    variants: list[str] | None = None,
    overrides=(),
    stages=("flow", "autoencoder", "gan"),
    split: str = "test",
    limit: int | None = None,
    video_dirs=(),
    batch_size: int = 8,
    examples: int = 3,
    progress: bool = True,
    background: str = "first_frame",
):
    """Trains every variant and writes one report (``lipmotion evaluate --ablation``).

    Args:
        config_path: base experiment YAML (None: the defaults).
        data_dir: prepared folder; variants train on its train split.
        out_dir: report folder; runs go to ``out_dir/runs/<variant>``.
        variants: preset names (default: all, in table order).
        overrides: ``section.key=value`` overrides of the base experiment.
        stages: training stages to run for each variant.
        split, limit, video_dirs, examples, progress, background: evaluation settings, as
            :func:`~lipmotion_tf.evaluation.evaluator.evaluate_generators`.
        batch_size: windows per generator call during evaluation.

    Returns:
        The report and the paths of its files.

    Raises:
        ConfigError: a bad base experiment or unknown variant.
        DataError, InputError, TrainingError: from training or evaluation, one line each.
    """
    from lipmotion_tf.evaluation.evaluator import check_generator_matches, evaluate_generators
    from lipmotion_tf.evaluation.report import write_report
    from lipmotion_tf.generate.checkpoint import load_generator
    from lipmotion_tf.generate.pipeline import LipMotionPipeline

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"report folder {out_dir} exists and is not a folder")
    names = list(variants) if variants else variant_names()
    if len(set(names)) != len(names):
        raise ConfigError(f"a variant is listed twice: {', '.join(names)}")
    # Every variant's configuration and run folder is checked before any training starts.
    configs = {name: variant_config(config_path, name, overrides) for name in names}
    runs = {name: out_dir / RUNS_DIR / name for name in names}
    todo = [name for name in names if _needs_training(runs[name], configs[name])]

    from lipmotion_tf.train.runner import parse_stages, train

    stages = parse_stages(stages)
    if todo and "gan" not in stages:
        raise ConfigError(f"variant {todo[0]} has no trained generator yet and --stages leaves out gan")
    for name in todo:
        train(configs[name], data_dir, runs[name], stages=tuple(stages), verbose="auto" if progress else 0,
              log=lambda line, name=name: print(f"ablation {name}: {line}", flush=True))
    pipelines = {}
    for name, run_dir in runs.items():
        generator, config = load_generator(run_dir)
        check_generator_matches(generator, config, run_dir)
        pipelines[name] = LipMotionPipeline(generator, config, batch_size=batch_size)
    report = evaluate_generators(
        pipelines, data_dir, split=split, limit=limit, video_dirs=video_dirs, examples=examples,
        progress=progress, background=background,
        info={"checkpoints": {name: str(path) for name, path in runs.items()},
              "ablation": {"config": None if config_path is None else str(config_path),
                           "overrides": list(overrides), "stages": list(stages)}},
    )
    return report, write_report(report, out_dir)
