"""Export a model for deployment: a TF Serving SavedModel, or a TFLite model for apps.

  lipmotion export saved-model --output MODEL_BASE [--model motion|paper] [--version N]
                               [--checkpoint CKPT]
  lipmotion export tflite -o model.tflite [--model motion|paper] [--part PART]
                          [--quantize none|float16|dynamic|int8] [--calibration-data DIR]
  lipmotion export checkpoint --checkpoint RUN_OR_CKPT -o FOLDER [--dtype float16|float32]
                             [--average N] [--mix-with CKPT [--mix-weight W]] [--ease-in K]

``--model motion`` (the default, as for generate) exports the motion-first pipeline (motion
model and renderer), ``--model paper`` the paper's one-stage generator; without --checkpoint
the shipped model of that kind. TFLite parts: motion, renderer, log_mel (motion model);
generator, log_mel (paper model). See docs/deployment.md for the signatures and how to serve
them.
"""

from __future__ import annotations

import argparse

from lipmotion_tf.cli.generation_options import (
    add_interior_option,
    add_model_options,
    chosen_model,
    refuse_interior,
)

HELP = "export a model as a TF Serving SavedModel or a TFLite model"
QUANTIZE_CHOICES = ("none", "float16", "dynamic", "int8")
MODEL_HELP = ("landmarks then the photo's own pixels (its motion model and renderer)",
              "Chen et al.'s one-stage generator")
