"""Which log-mel frames belong to a window of video frames.

Mel frame ``k`` of a whole-clip log-mel (``center=True``) is centred on sample
``hop_length * k``. With ``m = mel_frames_per_frame`` (4 at 44.1 kHz, hop 441, 25 fps), video
frame ``i`` spans samples ``[i * m * hop, (i + 1) * m * hop)`` and owns mel frames
``m*i .. m*i + m - 1``. A window of ``W`` video frames starting at frame ``s`` therefore takes
mel frames ``m*s .. m*(s + W) - 1`` (frames ``4s .. 4s + 63`` for the 16-frame window).

A clip of ``T`` frames has ``T * m * hop`` samples and ``1 + T * m`` mel frames: the last
one (centred on the clip's final sample) belongs to no video frame and is never used.
Windows are always cut from the log-mel of the whole, continuous clip. A standalone window
of 0.64 s (28224 samples) gives 65 mel frames, of which the first 64 are the window's; its
edge frames see reflect padding instead of the neighbouring audio, so they differ slightly
from the continuous cut.
"""

from __future__ import annotations


def mel_window(start_frame: int, window: int, mel_frames_per_frame: int) -> slice:
    """The slice of a whole-clip log-mel's frames that belongs to a window of video frames.

    Args:
        start_frame: first video frame of the window.
        window: video frames in the window (16).
        mel_frames_per_frame: log-mel frames per video frame (4).

    Returns:
        ``slice(m * start_frame, m * (start_frame + window))``.
    """
    if start_frame < 0 or window < 1 or mel_frames_per_frame < 1:
        raise ValueError(
            f"invalid mel window (start {start_frame}, window {window}, "
            f"{mel_frames_per_frame} mel frames per frame)"
        )
    first = mel_frames_per_frame * start_frame
    return slice(first, first + mel_frames_per_frame * window)
