"""The evaluation report: per-clip measures pooled into the paper's Table 3, and its files.

Pooling. LMD, SSIM, PSNR and CPBD are averaged over all frames of all clips (a long clip
weighs more than a short one, as when the authors averaged over their test frames). LMD
leaves out the frames where either landmark set was not found. The lip-sync measure averages
each lag's correlation over the clips and reports the best lag of that mean curve and its
value: taking every clip's own best lag first would favour noise (the maximum of eleven noisy
correlations is positive even for a mouth that does not move).

Files written by :func:`write_report` (each under a temporary name, then renamed):

* ``report.json``: settings, the table rows, every clip's values and the background used;
  undefined values (NaN) are ``null``.
* ``report.md``: the table in the layout of the paper's Table 3, the two LMD conventions,
  notes on how each number was measured, and a per-clip table.
* ``contact_sheet.png``: real and generated frames of the first clips.
* ``mouth_opening.png``: mouth opening over time, real and generated, with the audio envelope.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lipmotion_tf.errors import InputError
from lipmotion_tf.evaluation.clip_measures import ClipMeasures, best_lag, json_number

GROUND_TRUTH = "Ground truth"
STATIC_BASELINE = "Static baseline"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CONTACT_SHEET = "contact_sheet.png"
OPENING_PLOT = "mouth_opening.png"


@dataclasses.dataclass
class ClipResult:
    """The measures of every method on one clip.

    Attributes:
        clip_id: the prepared clip's id.
        num_frames: its frames.
        background: ``first_frame``, ``frames`` or ``face_photo`` (see
            :mod:`~lipmotion_tf.evaluation.background_source`).
        note: why the face photo was used, if it was.
        real_cpbd: mean CPBD of the real crops (the ground-truth row).
        real_landmark_frames: frames where the real lips' landmarks were found.
        measures: method name -> :class:`ClipMeasures`.
        real_colour_shift: the real crops' own colour shift from the identity image (the
            clip's first real crop): a mouth that opens wide darkens the crop, so the real
            frames move too, which puts the generated frames' shift in context.
    """

    clip_id: str
    num_frames: int
    background: str
    note: str
    real_cpbd: float
    real_landmark_frames: int
    measures: dict[str, ClipMeasures]
    real_colour_shift: float = float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "clip_id": self.clip_id,
            "num_frames": self.num_frames,
            "background": self.background,
            "note": self.note,
            "real_cpbd": json_number(self.real_cpbd),
            "real_landmark_frames": self.real_landmark_frames,
            "real_colour_shift": json_number(self.real_colour_shift),
            "methods": {name: m.to_json() for name, m in self.measures.items()},
        }


@dataclasses.dataclass
class ClipExample:
    """What the figures show of one clip.

    Attributes:
        clip_id: the clip's id.
        fps: frame rate.
        real: ``(T, S, S, 3)`` uint8 real crops.
        frames: method name -> its ``(T, S, S, 3)`` uint8 crops.
        real_openings: ``(T,)`` mouth openings of the real crops.
        openings: method name -> ``(T,)`` mouth openings.
        envelope: ``(T,)`` audio level per frame in dB (RMS).
        speech: ``(T,)`` speech flags (1 speech, 0 silence, -1 unknown).
    """

    clip_id: str
    fps: int
    real: np.ndarray
    frames: dict[str, np.ndarray]
    real_openings: np.ndarray
    openings: dict[str, np.ndarray]
    envelope: np.ndarray
    speech: np.ndarray


@dataclasses.dataclass
class EvaluationReport:
    """Measures of several methods on the clips of one split.

    Attributes:
        methods: measured methods in table order (the static baseline, then the models).
        clips: one :class:`ClipResult` per clip, in evaluation order.
        examples: clips kept for the figures.
        info: settings to record (data, split, checkpoints, identity rule...).
    """

    methods: list[str]
    clips: list[ClipResult]
    examples: list[ClipExample]
    info: dict[str, Any]

    @property
    def num_frames(self) -> int:
        return sum(c.num_frames for c in self.clips)

    def row(self, method: str) -> dict[str, Any]:
        """The pooled measures of one method (see the module docstring)."""
        if method == GROUND_TRUTH:
            frames = np.array([c.num_frames for c in self.clips], np.float64)
            cpbd = np.array([c.real_cpbd for c in self.clips], np.float64)
            return {
                "method": GROUND_TRUTH, "lmd": 0.0, "lmd_sum": 0.0, "ssim": None, "psnr": None,
                "psnr_after_first": None,
                "cpbd": json_number(np.dot(frames, cpbd) / frames.sum()),
                "sync_corr": None, "sync_lag": None, "landmark_frames": None, "sync_clips": None,
                "colour_shift": _largest(c.real_colour_shift for c in self.clips),
            }
        measures = [c.measures[method] for c in self.clips]
        distances = np.concatenate([m.distances for m in measures], axis=0)
        valid = np.all(np.isfinite(distances), axis=1)
        frames = np.array([m.num_frames for m in measures], np.float64)

        def pooled(name: str) -> float | None:
            values = np.array([getattr(m, name) for m in measures], np.float64)
            return json_number(np.dot(frames, values) / frames.sum())

        lags = sorted(measures[0].lagged)
        curve = {}
        for lag in lags:
            values = np.array([m.lagged[lag] for m in measures], np.float64)
            finite = values[np.isfinite(values)]
            curve[lag] = float(finite.mean()) if finite.size else float("nan")
        corr, lag = best_lag(curve)
        return {
            "method": method,
            "lmd": json_number(distances[valid].mean(axis=1).mean()) if valid.any() else None,
            "lmd_sum": json_number(distances[valid].sum(axis=1).mean()) if valid.any() else None,
            "ssim": pooled("ssim"),
            "psnr": pooled("psnr"),
            "psnr_after_first": pooled("psnr_after_first"),
            "cpbd": pooled("cpbd"),
            "sync_corr": json_number(corr),
            "sync_lag": lag if math.isfinite(corr) else None,
            "sync_curve": {str(k): json_number(v) for k, v in curve.items()},
            "landmark_frames": int(valid.sum()),
            "sync_clips": int(sum(math.isfinite(m.lagged.get(0, float("nan"))) for m in measures)),
            "colour_shift": _largest(m.colour_shift for m in measures),
            "still_psnr": _smallest(m.still_psnr for m in measures),
            "opening_ratio": _median(m.opening_ratio for m in measures),
            "motion_ratio": _median(m.motion_ratio for m in measures),
        }

    def rows(self) -> list[dict[str, Any]]:
        """The table: ground truth, then every method."""
        return [self.row(GROUND_TRUTH)] + [self.row(m) for m in self.methods]

    def to_json(self) -> dict[str, Any]:
        backgrounds = [c.background for c in self.clips]
        return {
            **self.info,
            "clips_evaluated": len(self.clips),
            "frames_evaluated": self.num_frames,
            "backgrounds": {kind: backgrounds.count(kind) for kind in sorted(set(backgrounds))},
            "rows": self.rows(),
            "clips": [c.to_json() for c in self.clips],
        }

    def table(self, rows: list[dict[str, Any]] | None = None) -> str:
        """The Markdown table in the layout of the paper's Table 3, plus lip-sync columns."""
        lines = [
            "| Method | LMD | SSIM | PSNR | CPBD | sync corr | best lag | opening ratio | "
            "motion ratio | colour shift | still PSNR |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows if rows is not None else self.rows():
            lines.append(
                f"| {row['method']} | {_fmt(row['lmd'], 3)} | {_fmt(row['ssim'], 3)} | "
                f"{_fmt(row['psnr'], 2)} | {_fmt(row['cpbd'], 3)} | {_fmt(row['sync_corr'], 3)} | "
                f"{_lag(row['sync_lag'])} | {_fmt(row.get('opening_ratio'), 2)} | "
                f"{_fmt(row.get('motion_ratio'), 2)} | {_fmt(row.get('colour_shift'), 1)} | "
                f"{_fmt(row.get('still_psnr'), 1)} |"
            )
        return "\n".join(lines)

    def markdown(self) -> str:
        """``report.md``: the Table 3 layout, LMD conventions, notes and per-clip values."""
        rows = self.rows()
        info = self.info
        backgrounds = [c.background for c in self.clips]
        lines = [
            f"# Evaluation: split `{info.get('split')}` of `{info.get('data')}`",
            "",
            f"{len(self.clips)} clips, {self.num_frames} frames; generator: "
            + ", ".join(f"`{name}` = `{path}`" for name, path in info.get("checkpoints", {}).items())
            + ".",
            "Backgrounds for landmark detection: "
            + ", ".join(f"{kind} {backgrounds.count(kind)} clips" for kind in sorted(set(backgrounds)))
            + ".",
            "",
            self.table(rows),
        ]
        lines += [
            "",
            "LMD in both conventions (pixels of the 64x64 crop, 40 mediapipe lip points):",
            "",
            "| Method | LMD mean (paper) | LMD sum (authors' code) | frames with landmarks |",
            "|---|---:|---:|---:|",
        ]
        for row in rows:
            frames = "-" if row["landmark_frames"] is None else str(row["landmark_frames"])
            lines.append(
                f"| {row['method']} | {_fmt(row['lmd'], 3)} | {_fmt(row['lmd_sum'], 2)} | {frames} |"
            )
        lines += ["", "PSNR over the frames after the first (the first real frame is the "
                  "identity image, so the static baseline's first frame is exact):", "",
                  "| Method | PSNR | PSNR after the first frame |", "|---|---:|---:|"]
        lines += [f"| {row['method']} | {_fmt(row['psnr'], 2)} | "
                  f"{_fmt(row['psnr_after_first'], 2)} |" for row in rows[1:]]
        lines += ["", "How each number was measured:", ""] + [f"- {note}" for note in NOTES]
        lines += ["", "## Per clip", "", "| Clip | background | real colour shift | " + " | ".join(
            f"{m} LMD | {m} SSIM | {m} sync | {m} colour shift" for m in self.methods) + " |",
            "|---|---|---:|" + "---:|---:|---:|---:|" * len(self.methods)]
        for clip in self.clips:
            cells = [_fmt(json_number(clip.real_colour_shift), 1)]
            for method in self.methods:
                values = clip.measures[method].to_json()
                cells += [_fmt(values["lmd"], 3), _fmt(values["ssim"], 3),
                          _fmt(values["sync_corr"], 3), _fmt(values["colour_shift"], 1)]
            lines.append(f"| {clip.clip_id} | {clip.background} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


NOTES = (
    "Every clip is generated whole through the any-length path (16-frame windows every 8 "
    "frames, cross-faded). The identity image is the clip's first real crop: the authors drew "
    "a random frame, which would make the numbers change from run to run.",
    "Static baseline: the identity image repeated for every frame (no motion at all).",
    "LMD: real and generated crops are pasted (hard edge) into the same background "
    "(first_frame: the clip's first video frame at its crop box; frames: each frame at its own "
    "box; face_photo: a bundled face photo), mediapipe's face mesh (static-image mode) finds "
    "the 40 lip points, each set is centred on its mean, and the point distances are averaged (paper) or summed over "
    "points (authors' code), then averaged over the frames of all clips. Ground truth is 0 "
    "by definition. Values use mediapipe's points, not dlib's 20: compare them only with "
    "numbers measured the same way.",
    "SSIM and PSNR: grayscale (BT.601) 64x64 crops against the real crops, data range 255, "
    "averaged over frames; PSNR in float arithmetic, 100 dB for identical frames.",
    "CPBD: sharpness of the method's own frames (ground truth: of the real frames).",
    "Colour shift: the largest difference, over R, G and B, between the mean colour of a "
    "clip's frames and the identity image's, in grey levels; the worst clip is shown (ground "
    "truth: the real frames' own shift, as a wide-open mouth darkens the crop). Still "
    "PSNR: the method's frames for one second of quiet noise (-60 dBFS) against the identity "
    "image, grayscale; the worst clip is shown (the baseline is the identity itself).",
    "sync corr / best lag: Pearson correlation of the generated and real mouth-opening series "
    "(inner-lip gap over mouth width) at shifts of -5..+5 frames, averaged over clips; the "
    "best lag is where the mean is highest. A positive lag means the generated mouth moves "
    "that many frames (40 ms each) after the real one.",
    "opening ratio / motion ratio: how much the method's mouth opens and moves compared with "
    "the real one: the std of its opening series over the real one's, and its mean "
    "frame-to-frame landmark movement over the real one's, the median over clips (1: as "
    "much; a correlation rewards a mouth that moves at the right moments however little it "
    "moves, these do not).",
)


def _largest(values) -> float | None:
    """The worst clip (largest value), ignoring NaN; None when no clip has one."""
    finite = [v for v in values if math.isfinite(v)]
    return json_number(max(finite)) if finite else None


def _median(values) -> float | None:
    """The median of the finite values (None when there is none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return json_number(float(np.median(finite))) if finite else None


def _smallest(values) -> float | None:
    """The worst clip (smallest value), ignoring NaN; None when no clip has one."""
    finite = [v for v in values if math.isfinite(v)]
    return json_number(min(finite)) if finite else None


def _fmt(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _lag(lag) -> str:
    return "-" if lag is None else f"{lag:+d}"


def _replace_atomically(path: Path, write) -> None:
    """Calls ``write(temporary_path)``, then renames the temporary over ``path``."""
    from lipmotion_tf.output_files import write_atomically

    with write_atomically(path) as temporary:
        write(temporary)


def write_report(report: EvaluationReport, out_dir: str | Path) -> dict[str, Path]:
    """Writes the report files into ``out_dir`` (created); returns ``{kind: path}``.

    Raises:
        InputError: ``out_dir`` exists and is not a folder, or cannot be created.
    """
    from lipmotion_tf.evaluation.figures import contact_sheet, mouth_opening_plot

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"report folder {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create report folder {out_dir}: {error.strerror}") from None

    paths = {
        "json": out_dir / REPORT_JSON,
        "markdown": out_dir / REPORT_MD,
        "contact_sheet": out_dir / CONTACT_SHEET,
        "mouth_opening": out_dir / OPENING_PLOT,
    }
    text = json.dumps(report.to_json(), indent=1, allow_nan=False) + "\n"
    _replace_atomically(paths["json"], lambda tmp: tmp.write_text(text))
    _replace_atomically(paths["markdown"], lambda tmp: tmp.write_text(report.markdown()))
    models = [m for m in report.methods if m != STATIC_BASELINE]
    for key, make in (("contact_sheet", contact_sheet), ("mouth_opening", mouth_opening_plot)):
        figure = make(report.examples, models)
        _replace_atomically(paths[key], lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    return paths
