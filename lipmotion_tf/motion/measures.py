"""Motion measures on landmarks (no rendering): what ``evaluate --motion-only`` reports.

All in the mouth frame (unit: the rest mouth's width), per clip:

* ``lmd``: mean distance of the 40 lip points, generated vs real; ``lmd_static`` the same
  for the rest shape held still (the static baseline), so ``lmd / lmd_static`` < 1 beats it;
* ``sync``: Pearson correlation of the generated and real inner-lip openings at lag 0
  (``sync_best`` / ``sync_lag``: the best within +-5 frames, as the pixel evaluation);
* ``opening_ratio``: std of the generated opening over the real one's;
* ``motion_ratio``: mean frame-to-frame movement of the lip points, generated over real.

With a sync judge (:class:`~lipmotion_tf.sync.judge.SyncJudge`), also the LSE-style measures
of the generated motion, the real motion and the static rest shape under the clip's speech:
``lse_d`` (distance at the best shift; lower is better), ``lse_c`` (confidence: median minus
best; higher is better) and ``av_offset`` (the best shift in frames; 0 is in sync).

Across clips: means of ``lmd``, ``lmd_static``, ``sync`` and the LSE measures, medians of the
two ratios and of the offsets; ``intervals``: 95% bootstrap intervals over the clips of LMD vs
static, sync and the two ratios (:mod:`~lipmotion_tf.evaluation.intervals`).
"""

from __future__ import annotations

import numpy as np

from lipmotion_tf.metrics.lip_sync import sync_correlation
from lipmotion_tf.motion.representation import inner_opening

LIP_POINTS = 40  # the lip set comes first in MOTION_INDICES


