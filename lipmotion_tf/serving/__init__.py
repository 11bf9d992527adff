"""gRPC serving: a TensorFlow Serving compatible PredictionService and its client.

* :class:`~lipmotion_tf.serving.served_model.ServedModel`: the newest version of an exported
  model, loaded, with its signatures and request checks.
* :class:`~lipmotion_tf.serving.servicer.PredictionServicer`: ``Predict`` and
  ``GetModelMetadata`` on the real ``tensorflow_serving.apis`` protos.
* :class:`~lipmotion_tf.serving.server.ModelServer`: the grpcio server ``lipmotion serve`` runs.
* :func:`~lipmotion_tf.serving.model_config.read_model_config_file`: the model and version a
  TF Serving ``models.config`` names (``lipmotion serve --model-config-file``).
* :class:`~lipmotion_tf.serving.client.LipMotionClient`: a client for it and for TensorFlow
  Serving itself.
* :func:`~lipmotion_tf.serving.load_test.run_load_test`: concurrent clients with malformed
  requests mixed in.
"""
