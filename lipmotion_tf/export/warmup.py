"""TF Serving warm-up requests: ``assets.extra/tf_serving_warmup_requests``.

TensorFlow Serving replays the requests of this file when it loads a model version
(``--enable_model_warmup``, on by default) so that graph optimisation and memory allocation
happen before the first real request. The format is TF Serving's documented one: a TFRecord
file of ``tensorflow.serving.PredictionLog`` protos, each holding a ``PredictLog`` with its
``PredictRequest`` (at most 1000 records). ``lipmotion serve`` replays the same file.
"""

from __future__ import annotations

from pathlib import Path

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def warmup_path(version_dir: str | Path) -> Path:
    """Where a model version keeps its warm-up requests."""
    return Path(version_dir) / WARMUP_DIR / WARMUP_FILE


def warmup_inputs(config, seed: int = 0) -> dict:
    """``{signature: {input: numpy array}}``: one small, realistic request per signature.

    0.64 s of quiet noise and a mid-grey lip image (their content does not matter, only
    their shapes and dtypes).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    window = config.data.window
    samples = window * config.audio.samples_per_frame
    size = config.data.image_size
    waveform = (0.05 * rng.standard_normal(samples)).astype(np.float32)
    return {
        "serving_default": {
            "waveform": waveform,
            "image": np.full((size, size, 3), 128, np.uint8),
        },
        "generate_window": {
            "log_mel": rng.uniform(-60.0, 0.0, (1, window * config.audio.mel_frames_per_frame,
                                                config.audio.n_mels)).astype(np.float32),
            "image": np.zeros((1, size, size, 3), np.float32),
        },
        "log_mel": {"waveform": waveform},
    }


def motion_warmup_inputs(config, grid_size: int = 64, seed: int = 0) -> dict:
    """The motion model's warm-up requests: one per signature, on the bundled face photo's
    mouth region (its rig, found with mediapipe here) and 0.64 s of quiet noise. The photo
    is cut to the crop (origin 0, 0) to keep the file small; the basis of the 64x64 warp
    grid is most of it (about 1.8 MB a request)."""
    import numpy as np

    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import renderer_inputs
    from lipmotion_tf.motion.rig_tensors import rig_from_tensors, rig_tensors
    from lipmotion_tf.video.image_io import read_image

    rng = np.random.default_rng(seed)
    photo = read_image(Path(__file__).resolve().parents[1] / "assets" / "samples" / "face.jpg")
    rig = FaceRig.from_image(photo, grid_size=grid_size, source="the bundled face photo")
    tensors = rig_tensors(rig)
    tensors["origin"] = np.zeros(2, np.int32)
    x0, y0 = rig.origin
    image = np.ascontiguousarray(photo[y0:y0 + rig.crop_size, x0:x0 + rig.crop_size])
    frames = 16
    samples = frames * config.audio.samples_per_frame
    waveform = (0.05 * rng.standard_normal(samples)).astype(np.float32)
    log_mel = rng.uniform(-60.0, 0.0, (1, frames * config.audio.mel_frames_per_frame,
                                       config.audio.n_mels)).astype(np.float32)
    still = np.zeros((1, rig.rest.shape[0], 2), np.float32)
    render = renderer_inputs(rig_from_tensors(image, tensors), still)
    return {
        "serving_default": {"waveform": waveform, "image": image, **tensors},
        "motion": {"log_mel": log_mel, "rest": rig.rest_motion_input[None]},
        "render": render,
        "log_mel": {"waveform": waveform},
    }


def write_warmup_requests(path: str | Path, model_name: str, requests: dict) -> Path:
    """Writes ``{signature: {input: array}}`` as a TF Serving warm-up file.

    Args:
        path: the file to write (its folder is created).
        model_name: the model name put in each request's ``model_spec``.
        requests: inputs per signature name.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(path: str | Path) -> list:
    """The ``PredictRequest`` s of a warm-up file, in order (empty when there is no file)."""
    path = Path(path)
    if not path.is_file():
        return []
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") == "predict_log":
            requests.append(log.predict_log.request)
    return requests
