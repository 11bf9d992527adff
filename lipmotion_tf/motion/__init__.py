"""Motion-first lip generation: speech -> normalised mouth landmarks -> the face's own pixels.

* :mod:`~lipmotion_tf.motion.representation`: the pose-free mouth frame and its conversions;
* :mod:`~lipmotion_tf.motion.extract` and :mod:`~lipmotion_tf.motion.dataset`: motion data of
  real clips and the training windows;
* :mod:`~lipmotion_tf.motion.motion_generator`, :mod:`~lipmotion_tf.motion.losses`,
  :mod:`~lipmotion_tf.motion.trainer`, :mod:`~lipmotion_tf.motion.training`: the speech ->
  motion network, its losses, ``train_step`` and ``lipmotion train`` for it;
* :mod:`~lipmotion_tf.motion.warp`, :mod:`~lipmotion_tf.motion.renderer`,
  :mod:`~lipmotion_tf.motion.face_rig`: motion -> the photo's own pixels;
* :mod:`~lipmotion_tf.motion.pipeline`, :mod:`~lipmotion_tf.motion.render`,
  :mod:`~lipmotion_tf.motion.dub`: ``generate`` and ``dub`` with the motion model;
* :mod:`~lipmotion_tf.motion.measures`, :mod:`~lipmotion_tf.motion.evaluation`:
  ``evaluate --motion-only``.
"""
