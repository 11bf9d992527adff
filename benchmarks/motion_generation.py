"""Motion-first generation speed: speech -> motion -> the photo's own pixels -> mp4.

    python benchmarks/motion_generation.py [--checkpoint DIR] [--seconds 60] [--image PHOTO]
    python benchmarks/motion_generation.py --tflite [--crop 128] [--seconds 10] [--threads 2] \
        [--calibration-data prepared/motion/train]

Generates ``--seconds`` of speech (the bundled sample repeated) on a photo (default: the
bundled 720x480 face) with the same path as ``lipmotion generate`` (face layout, the photo's
size), and prints the realtime factor, peak resident memory and the per-frame time of each
part: the motion model (whole utterance), the renderer (warp + interior, per batch) and
paste-back + H.264 encoding.

``--tflite`` measures the app's path instead (``lipmotion_tf/export/tflite_motion.py``), on
the photo scaled so that its mouth crop is ``--crop`` pixels: the TFLite float32 pipeline and
the int8 one (the motion model quantized, calibrated on ``--calibration-windows`` clips of
``--calibration-data``; the renderer, learned interior included, stays float32), one frame per
renderer call in the LiteRT interpreter with ``--threads`` threads. It prints frames/s of the
whole pipeline (log-mel model, motion model, rig targets, renderer, paste-back; no video
encoding) and the per-frame milliseconds of each part (medians of the per-frame ones), the
renderer also split into its warp and its mouth interior (each converted alone, timed in one
loop with the whole renderer), and the int8 frames' PSNR against float32's.

Writes JSON with ``--json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "lipmotion_tf" / "assets" / "samples"


#: The renderer's inputs its interior reads (besides the warped crop): the identity crop and
#: the displacement too, since an open identity lends its own teeth.
PAINT_INPUTS = ("crop", "displacement", "inner_lip", "teeth", "colours", "mouth_box")


def main() -> None:
    from lipmotion_tf.cpu_kernels import prefer_onednn

    prefer_onednn()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="motion model (default: shipped)")
    parser.add_argument("--image", default=str(SAMPLES / "face.jpg"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--tflite", action="store_true",
                        help="the TFLite float32 and int8 pipelines at a --crop crop")
    parser.add_argument("--crop", type=int, default=128, help="--tflite: crop side in pixels")
    parser.add_argument("--threads", type=int, default=2, help="--tflite: interpreter threads")
    parser.add_argument("--calibration-data", default="prepared/motion/train",
                        help="--tflite: motion data that calibrates int8 (none: no int8)")
    parser.add_argument("--calibration-windows", type=int, default=64)
    args = parser.parse_args()
    if args.tflite:
        return tflite_benchmark(args)

    import numpy as np
    import soundfile as sf

    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline
    from lipmotion_tf.video.image_io import read_image

    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    length = int(args.seconds * rate)
    speech = np.resize(speech, length).astype(np.float32)
    image = read_image(args.image)
    pipeline = MotionPipeline.from_checkpoint(args.checkpoint, batch_size=args.batch_size)
    started = time.perf_counter()
    rig = FaceRig.from_image(image)
    rig_time = time.perf_counter() - started
    motion = pipeline.motion(speech, rate, rig.rest_motion_input)
    motion_time = time.perf_counter() - started - rig_time
    frames = len(motion)
    render_time = 0.0
    with tempfile.TemporaryDirectory() as folder:
        import soxr

        audio = soxr.resample(speech, rate, pipeline.config.audio.sample_rate)
        height, width = image.shape[:2]
        with Mp4Writer(Path(folder) / "out.mp4", pipeline.fps, width, height, audio,
                       pipeline.config.audio.sample_rate) as writer:
            rendered = pipeline.render(rig, motion)
            while True:
                tick = time.perf_counter()
                frame = next(rendered, None)
                render_time += time.perf_counter() - tick
                if frame is None:
                    break
                writer.write(frame)
    total = time.perf_counter() - started
    result = {
        "machine": platform.processor() or platform.machine(),
        "photo": f"{width}x{height}", "crop": rig.crop_size, "seconds": args.seconds,
        "frames": frames, "wall_s": round(total, 2),
        "realtime_factor": round(args.seconds / total, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rig_s": round(rig_time, 3),
        "motion_ms_per_frame": round(1000 * motion_time / frames, 2),
        "render_and_paste_ms_per_frame": round(1000 * render_time / frames, 2),
        "encode_ms_per_frame": round(1000 * (total - rig_time - motion_time - render_time)
                                     / frames, 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def tflite_benchmark(args) -> None:
    """The ``--tflite`` figures (see the module docstring)."""
    import statistics
    import time

    import cv2
    import numpy as np
    import soundfile as sf

    from lipmotion_tf.export.tflite_motion import TFLiteMotionPipeline
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import motion_checkpoint, renderer_inputs
    from lipmotion_tf.motion.training import load_motion_generator, load_mouth_interior
    from lipmotion_tf.video.image_io import read_image

    generator, config = load_motion_generator(args.checkpoint or motion_checkpoint())
    interior = load_mouth_interior(args.checkpoint or motion_checkpoint(), config)
    photo = read_image(args.image)
    scale = args.crop / FaceRig.from_image(photo).crop_size
    size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    photo = np.ascontiguousarray(cv2.resize(photo, size, interpolation=cv2.INTER_AREA))
    rig = FaceRig.from_image(photo)
    speech, rate = sf.read(SAMPLES / "speech.flac", dtype="float32")
    if rate != config.audio.sample_rate:
        import soxr

        speech = soxr.resample(speech, rate, config.audio.sample_rate)
    speech = np.resize(speech, int(args.seconds * config.audio.sample_rate)).astype(np.float32)

    with tempfile.TemporaryDirectory() as folder:
        models = _tflite_models(generator, config, Path(folder), args, interior)
        pipelines = {quantize: TFLiteMotionPipeline(
            models[f"motion_{quantize}"], models["renderer"], models["log_mel"],
            num_threads=args.threads, config=config)
            for quantize in ("none", "int8") if f"motion_{quantize}" in models}
        from ai_edge_litert.interpreter import Interpreter

        parts = {name: Interpreter(model_path=str(models[name]), num_threads=args.threads)
                 .get_signature_runner(name) for name in ("warp", "paint")}
        from lipmotion_tf.cpu_kernels import cpuinfo_field

        result = {"machine": cpuinfo_field("model name") or platform.machine(),
                  "interior": "drawn" if interior is None else "learned",
                  "photo": f"{photo.shape[1]}x{photo.shape[0]}", "crop": rig.crop_size,
                  "seconds": args.seconds, "threads": args.threads, "pipelines": {}}
        frames_out = {}
        for quantize, pipeline in pipelines.items():
            figures, frames_out[quantize] = _time_pipeline(pipeline, speech, rig)
            result["pipelines"]["float32" if quantize == "none" else "int8"] = figures
        # The renderer and its two halves, each converted alone, frame by frame in one loop
        # (other work on the cores changes the speed from minute to minute), on the float32
        # pipeline's motion.
        motion = pipelines["none"].motion(pipelines["none"].log_mel(speech),
                                          rig.rest_motion_input)
        split = {"renderer": [], "warp": [], "interior": []}
        for frame in motion:
            inputs = renderer_inputs(rig, frame[None])
            tick = time.perf_counter()
            pipelines["none"].render(inputs)
            start = time.perf_counter()
            warped = parts["warp"](**{k: inputs[k] for k in (
                "crop", "basis", "displacement", "mouth_box")})["warped"]
            middle = time.perf_counter()
            parts["paint"](warped=warped, **{k: inputs[k] for k in PAINT_INPUTS})
            split["renderer"].append(1000 * (start - tick))
            split["warp"].append(1000 * (middle - start))
            split["interior"].append(1000 * (time.perf_counter() - middle))
        result["renderer_split_ms_per_frame"] = {
            name: round(statistics.median(values), 2) for name, values in split.items()}
        if "int8" in frames_out:
            error = frames_out["int8"].astype(np.float64) - frames_out["none"]
            mse = float(np.mean(error ** 2))
            result["int8_psnr_vs_float32_db"] = (round(10 * np.log10(255.0 ** 2 / mse), 1)
                                                 if mse else float("inf"))
        result["sizes_bytes"] = {name: path.stat().st_size for name, path in models.items()}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def _tflite_models(generator, config, folder: Path, args, interior=None) -> dict:
    """``{name: .tflite path}``: log_mel, motion_none, motion_int8 (with calibration data),
    renderer, and the renderer's warp and paint halves (with the learned ``interior``
    where there is one)."""
    import tensorflow as tf

    from lipmotion_tf.export.motion_tflite import (
        calibration_from_motion_data,
        convert_motion_to_tflite,
    )
    from lipmotion_tf.export.tflite_convert import convert_function
    from lipmotion_tf.motion.graph_functions import render_specs
    from lipmotion_tf.motion.renderer import MotionRenderer

    contents = {
        "log_mel": convert_motion_to_tflite(generator, config, "log_mel"),
        "motion_none": convert_motion_to_tflite(generator, config, "motion"),
        "renderer": convert_motion_to_tflite(generator, config, "renderer",
                                             interior=interior),
    }
    data = Path(args.calibration_data)
    if args.calibration_data != "none" and data.is_dir():
        calibration = calibration_from_motion_data(data, config, args.calibration_windows)
        contents["motion_int8"] = convert_motion_to_tflite(generator, config, "motion", "int8",
                                                           calibration)
    else:
        print(f"no int8 figures: no motion data at {data} to calibrate on")
    renderer = MotionRenderer(grid_size=64, interior=interior)
    specs = render_specs(64, batch=1)
    warp_specs = [specs[k] for k in ("crop", "basis", "displacement", "mouth_box")]
    paint_specs = [tf.TensorSpec([1, None, None, 3], tf.float32, name="warped")] + [
        specs[k] for k in PAINT_INPUTS]

    def warp(crop, basis, displacement, mouth_box):
        return {"warped": renderer.warp({"crop": crop, "basis": basis,
                                         "displacement": displacement, "mouth_box": mouth_box})}

    def paint(warped, crop, displacement, inner_lip, teeth, colours, mouth_box):
        return {"frames": renderer.paint(warped, {
            "crop": crop, "displacement": displacement, "inner_lip": inner_lip, "teeth": teeth,
            "colours": colours, "mouth_box": mouth_box})}

    contents["warp"] = convert_function(tf.function(warp, input_signature=warp_specs), "warp")
    contents["paint"] = convert_function(tf.function(paint, input_signature=paint_specs),
                                         "paint")
    paths = {}
    for name, content in contents.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(content)
    return paths


def _time_pipeline(pipeline, speech, rig):
    """Frames/s of the whole pipeline and the milliseconds per frame of each part (the
    whole-utterance calls divided by the frames; the per-frame parts' medians, which other
    work on the cores disturbs less than means); and the frames."""
    import statistics
    import time

    import numpy as np

    from lipmotion_tf.motion.pipeline import renderer_inputs

    pipeline.motion(pipeline.log_mel(speech[:44100]), rig.rest_motion_input)  # warm up
    pipeline.render(renderer_inputs(rig, np.zeros((1, 59, 2), np.float32)))
    started = time.perf_counter()
    log_mel = pipeline.log_mel(speech)
    tick = time.perf_counter()
    motion = pipeline.motion(log_mel, rig.rest_motion_input)
    whole = {"log_mel": tick - started, "motion": time.perf_counter() - tick}
    each = {"targets": [], "render": [], "paste": []}
    frames = []
    for frame in motion:
        tick = time.perf_counter()
        inputs = renderer_inputs(rig, frame[None])
        middle = time.perf_counter()
        rendered = pipeline.render(inputs)
        end = time.perf_counter()
        frames.append(rig.paste(rendered))
        each["targets"].append(middle - tick)
        each["render"].append(end - middle)
        each["paste"].append(time.perf_counter() - end)
    total = time.perf_counter() - started
    count = len(motion)
    figures = {"frames": count, "frames_per_s": round(count / total, 1)}
    figures.update({f"{name}_ms_per_frame": round(1000 * value / count, 3)
                    for name, value in whole.items()})
    figures.update({f"{name}_ms_per_frame": round(1000 * statistics.median(values), 3)
                    for name, values in each.items()})
    return figures, np.stack(frames)


if __name__ == "__main__":
    main()