#: TFLite parts of each model, the default first.
PARTS = {"motion": ("motion", "renderer", "log_mel"), "paper": ("generator", "log_mel")}
#: Old spellings of --model for the paper model's TFLite parts.
PAPER_PARTS = ("generator", "log_mel")
#: Largest model version TF Serving can load (versions are int64).
MAX_VERSION = 2**63 - 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True

    saved = formats.add_parser(
        "saved-model", help="TF Serving model version folder (MODEL_BASE/N/saved_model.pb)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_model_options(saved, *MODEL_HELP)
    add_interior_option(saved)
    saved.add_argument("--output", "-o", required=True, metavar="MODEL_BASE",
                       help="model base folder (TF Serving's --model_base_path)")
    saved.add_argument("--version", type=int, default=None,
                       help="version number (default: one more than the highest present, or 1)")
    saved.add_argument("--model-name", default="lipmotion",
                       help="model name written into the warm-up requests")
    saved.add_argument("--batch-size", type=int, default=8,
                       help="frames per renderer call (motion) or windows per generator call "
                       "(paper) inside serving_default")
    saved.add_argument("--conv2d", action="store_true",
                       help="paper model: compute the 3-D convolutions as 2-D ones (same "
                       "weights; not faster with TensorFlow on CPU)")
    saved.add_argument("--overwrite", action="store_true", help="replace an existing version")

    lite = formats.add_parser(
        "tflite", help="TFLite (LiteRT) model with builtin operators only",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    lite.add_argument("--model", choices=("auto", "motion", "paper") + PAPER_PARTS,
                      default="auto",
                      help=f"motion: {MODEL_HELP[0]}; paper: {MODEL_HELP[1]}; auto: the "
                      "--checkpoint's kind, else motion; generator and log_mel: old "
                      "spellings of --model paper --part generator|log_mel")
    lite.add_argument("--checkpoint", default=None,
                      help="model folder (default: the shipped model of --model)")
    lite.add_argument("--part", choices=("motion", "renderer", "generator", "log_mel"),
                      default=None,
                      help="motion model: motion (log-mel + rest shape -> motion), renderer "
                      "(float32) or log_mel (the float32 audio front end); paper model: "
                      "generator (the generate_window signature) or log_mel (default: "
                      "motion, or generator)")
    add_interior_option(lite)
    lite.add_argument("--output", "-o", required=True, help="the .tflite file to write")
    lite.add_argument("--quantize", choices=QUANTIZE_CHOICES, default="none",
                      help="weights and activations: float32, float16 weights, int8 weights "
                      "(dynamic range) or int8 weights and activations")
    lite.add_argument("--calibration-data", metavar="DIR", default=None,
                      help="real inputs that calibrate int8: motion data (lipmotion "
                      "prepare-motion) for the motion model, prepared data (lipmotion "
                      "prepare) for the paper model")
    lite.add_argument("--calibration-split", default="train",
                      help="paper model: split of --calibration-data to read (falls back to "
                      "all)")
    lite.add_argument("--calibration-windows", type=int, default=64,
                      help="windows used to calibrate int8 ranges (motion model: one 4 s "
                      "window from each of as many clips)")
    lite.add_argument("--conv3d", action="store_true",
                      help="paper model: keep CONV_3D operators (slow, GBs of memory: no "
                      "XNNPACK kernel)")
    lite.add_argument("--overwrite", action="store_true", help="replace an existing file")

    compact = formats.add_parser(
        "checkpoint", help="a compact generator checkpoint folder (config.yaml + weights) "
        "from a checkpoint or a training run, finished or stopped by its time budget",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    compact.add_argument("--checkpoint", required=True,
                         help="a generator checkpoint folder or a training run folder")
    compact.add_argument("--output", "-o", required=True, help="the folder to write")
    compact.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                         help="how the weights are stored")
    compact.add_argument("--average", type=int, default=1, metavar="N",
                         help="a training run's generator as the mean of its newest N epoch "
                         "checkpoints (a run keeps train.checkpoints_kept of them)")
    compact.add_argument("--mix-with", default=None, metavar="CHECKPOINT",
                         help="interpolate the weights with this generator of the same "
                         "architecture (a checkpoint or run folder): weight-space ensembling "
                         "of a fine-tuned model and the one it started from")
    compact.add_argument("--mix-weight", type=float, default=0.5,
                         help="share of --checkpoint's weights when mixing (the rest: "
                         "--mix-with's)")
    compact.add_argument("--ease-in", type=int, default=None, metavar="FRAMES",
                         help="the data.ease_in written to the config: frames over which "
                         "generated videos ease in from the given image (default: the "
                         "checkpoint's)")
    compact.add_argument("--overwrite", action="store_true",
                         help="replace the checkpoint files of an existing folder")


def run(args: argparse.Namespace) -> int:
    from lipmotion_tf.cli.interrupts import terminate_as_interrupt

    with terminate_as_interrupt():  # a stopped export removes its temporary files
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lipmotion_tf.errors import InputError

    if args.checkpoint is not None and not Path(args.checkpoint).exists():
        raise InputError(f"checkpoint not found: {args.checkpoint}")
    mix_with = getattr(args, "mix_with", None)  # export checkpoint only
    if mix_with is not None and not Path(mix_with).exists():
        raise InputError(f"--mix-with: checkpoint not found: {mix_with}")

    if args.format == "saved-model":
        if args.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
        if args.version is not None and not 1 <= args.version <= MAX_VERSION:
            raise InputError(f"--version must be a whole number from 1 to {MAX_VERSION} "
                             f"(TF Serving's int64), got {args.version}")
        model = chosen_model(args)
        if model == "motion" and args.conv2d:
            raise InputError("--conv2d is for the paper model (--model paper)")
        refuse_interior(args, model)
        return _saved_model(args, model)
    if args.format == "checkpoint":
        return _compact_checkpoint(args)
    model, part = _tflite_model_and_part(args)
    if args.quantize == "int8" and not args.calibration_data:
        what = "motion data DIR (lipmotion prepare-motion)" if model == "motion" else \
            "PREPARED_DIR (real windows)"
        raise InputError(f"--quantize int8 needs --calibration-data {what}")
    if args.calibration_windows < 1:
        raise InputError(f"--calibration-windows must be at least 1, got {args.calibration_windows}")
    if part == "log_mel" and args.quantize != "none":
        raise InputError("the log_mel front end is exported as float32 only (--quantize none)")
    if part == "renderer" and args.quantize != "none":
        raise InputError("the renderer is exported as float32 only (--quantize none): int8 "
                         "activations would put its pixel coordinates on a coarse grid")
    if args.interior != "auto" and part != "renderer":
        raise InputError("--interior is for the motion model's renderer (--part renderer)")
    if model == "motion" and args.conv3d:
        raise InputError("--conv3d is for the paper model (--model paper)")
    if model == "motion":
        return _motion_tflite(args, part)
    return _tflite(args, part)


def _tflite_model_and_part(args: argparse.Namespace) -> tuple[str, str]:
    """``(motion|paper, part)`` that --model, --part and --checkpoint ask for."""
    from lipmotion_tf.errors import InputError

    if args.model in PAPER_PARTS:  # the old --model generator|log_mel
        if args.part is not None and args.part != args.model:
            raise InputError(f"--model {args.model} is the paper model's {args.model} part; "
                             f"it cannot go with --part {args.part}")
        args.part, args.model = args.model, "paper"
    model = chosen_model(args)
    part = args.part or PARTS[model][0]
    if part not in PARTS[model]:
        raise InputError(f"the {model} model has no part {part!r}; choose one of "
                         f"{', '.join(PARTS[model])}")
    return model, part


def _saved_model(args: argparse.Namespace, model: str) -> int:
    from lipmotion_tf.errors import InputError
    from lipmotion_tf.export.saved_model import (
        export_motion_saved_model,
        export_saved_model,
        resolve_version_dir,
    )

    # Fail on the output before the slow part (loading and tracing the model).
    version = int(resolve_version_dir(args.output, args.version, args.overwrite).name)
    if version > MAX_VERSION:  # one more than a version folder already at the limit
        raise InputError(f"the next version of {args.output} would be {version}, beyond TF "
                         f"Serving's {MAX_VERSION}: pass --version")
    if model == "motion":
        from lipmotion_tf.motion.pipeline import choose_interior, motion_checkpoint
        from lipmotion_tf.motion.training import load_motion_generator

        folder = args.checkpoint or motion_checkpoint()
        generator, config = load_motion_generator(folder)
        target = export_motion_saved_model(
            generator, config, args.output, version=version, overwrite=args.overwrite,
            model_name=args.model_name, batch_size=args.batch_size,
            interior=choose_interior(folder, config, args.interior),
        )
        print(f"wrote {target} (motion model; signatures serving_default, motion, render, "
              "log_mel)")
        return 0
    from lipmotion_tf.generate.checkpoint import load_generator

    generator, config = load_generator(args.checkpoint)
    target = export_saved_model(
        generator, config, args.output, version=version, overwrite=args.overwrite,
        model_name=args.model_name, batch_size=args.batch_size, conv2d=args.conv2d,
    )
    print(f"wrote {target} (signatures serving_default, generate_window, log_mel)")
    return 0


def _compact_checkpoint(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from lipmotion_tf.errors import InputError
    from lipmotion_tf.generate.checkpoint import save_generator_npz
    from lipmotion_tf.train.run_generator import load_checkpoint_or_run, mix_generator_weights

    output = Path(args.output)
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not args.overwrite)):
        raise InputError(f"{output} exists and is not empty (--overwrite replaces its files)")
    if args.average < 1:
        raise InputError(f"--average must be at least 1, got {args.average}")
    if args.mix_with is not None and not 0.0 <= args.mix_weight <= 1.0:
        raise InputError(f"--mix-weight must be between 0 and 1, got {args.mix_weight}")
    if args.ease_in is not None and args.ease_in < 0:
        raise InputError(f"--ease-in must be >= 0 frames, got {args.ease_in}")
    generator, config = load_checkpoint_or_run(args.checkpoint, average=args.average)
    how = [f"the mean of {args.average} epoch checkpoints"] if args.average > 1 else []
    if args.mix_with is not None:
        other, _ = load_checkpoint_or_run(args.mix_with)
        mix_generator_weights(generator, other, args.mix_weight, f"--mix-with {args.mix_with}")
        how.append(f"mixed {args.mix_weight:g} : {1 - args.mix_weight:g} with {args.mix_with}")
    if args.ease_in is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                      ease_in=args.ease_in))
        how.append(f"ease-in {args.ease_in} frames")
    files = save_generator_npz(generator, config, output, dtype=args.dtype)
    print(f"wrote {output} ({', '.join(p.name for p in files)} and config.yaml; "
          f"{generator.count_params():,} parameters as {args.dtype}"
          f"{''.join(', ' + part for part in how)})")
    return 0


