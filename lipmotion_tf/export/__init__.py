"""Deployment: TF Serving SavedModel (with warm-up requests) and TFLite models.

* :mod:`~lipmotion_tf.export.saved_model`: ``export_saved_model`` (the paper model) and
  ``export_motion_saved_model`` (the motion model) write a TF Serving model version folder
  with the signatures of :class:`~lipmotion_tf.export.serving_functions.ServingFunctions` or
  :class:`~lipmotion_tf.export.motion_functions.MotionServingFunctions`.
* :mod:`~lipmotion_tf.export.tflite`: ``export_tflite`` converts the paper model's
  fixed-window signatures to a builtin-ops-only TFLite model (float32, float16,
  dynamic-range or int8); :mod:`~lipmotion_tf.export.motion_tflite` the motion model's
  motion model, renderer and log-mel front end (through
  :mod:`~lipmotion_tf.export.tflite_convert`).
* :mod:`~lipmotion_tf.export.tflite_generator` and :mod:`~lipmotion_tf.export.tflite_motion`:
  any-length generation with each model's TFLite models (LiteRT and numpy), as an app runs
  them.

Modules import TensorFlow only when their functions run.
"""
