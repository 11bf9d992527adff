"""lipmotion_tf: lip movements generation from speech and one lip image (Chen et al., ECCV 2018).

Importing the package is cheap: TensorFlow, Keras, mediapipe and librosa are imported only by
the modules that need them, so ``lipmotion --help`` answers at once.
"""

__version__ = "0.1.0"
