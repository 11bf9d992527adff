"""Motion-first lip generation: speech -> normalised mouth landmarks -> the face's own pixels.

* :mod:`~lipmotion_tf.motion.representation`: the normalised mouth frame (pose removed) and
  the conversions between it and source pixels;
* :mod:`~lipmotion_tf.motion.extract`: landmark trajectories and log-mel of real clips;
* :mod:`~lipmotion_tf.motion.motion_generator`: the speech -> displacement network;
* :mod:`~lipmotion_tf.motion.trainer`: its losses and ``train_step`` under ``keras fit``.
"""
