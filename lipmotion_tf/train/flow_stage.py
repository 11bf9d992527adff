"""Stage 1: fine-tune FlowNet on lip clips against OpenCV Farneback flow.

The paper fine-tunes a FlyingChairs FlowNet on its data; the authors' fine-tuning script
(``ft_grid_flow.py``) uses Farneback flow of the 64x64 grayscale lip frames, divided by 20,
as the target and FlowNet's multiscale end-point error as the loss. No FlyingChairs
pre-training is possible offline, so this stage trains FlowNet on the Farneback targets
alone.

Targets are computed on the CPU: inside ``tf.data`` with ``tf.numpy_function``
(:func:`add_flow_targets`) or directly in numpy for the JAX backend
(:func:`flow_pairs_and_targets`).
"""

from __future__ import annotations

import keras
import numpy as np

from lipmotion_tf.video.pixels import to_uint8
from lipmotion_tf.train.losses import (
    FLOW_SCALE_WEIGHTS,
    downsample_flow,
    endpoint_error,
    multiscale_endpoint_error,
    scale_for_replicas,
)

#: OpenCV Farneback settings of the authors' data loader: pyr_scale, levels, winsize,
#: iterations, poly_n, poly_sigma, flags.
FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)
#: Divisor of Farneback flows (pixels) before they are used as targets.
FLOW_SCALE = 20.0


def _to_gray_uint8(frames: np.ndarray) -> np.ndarray:
    """``(..., H, W, 3)`` RGB in [-1, 1] to ``(..., H, W)`` uint8 gray (ITU-R 601 luma)."""
    rgb = to_uint8(np.asarray(frames, np.float32)).astype(np.float32)
    gray = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def farneback_clip_flows(video: np.ndarray) -> np.ndarray:
    """Farneback flow of every consecutive frame pair, divided by :data:`FLOW_SCALE`.

    Args:
        video: ``(B, T, H, W, 3)`` float in [-1, 1].

    Returns:
        ``(B, T - 1, H, W, 2)`` float32: the (dx, dy) displacement from frame t to t + 1.
    """
    import cv2

    gray = _to_gray_uint8(video)
    batch, length, height, width = gray.shape
    flows = np.empty((batch, length - 1, height, width, 2), np.float32)
    for b in range(batch):
        for t in range(length - 1):
            flows[b, t] = cv2.calcOpticalFlowFarneback(
                gray[b, t], gray[b, t + 1], None, *FARNEBACK_PARAMS
            )
    return flows / FLOW_SCALE


def flow_pairs_and_targets(batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """Numpy version of :func:`add_flow_targets` for one batch (JAX backend)."""
    video = np.asarray(batch["video"], np.float32)
    b, t, h, w, _ = video.shape
    pairs = np.concatenate([video[:, :-1], video[:, 1:]], axis=-1).reshape(b * (t - 1), h, w, 6)
    targets = farneback_clip_flows(video).reshape(b * (t - 1), h, w, 2)
    return pairs, targets


def add_flow_targets(dataset):
    """Maps a ``tf.data`` dataset of window batches to ``(pairs, farneback_targets)``.

    ``pairs`` is ``(B * (T - 1), H, W, 6)``, the targets ``(B * (T - 1), H, W, 2)``.
    """
    import tensorflow as tf

    def to_pairs(batch):
        video = batch["video"]
        targets = tf.numpy_function(farneback_clip_flows, [video], tf.float32, stateful=False)
        shape = tf.shape(video)
        count = shape[0] * (shape[1] - 1)
        height, width = video.shape[2], video.shape[3]
        targets = tf.reshape(targets, [count, height, width, 2])
        pairs = tf.reshape(
            tf.concat([video[:, :-1], video[:, 1:]], axis=-1), [count, height, width, 6]
        )
        return pairs, targets

    return dataset.map(to_pairs, num_parallel_calls=tf.data.AUTOTUNE)


@keras.saving.register_keras_serializable(package="lipmotion")
class FlowStage(keras.Model):
    """FlowNet trained on frame pairs against Farneback targets with the multiscale EPE.

    Inputs ``(N, H, W, 6)`` frame pairs; targets ``(N, H, W, 2)``. The loss is
    :func:`~lipmotion_tf.train.losses.multiscale_endpoint_error` (weights 0.005, 0.01,
    0.02, 0.08, 0.32, finest first), given to Keras through ``compute_loss`` so that the
    stock ``train_step`` of every backend (and its loss scaling and distribution) runs it.
    Besides ``loss`` it logs ``epe``: the end-point error of the finest flow.

    Args:
        flownet: the ``FlowNet`` to train.
        scale_weights: weight of each FlowNet output, finest first.
    """

    def __init__(self, flownet, scale_weights=FLOW_SCALE_WEIGHTS, **kwargs):
        super().__init__(**kwargs)
        self.flownet = flownet
        self.scale_weights = tuple(float(w) for w in scale_weights)
        self.epe_metric = keras.metrics.Mean(name="epe")

    def call(self, pairs, training=False):
        return self.flownet(pairs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        finest = y_pred[0]
        target = downsample_flow(keras.ops.cast(y, "float32"), finest.shape[1], finest.shape[2])
        self.epe_metric.update_state(endpoint_error(finest, target))
        return scale_for_replicas(multiscale_endpoint_error(y_pred, y, self.scale_weights))

    def get_config(self):
        config = super().get_config()
        config.update(
            flownet=keras.saving.serialize_keras_object(self.flownet),
            scale_weights=list(self.scale_weights),
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["flownet"] = keras.saving.deserialize_keras_object(
            config["flownet"], custom_objects=custom_objects
        )
        return cls(**config)
