"""``LipMotionClient``: calls an exported model over gRPC (TensorFlow Serving or ``lipmotion serve``).

It speaks TF Serving's PredictionService with the ``tensorflow-serving-api`` messages
(``PredictionServiceStub``, ``PredictRequest``, ``GetModelMetadataRequest``). Every call has a
deadline, and every failure (server not reachable, deadline passed, request refused) becomes a
:class:`ServingError` with one line naming the server and the reason.

Example::

    with LipMotionClient("127.0.0.1:8500") as client:
        frames = client.generate_motion(waveform, SPEECH_SAMPLE_RATE, photo)  # motion model
        frames = client.generate(waveform, SPEECH_SAMPLE_RATE, lip_image)     # paper model
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.config import SPEECH_SAMPLE_RATE
from lipmotion_tf.errors import LipMotionError

# Requests and replies can hold minutes of speech or frames: lift gRPC's 4 MB default.
MAX_MESSAGE_BYTES = 1 << 30


class ServingError(LipMotionError):
    """A gRPC call failed; ``code`` is the ``grpc.StatusCode`` (None before any call)."""

    def __init__(self, message: str, code=None):
        super().__init__(message)
        self.code = code


class LipMotionClient:
    """A PredictionService client for the lip motion model.

    Args:
        target: ``host:port`` of the server.
        model_name: ``model_spec.name`` of the requests.
        timeout: seconds each call may take.
        version: ask for this model version (default: whatever the server serves).
    """

    def __init__(self, target: str = "127.0.0.1:8500", model_name: str = "lipmotion",
                 timeout: float = 60.0, version: int | None = None):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        if timeout <= 0:
            raise ServingError(f"timeout must be positive, got {timeout}")
        self.target = target
        self.model_name = model_name
        self.timeout = float(timeout)
        self.version = version
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ])
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    # -- lifecycle --------------------------------------------------------------------------

    def wait_until_ready(self, timeout: float | None = None) -> None:
        """Blocks until the channel is connected.

        Raises:
            ServingError: the server did not answer within ``timeout`` seconds.
        """
        import grpc

        timeout = self.timeout if timeout is None else timeout
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ServingError(
                f"no gRPC server answered at {self.target} within {timeout:g} s",
                grpc.StatusCode.UNAVAILABLE,
            ) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "LipMotionClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------------

    def predict(self, inputs: dict, signature: str = "serving_default",
                timeout: float | None = None) -> dict:
        """Runs a signature: ``{input: array}`` -> ``{output: numpy array}``.

        Arrays are sent with their own dtype (convert them first: the server refuses a
        wrong one); a ``TensorProto`` value is sent as it is.
        """
        request = self.predict_request(inputs, signature)
        response = self._call(self._stub.Predict, request, timeout)
        return {name: _to_numpy(proto) for name, proto in response.outputs.items()}

    def predict_request(self, inputs: dict, signature: str = "serving_default"):
        """The ``PredictRequest`` :meth:`predict` sends (to log it or send it elsewhere)."""
        import tensorflow as tf
        from tensorflow.core.framework import tensor_pb2
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signature
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        for name, value in inputs.items():
            if not isinstance(value, tensor_pb2.TensorProto):
                value = tf.make_tensor_proto(np.asarray(value))
            request.inputs[name].CopyFrom(value)
        return request

    def generate(self, waveform: np.ndarray, sample_rate: int, image: np.ndarray,
                 model_rate: int = SPEECH_SAMPLE_RATE, timeout: float | None = None) -> np.ndarray:
        """Speech of any length + an RGB uint8 lip image -> uint8 frames ``(T, 64, 64, 3)``.

        The speech is resampled to ``model_rate`` here when it has another rate (the
        ``serving_default`` signature takes the model rate only).
        """
        waveform = np.asarray(waveform, np.float32)
        if waveform.ndim != 1 or waveform.size == 0:
            raise ServingError(f"waveform must be non-empty mono (samples,), got {waveform.shape}")
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ServingError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        if sample_rate != model_rate:
            import soxr

            waveform = soxr.resample(waveform, sample_rate, model_rate).astype(np.float32)
        outputs = self.predict({"waveform": waveform, "image": image}, "serving_default", timeout)
        return outputs["frames"]

    def generate_motion(self, waveform: np.ndarray, sample_rate: int, image: np.ndarray,
                        rig=None, frames_per_request: int | None = None,
                        model_rate: int = SPEECH_SAMPLE_RATE,
                        timeout: float | None = None) -> np.ndarray:
        """Speech + a face photo -> uint8 frames ``(T, H, W, 3)`` of the photo from a served
        motion model (``lipmotion export saved-model --model motion``).

        The photo is rigged here (mediapipe's face mesh:
        :meth:`~lipmotion_tf.motion.face_rig.FaceRig.from_image`) unless ``rig`` is given,
        the server renders the mouth region of every frame, and the crops are pasted back
        here. With ``frames_per_request`` the speech goes through the ``motion`` signature
        (log-mel computed here) and the frames through ``render``, that many a request (for
        speech whose ``serving_default`` answer would pass the server's size limit);
        otherwise one ``serving_default`` request.

        Raises:
            NoFaceError: no face in the photo, or one too small.
            ServingError: the server refused or did not answer.
        """
        from lipmotion_tf.motion.face_rig import FaceRig

        waveform = self._model_rate_speech(waveform, sample_rate, model_rate)
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ServingError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        rig = rig if rig is not None else FaceRig.from_image(image)
        return np.stack([rig.paste(crop) for crop in self.motion_crops(
            waveform, rig, frames_per_request, timeout)])

    def motion_crops(self, waveform: np.ndarray, rig, frames_per_request: int | None = None,
                     timeout: float | None = None):
        """The served mouth-region crops ``(T, S, S, 3)`` uint8 for model-rate speech and a
        rigged photo (see :meth:`generate_motion`), in order."""
        from lipmotion_tf.motion.rig_tensors import rig_tensors

        if frames_per_request is None:
            inputs = {"waveform": waveform, "image": rig.image, **rig_tensors(rig)}
            yield from self.predict(inputs, "serving_default", timeout)["frames"]
            return
        from lipmotion_tf.audio.log_mel_numpy import log_mel_of_frames
        from lipmotion_tf.config import AudioConfig
        from lipmotion_tf.generate.blending import num_output_frames
        from lipmotion_tf.motion.face_rig import crop_to_uint8
        from lipmotion_tf.motion.pipeline import renderer_inputs

        if frames_per_request < 1:
            raise ServingError(f"frames_per_request must be at least 1, got {frames_per_request}")
        audio = AudioConfig()  # the served models' audio front end
        frames = num_output_frames(len(waveform), audio.samples_per_frame)
        log_mel = log_mel_of_frames(waveform, frames, audio)
        motion = self.predict({"log_mel": log_mel[None], "rest": rig.rest_motion_input[None]},
                              "motion", timeout)["motion"][0]
        for first in range(0, len(motion), frames_per_request):
            inputs = renderer_inputs(rig, motion[first:first + frames_per_request])
            yield from crop_to_uint8(self.predict(inputs, "render", timeout)["frames"])

    def _model_rate_speech(self, waveform, sample_rate: int, model_rate: int) -> np.ndarray:
        waveform = np.asarray(waveform, np.float32)
        if waveform.ndim != 1 or waveform.size == 0:
            raise ServingError(f"waveform must be non-empty mono (samples,), got {waveform.shape}")
        if sample_rate != model_rate:
            import soxr

            waveform = soxr.resample(waveform, sample_rate, model_rate).astype(np.float32)
        return waveform

    def generate_window(self, log_mel: np.ndarray, image: np.ndarray,
                        timeout: float | None = None) -> np.ndarray:
        """Batches of log-mel windows ``(B, 64, 128)`` + images ``(B, 64, 64, 3)`` in [-1, 1]
        -> frames ``(B, 16, 64, 64, 3)`` in [-1, 1]."""
        inputs = {"log_mel": np.asarray(log_mel, np.float32), "image": np.asarray(image, np.float32)}
        return self.predict(inputs, "generate_window", timeout)["frames"]

    def metadata(self, timeout: float | None = None) -> dict:
        """The served signatures: ``{name: {"inputs": {...}, "outputs": {...}}}``, each tensor
        as ``(dtype name, shape)`` with None for a free dimension; plus ``"version"``."""
        import tensorflow as tf
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        request.model_spec.name = self.model_name
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        request.metadata_field.append("signature_def")
        response = self._call(self._stub.GetModelMetadata, request, timeout)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)

        def describe(tensors):
            return {
                name: (tf.dtypes.as_dtype(info.dtype).name,
                       tuple(None if d.size < 0 else d.size for d in info.tensor_shape.dim))
                for name, info in tensors.items()
            }

        signatures = {
            name: {"inputs": describe(d.inputs), "outputs": describe(d.outputs)}
            for name, d in signature_map.signature_def.items() if not name.startswith("__")
        }
        return {"version": response.model_spec.version.value, "signatures": signatures}

    def _call(self, method, request, timeout):
        import grpc

        timeout = self.timeout if timeout is None else timeout
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                message = f"cannot reach a server at {self.target} (is it running?)"
            elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
                message = f"{self.target} did not answer within {timeout:g} s"
            else:
                message = f"{self.target} refused the request: {code.name}: {error.details()}"
            raise ServingError(message, code) from None


def _to_numpy(proto) -> np.ndarray:
    import tensorflow as tf

    return tf.make_ndarray(proto)