def opening(rest: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Inner-lip gap of ``rest + motion`` per frame (mouth widths)."""
    return inner_opening(rest[None] + motion)


def clip_measures(rest: np.ndarray, real: np.ndarray, generated: np.ndarray) -> dict:
    """The measures of one clip (``rest (P, 2)``, ``real`` and ``generated`` ``(T, P, 2)``)."""
    lips = slice(0, LIP_POINTS)
    lmd = float(np.linalg.norm(generated[:, lips] - real[:, lips], axis=-1).mean())
    lmd_static = float(np.linalg.norm(real[:, lips], axis=-1).mean())
    open_real, open_generated = opening(rest, real), opening(rest, generated)
    sync = sync_correlation(open_generated, open_real)
    moving_real = np.linalg.norm(np.diff(real[:, lips], axis=0), axis=-1).mean()
    moving_generated = np.linalg.norm(np.diff(generated[:, lips], axis=0), axis=-1).mean()
    std_real = open_real.std()
    return {
        "frames": int(real.shape[0]),
        "lmd": lmd,
        "lmd_static": lmd_static,
        "sync": float(sync.corr_at_zero),
        "sync_best": float(sync.best_corr),
        "sync_lag": int(sync.best_lag),
        "opening_ratio": float(open_generated.std() / std_real) if std_real > 0 else float("nan"),
        "motion_ratio": float(moving_generated / moving_real) if moving_real > 0 else float("nan"),
    }


#: The motions an evaluation judges for sync, and their key prefixes.
SYNC_SUBJECTS = ("generated", "real", "static")


def sync_measures(judge, log_mel: np.ndarray, motions: dict) -> dict:
    """``{f"{name}_lse_d", f"{name}_lse_c", f"{name}_av_offset"}`` for each ``(T, P, 2)``
    motion of ``motions`` judged against the clip's ``log_mel``."""
    out = {}
    for name, motion in motions.items():
        score = judge.score(log_mel, motion)
        out.update({f"{name}_lse_d": score.lse_d, f"{name}_lse_c": score.lse_c,
                    f"{name}_av_offset": score.offset})
    return out


def summarise(per_clip: list[dict]) -> dict:
    """Across clips: means of LMD and sync, medians of the ratios, and LMD vs static, with
    their bootstrap intervals (``intervals``)."""
    from lipmotion_tf.evaluation.intervals import (
        bootstrap_interval,
        mean_of,
        median_of,
        ratio_of_means,
    )

    def values(key):
        return np.array([c[key] for c in per_clip], float)

    lmds, statics = values("lmd"), values("lmd_static")
    lmd, static = np.nanmean(lmds), np.nanmean(statics)
    out = {
        "clips": len(per_clip),
        "lmd": float(lmd),
        "lmd_static": float(static),
        "lmd_vs_static": float(lmd / static) if static > 0 else float("nan"),
        "sync": float(np.nanmean(values("sync"))),
        "sync_best": float(np.nanmean(values("sync_best"))),
        "opening_ratio": float(np.nanmedian(values("opening_ratio"))),
        "motion_ratio": float(np.nanmedian(values("motion_ratio"))),
        "intervals": {
            "lmd_vs_static": bootstrap_interval(ratio_of_means, lmds, statics),
            "sync": bootstrap_interval(mean_of, values("sync")),
            "opening_ratio": bootstrap_interval(median_of, values("opening_ratio")),
            "motion_ratio": bootstrap_interval(median_of, values("motion_ratio")),
        },
    }
    if per_clip and "generated_lse_d" in per_clip[0]:
        for name in SYNC_SUBJECTS:
            out[f"{name}_lse_d"] = float(np.mean(values(f"{name}_lse_d")))
            out[f"{name}_lse_c"] = float(np.mean(values(f"{name}_lse_c")))
            out[f"{name}_av_offset"] = float(np.median(values(f"{name}_av_offset")))
    return out


def predict_motion(generator, log_mel: np.ndarray, rest: np.ndarray,
                   amplitude: float | None = None) -> np.ndarray:
    """The generator's displacements for one whole utterance: ``(T, P, 2)``; ``amplitude``:
    the speaker's (None: typical), as :class:`~lipmotion_tf.motion.pipeline.MotionPipeline`
    takes it."""
    frames = log_mel.shape[0] // generator.mel_frames_per_frame
    log_mel = log_mel[: frames * generator.mel_frames_per_frame]
    inputs = {"log_mel": log_mel[None].astype(np.float32), "rest": rest[None].astype(np.float32)}
    if amplitude is not None and getattr(generator, "amplitude_input", False):
        inputs["amplitude"] = np.array([[amplitude]], np.float32)
    motion = np.asarray(generator(inputs, training=False))[0]
    return motion * np.float32(generator.motion_gain(amplitude))


def evaluate_sequences(generator, sequences, audio=None, judge=None,
                       amplitude_reference: float | None = None,
                       amplitude: float | None = None) -> dict:
    """Scores the generator on whole clips; also the still-audio check when ``audio`` is given
    and the LSE measures (:func:`sync_measures`) with a ``judge``. With
    ``amplitude_reference``, each clip is generated with its speaker's own amplitude measured
    from its real motion (as ``dub`` measures a video's); with ``amplitude``, with that one;
    else with a typical speaker's.

    Returns:
        ``{"summary": {...}, "clips": {clip_id: {...}}}``; with ``audio``, the summary has
        ``still_max``: the largest displacement (mouth widths) any clip's rest shape gets
        from a recording with no voice (0: the mouth stays at the given shape).
    """
    from lipmotion_tf.motion.dataset import quiet_log_mel, speaking_amplitude

    per_clip = {}
    still = 0.0
    rng = np.random.default_rng(0)
    for sequence in sequences:
        own = (amplitude if amplitude_reference is None else
               speaking_amplitude(sequence.rest, sequence.motion, amplitude_reference))
        generated = predict_motion(generator, sequence.log_mel, sequence.rest, own)
        per_clip[sequence.clip_id] = clip_measures(sequence.rest, sequence.motion, generated)
        if judge is not None:
            per_clip[sequence.clip_id].update(sync_measures(judge, sequence.log_mel, {
                "generated": generated, "real": sequence.motion,
                "static": np.zeros_like(sequence.motion)}))
        if audio is not None:
            quiet = quiet_log_mel(sequence.num_frames, audio, rng)
            moved = predict_motion(generator, quiet, sequence.rest)
            still = max(still, float(np.abs(moved).max()))
    summary = summarise(list(per_clip.values()))
    if audio is not None:
        summary["still_max"] = still
    return {"summary": summary, "clips": per_clip}
