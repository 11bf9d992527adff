"""Evaluation of generators on prepared clips: the paper's Table 3 measures and the Table 2 ablations.

* :mod:`~lipmotion_tf.evaluation.background_source`: ``BackgroundSource``, the face images
  that lip crops are pasted into for landmark detection (the clip's own video frames, or a
  face photo when the video cannot be found).
* :mod:`~lipmotion_tf.evaluation.clip_measures`: ``ClipMeasures`` and ``measure_clip``, every
  measure of one generated clip against the real one.
* :mod:`~lipmotion_tf.evaluation.evaluator`: ``evaluate_generators`` and
  ``evaluate_checkpoint``, whole clips of a split through the any-length generation path.
* :mod:`~lipmotion_tf.evaluation.report`: ``EvaluationReport`` and ``write_report``
  (``report.json``, ``report.md`` and the figures).
* :mod:`~lipmotion_tf.evaluation.figures`: ``contact_sheet`` and ``mouth_opening_plot``.
* :mod:`~lipmotion_tf.evaluation.ablation`: ``run_ablation``, training and evaluating each
  Table 2 variant into one table.
* :mod:`~lipmotion_tf.evaluation.intervals`: ``bootstrap_interval``, how far a summary over
  clips could move on other clips of their kind (the motion model's reports).

Names are imported from their modules on first use, so ``import lipmotion_tf.evaluation``
imports neither TensorFlow nor mediapipe.
"""

from __future__ import annotations

from lipmotion_tf.lazy_exports import lazy_exports

_EXPORTS = {
    "BackgroundSource": "background_source",
    "Background": "background_source",
    "ClipMeasures": "clip_measures",
    "measure_clip": "clip_measures",
    "evaluate_generators": "evaluator",
    "evaluate_checkpoint": "evaluator",
    "EvaluationReport": "report",
    "write_report": "report",
    "contact_sheet": "figures",
    "mouth_opening_plot": "figures",
    "run_ablation": "ablation",
    "bootstrap_interval": "intervals",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
