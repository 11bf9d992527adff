"""The generator's weights saved on their own beside a GAN weights file.

A GAN weights file holds every network (generator, discriminator, FlowNet, correlation
encoders, autoencoder); reading the generator back from it means building all of them and
the GAN. Its generator alone, saved beside it, is read by building the generator only
(:func:`~lipmotion_tf.train.run_generator.latest_generator`).
"""

from __future__ import annotations

from pathlib import Path

import keras

from lipmotion_tf.output_files import write_atomically

GENERATOR_FOLDER = "generator"


def generator_weights_file(gan_weights_file) -> Path:
    """Where the generator of ``gan_weights_file`` is saved alone: the same name in a
    ``generator/`` folder beside it (a folder, not a suffix, so that the stage's
    ``<stage>-epoch*.weights.h5`` globs never match it)."""
    path = Path(gan_weights_file)
    return path.parent / GENERATOR_FOLDER / path.name


def save_generator_weights(generator, gan_weights_file) -> Path:
    """Writes ``generator``'s weights at :func:`generator_weights_file` of ``gan_weights_file``."""
    path = generator_weights_file(gan_weights_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    with write_atomically(path) as temporary:
        generator.save_weights(str(temporary))
    return path


class GeneratorCheckpoint(keras.callbacks.Callback):
    """Saves the GAN's generator alone at every epoch end, beside the epoch checkpoint that
    ``ModelCheckpoint`` writes from the same ``filepath``. Place it after ``ModelCheckpoint``
    and before the pruning.
    """

    def __init__(self, filepath: str):
        super().__init__()
        self.filepath = filepath

    def on_epoch_end(self, epoch, logs=None):
        # ModelCheckpoint's numbering: epochs count from 1 in file names.
        save_generator_weights(self.model.generator, self.filepath.format(epoch=epoch + 1))
