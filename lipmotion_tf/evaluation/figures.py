"""Report figures: a contact sheet of real and generated frames, and mouth opening over time.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through
``pyplot``, so they need no display and leave no global figure state behind.
"""

from __future__ import annotations

import numpy as np

FRAMES_PER_ROW = 8
_GAP = 2  # pixels between frames and rows of a contact sheet


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _strip(frames: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Frames at ``indices`` side by side, separated by white gaps."""
    size = frames.shape[1]
    strip = np.full((size, len(indices) * (size + _GAP) - _GAP, 3), 255, np.uint8)
    for k, index in enumerate(indices):
        strip[:, k * (size + _GAP): k * (size + _GAP) + size] = frames[index]
    return strip


def contact_sheet(examples, methods: list[str], frames_per_row: int = FRAMES_PER_ROW):
    """Real frames above each method's frames, at evenly spaced times, one panel per clip.

    Args:
        examples: :class:`~lipmotion_tf.evaluation.report.ClipExample` list.
        methods: methods to show under the real frames (each in ``example.frames``).
        frames_per_row: frames shown per row.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    rows = ["Real"] + list(methods)
    if not examples:
        figure = _new_figure(4, 1)
        figure.text(0.5, 0.5, "no clip evaluated", ha="center", va="center")
        return figure
    figure = _new_figure(1.0 * frames_per_row + 1.2, 1.0 * len(rows) * len(examples) + 0.4 * len(examples))
    axes = figure.subplots(len(examples), 1, squeeze=False)[:, 0]
    for axis, example in zip(axes, examples):
        count = len(example.real)
        indices = np.unique(np.linspace(0, count - 1, min(frames_per_row, count)).round().astype(int))
        strips = [_strip(example.real, indices)] + [_strip(example.frames[m], indices) for m in methods]
        height = strips[0].shape[0]
        gap = np.full((_GAP * 2, strips[0].shape[1], 3), 255, np.uint8)
        mosaic = np.concatenate([part for s in strips for part in (s, gap)][:-1], axis=0)
        axis.imshow(mosaic, interpolation="nearest")
        axis.set_yticks([(height + 2 * _GAP) * r + height / 2 for r in range(len(rows))], rows)
        axis.set_xticks([(height + _GAP) * k + height / 2 for k in range(len(indices))],
                        [f"{i / example.fps:.2f}s" for i in indices], fontsize=7)
        axis.set_title(example.clip_id, fontsize=9)
        for spine in axis.spines.values():
            spine.set_visible(False)
    return figure


def mouth_opening_plot(examples, methods: list[str]):
    """Mouth opening over time of the real and generated lips, with the audio level.

    One panel per clip: the real opening (black), each method's, the audio envelope (RMS in
    dB, grey, right axis) and the frames marked as speech (shaded), so a viewer can see
    whether the generated mouth opens with the sound and closes in silence.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    if not examples:
        figure = _new_figure(4, 1)
        figure.text(0.5, 0.5, "no clip evaluated", ha="center", va="center")
        return figure
    figure = _new_figure(9, 2.4 * len(examples))
    axes = figure.subplots(len(examples), 1, squeeze=False)[:, 0]
    for index, (axis, example) in enumerate(zip(axes, examples)):
        time = np.arange(len(example.real_openings)) / example.fps
        for run, (start, stop) in enumerate(_runs(np.asarray(example.speech) == 1)):
            axis.axvspan(time[start], time[stop - 1] + 1 / example.fps, color="tab:green", alpha=0.08,
                         label="speech" if run == 0 else None)
        axis.plot(time, example.real_openings, color="black", linewidth=1.6, label="real")
        for method in methods:
            axis.plot(time, example.openings[method], linewidth=1.2, label=method)
        axis.set_ylabel("mouth opening")
        axis.set_title(example.clip_id, fontsize=9)
        level = axis.twinx()
        level.fill_between(time, example.envelope, example.envelope.min(), step="mid",
                           color="grey", alpha=0.25, linewidth=0)
        level.set_ylabel("audio level (dB)", color="grey")
        level.tick_params(axis="y", colors="grey")
        axis.set_zorder(level.get_zorder() + 1)  # lines above the envelope
        axis.patch.set_visible(False)
        if index == len(examples) - 1:
            axis.set_xlabel("time (s)")
        if index == 0:
            axis.legend(loc="upper right", fontsize=7)
    return figure


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True values."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))
