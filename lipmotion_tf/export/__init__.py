"""Deployment: TF Serving SavedModel (with warm-up requests) and TFLite models.

* :mod:`~lipmotion_tf.export.saved_model`: ``export_saved_model`` writes a TF Serving model
  version folder with the signatures of
  :class:`~lipmotion_tf.export.serving_functions.ServingFunctions`.
* :mod:`~lipmotion_tf.export.tflite`: ``export_tflite`` converts the fixed-window signatures to
  a builtin-ops-only TFLite model (float32, float16, dynamic-range or int8).
* :mod:`~lipmotion_tf.export.tflite_generator`: any-length generation with the TFLite
  models (LiteRT and numpy only), as an app runs them.

Modules import TensorFlow only when their functions run.
"""
