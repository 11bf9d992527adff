"""The lip-sync judge: whether a video's speech and mouth belong together, and at which offset.

* :mod:`~lipmotion_tf.sync.expert`: :class:`~lipmotion_tf.sync.expert.SyncExpert`, speech and
  mouth-motion embeddings;
* :mod:`~lipmotion_tf.sync.losses`, :mod:`~lipmotion_tf.sync.trainer`,
  :mod:`~lipmotion_tf.sync.training`, :mod:`~lipmotion_tf.sync.config`: its training
  (``lipmotion train --config training/sync.yaml``);
* :mod:`~lipmotion_tf.sync.offset`: the shift search, LSE-D and LSE-C;
* :mod:`~lipmotion_tf.sync.judge`: a trained expert applied to clips of any length;
* :mod:`~lipmotion_tf.sync.check`: ``lipmotion sync-check VIDEO``.
"""
