"""TensorBoard previews of generated clips next to the real ones (TensorFlow backend)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np


def preview_strips(real: np.ndarray, fake: np.ndarray, max_clips: int = 4) -> np.ndarray:
    """One image per clip: the real frames in the top row, the generated ones below.

    Args:
        real: ``(B, T, H, W, 3)`` in [-1, 1].
        fake: same shape.
        max_clips: clips to keep.

    Returns:
        ``(min(B, max_clips), 2H, T*W, 3)`` float32 in [0, 1], ready for ``tf.summary.image``.
    """
    real = np.asarray(real, np.float32)[:max_clips]
    fake = np.asarray(fake, np.float32)[:max_clips]
    batch, length, height, width, channels = real.shape

    def row(video):  # (B, T, H, W, C) -> (B, H, T*W, C)
        return video.transpose(0, 2, 1, 3, 4).reshape(batch, height, length * width, channels)

    strips = np.concatenate([row(real), row(fake)], axis=1)
    return np.clip((strips + 1.0) * 0.5, 0.0, 1.0)


class VideoPreview(keras.callbacks.Callback):
    """Writes generated-vs-real strips of a fixed batch to TensorBoard every few epochs.

    The generator runs in inference mode on the same batch each time, so the images show
    training progress on fixed inputs. Uses ``tf.summary.image`` and therefore needs the
    TensorFlow backend.

    Args:
        batch: a batch dict with ``video`` and what the generator reads (numpy).
        log_dir: TensorBoard folder; images go to ``log_dir/previews``.
        every: epochs between previews (>= 1).
        max_clips: clips shown.
    """

    def __init__(self, batch: dict, log_dir, every: int = 1, max_clips: int = 4):
        super().__init__()
        self.batch = {k: np.asarray(v) for k, v in batch.items()}
        self.log_dir = Path(log_dir)
        self.every = max(1, int(every))
        self.max_clips = max_clips
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / "previews"))
        inputs = self.model.generator_inputs(self.batch)
        fake = keras.ops.convert_to_numpy(self.model.generator(inputs, training=False)["video"])
        strips = preview_strips(self.batch["video"], fake, self.max_clips)
        with self._writer.as_default():
            tf.summary.image("real_top_generated_bottom", strips, step=epoch + 1,
                             max_outputs=self.max_clips)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