def _tflite(args: argparse.Namespace, part: str) -> int:
    from lipmotion_tf.export.tflite import (
        calibration_windows_from_prepared,
        check_output_file,
        export_tflite,
    )
    from lipmotion_tf.generate.checkpoint import load_generator

    check_output_file(args.output, args.overwrite)
    generator, config = load_generator(args.checkpoint)
    calibration = None
    if args.quantize == "int8":
        calibration = calibration_windows_from_prepared(
            args.calibration_data, config, args.calibration_windows, args.calibration_split
        )
    result = export_tflite(
        generator, config, args.output, model=part, quantize=args.quantize,
        calibration=calibration, overwrite=args.overwrite, conv2d=not args.conv3d,
    )
    _print_tflite(result)
    return 0


def _motion_tflite(args: argparse.Namespace, part: str) -> int:
    from lipmotion_tf.export.motion_tflite import (
        calibration_from_motion_data,
        export_motion_tflite,
    )
    from lipmotion_tf.export.tflite import check_output_file
    from lipmotion_tf.motion.pipeline import choose_interior, motion_checkpoint
    from lipmotion_tf.motion.training import load_motion_generator

    check_output_file(args.output, args.overwrite)
    folder = args.checkpoint or motion_checkpoint()
    generator, config = load_motion_generator(folder)
    calibration = None
    if args.quantize == "int8":
        calibration = calibration_from_motion_data(args.calibration_data, config,
                                                   args.calibration_windows)
    result = export_motion_tflite(generator, config, args.output, part=part,
                                  quantize=args.quantize, calibration=calibration,
                                  overwrite=args.overwrite,
                                  interior=choose_interior(folder, config, args.interior))
    _print_tflite(result)
    return 0


def _print_tflite(result) -> None:
    note = f", calibrated on {result.calibration_windows} windows" if result.calibration_windows else ""
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, signature {result.signature}, "
          f"{result.quantize}{note}; builtin ops: {', '.join(result.ops)})")
