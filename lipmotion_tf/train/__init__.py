"""Training: losses, the GAN under ``keras.Model.fit``, the FlowNet and autoencoder stages.

Modules (imported on demand, so ``lipmotion --help`` stays light):

* :mod:`~lipmotion_tf.train.losses`: the paper's losses in ``keras.ops``.
* :mod:`~lipmotion_tf.train.gan`: :class:`LipMotionGAN`, one D and one G update per batch.
* :mod:`~lipmotion_tf.train.flow_stage`, :mod:`~lipmotion_tf.train.autoencoder_stage`:
  the two pre-training stages.
* :mod:`~lipmotion_tf.train.runner`: :func:`train`, the three stages with checkpoints,
  resuming, logs and distribution.
* :mod:`~lipmotion_tf.train.ablations`: the paper's Table 2 presets.
"""
