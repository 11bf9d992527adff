"""Bootstrap intervals over clips (``lipmotion_tf.evaluation.intervals``) and where the
reports show them."""

from __future__ import annotations

import numpy as np

from lipmotion_tf.evaluation.intervals import (
    bootstrap_interval,
    format_interval,
    mean_of,
    median_of,
    ratio_of_means,
)


def test_an_interval_holds_the_summary_and_narrows_with_more_clips():
    rng = np.random.default_rng(3)
    few, many = rng.normal(0.4, 0.2, 10), rng.normal(0.4, 0.2, 400)
    low, high = bootstrap_interval(mean_of, few)
    assert low < few.mean() < high
    many_low, many_high = bootstrap_interval(mean_of, many)
    assert many_low < 0.4 < many_high
    assert many_high - many_low < (high - low) / 3  # ~ 1 / sqrt(n)
    # Redrawn with the same seed: the same interval.
    assert bootstrap_interval(mean_of, few) == [low, high]


def test_paired_columns_are_redrawn_together():
    """LMD against the static baseline's: a clip's two LMDs stay together, so a model that is
    always 0.5 of the baseline has an interval of exactly 0.5 however the clips vary."""
    static = np.random.default_rng(0).uniform(0.5, 3.0, 30)
    low, high = bootstrap_interval(ratio_of_means, 0.5 * static, static)
    assert np.isclose(low, 0.5) and np.isclose(high, 0.5)


def test_medians_nans_and_no_clips():
    values = np.array([1.0, 2.0, np.nan, 3.0, 4.0])
    low, high = bootstrap_interval(median_of, values)
    assert 1.0 <= low <= 2.5 <= high <= 4.0
    assert np.isnan(bootstrap_interval(mean_of, [])).all()
    assert np.isnan(bootstrap_interval(mean_of, [np.nan, np.nan])).all()
    assert format_interval([float("nan"), 1.0]) == "-"
    assert format_interval([0.812, 0.874]) == "0.81 to 0.87"


def test_the_video_summary_gives_intervals_and_the_difference_from_the_still_photo():
    from lipmotion_tf.motion.video_evaluation import MEASURES, interval_lines, summarise

    rng = np.random.default_rng(1)
    clips = []
    for _ in range(12):
        still = {measure: float(rng.uniform(20, 30)) for measure in MEASURES}
        generated = {measure: value - 0.5 for measure, value in still.items()}
        clips.append({"generated": generated, "still": still})
    summary = summarise(clips)
    psnr = summary["intervals"]["generated"]["psnr"]
    assert psnr[0] < summary["generated"]["psnr"] < psnr[1]
    # Every clip 0.5 dB behind its still photo: exactly that, with no spread.
    difference = summary["difference"]["psnr"]
    assert np.isclose(difference["mean"], -0.5) and np.allclose(difference["interval"], -0.5)
    line = interval_lines(summary)
    assert "PSNR -0.50 (-0.50 to -0.50)" in line and "opening ratio" in line
    ratio = summary["lmd_vs_still"]
    assert ratio["interval"][0] <= ratio["ratio"] <= ratio["interval"][1] < 1
    assert f"LMD over the still's {ratio['ratio']:.2f}" in line


def test_motion_measures_summaries_carry_intervals():
    from lipmotion_tf.motion.measures import summarise

    rng = np.random.default_rng(2)
    clips = [{"lmd": float(x), "lmd_static": float(2 * x), "sync": float(s),
              "sync_best": float(s), "opening_ratio": 1.0, "motion_ratio": 0.8}
             for x, s in zip(rng.uniform(0.01, 0.05, 20), rng.uniform(0.3, 0.9, 20))]
    summary = summarise(clips)
    assert np.allclose(summary["intervals"]["lmd_vs_static"], 0.5)
    low, high = summary["intervals"]["sync"]
    assert low < summary["sync"] < high
    assert summary["intervals"]["opening_ratio"] == [1.0, 1.0]
