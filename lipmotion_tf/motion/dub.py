"""Dubbing with the motion-first model: the person in a video says new speech.

Two passes over the video, each a stream of frames:

1. **Tracking.** mediapipe's face mesh (video mode, with depth) in every frame. The person's
   rest shape is the median pose-free mouth of the video's most closed frames
   (:func:`~lipmotion_tf.motion.representation.rest_shape`), so the motion model's
   displacements mean the same thing in every frame whatever the head does.
2. **Rendering.** The motion model reads the new speech once; each output frame rigs its
   source frame (:class:`~lipmotion_tf.motion.face_rig.FaceRig`: that frame's pose and lip
   positions, the video's rest shape, one crop size and one set of colours for the whole
   video) and moves the frame's own lips and jaw from where they are to where the new speech
   puts them. Frames without a face pass through unchanged.

The output lasts as long as the speech, at the video's size and frame rate; a video shorter
than the speech plays forward, then backward (frames read back from a temporary JPEG store).
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipmotion_tf.audio.validation import DEFAULT_MAX_DURATION
from lipmotion_tf.errors import NoFaceError
from lipmotion_tf.generate.dub import (DUB_CRF, DubResult, FrameStore, generated_index,
                                       output_frames, output_plan, recorded)
from lipmotion_tf.motion import representation as rep
from lipmotion_tf.motion.template import FRONTAL_TEMPLATE


def video_rest(meshes: np.ndarray, found: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """The pose-free rest shape ``(59, 3)`` of the person in a tracked video."""
    if not found.any():
        raise NoFaceError("no face found in any frame of the video")
    seen = meshes[found]
    frontal = rep.frontal_transform(rep.select(seen, rep.STABLE_INDICES), FRONTAL_TEMPLATE)
    return rep.rest_shape(rep.apply(rep.select(seen, rep.MOTION_INDICES), frontal), fraction)


def video_amplitude(meshes: np.ndarray, found: np.ndarray, config) -> float:
    """How widely the person in a tracked video (``meshes``: all 468 points) opens their
    mouth: :func:`~lipmotion_tf.motion.dataset.speaking_amplitude` of its motion."""
    from lipmotion_tf.motion.dataset import mouth_motion, speaking_amplitude

    motion, rest = mouth_motion(meshes[:, list(rep.STORED_INDICES)], found, FRONTAL_TEMPLATE,
                                config.data.rest_fraction)
    return speaking_amplitude(rest, motion[found], config.model.amplitude_reference)


def dub_motion_video(video_path, audio_path, output, checkpoint=None, batch_size: int = 8,
                     max_duration: float = DEFAULT_MAX_DURATION, still: bool = False,
                     progress: bool = True, amplitude: float | None = None,
                     interior: str = "auto") -> DubResult:
    """Writes ``output``: the video at ``video_path`` with its mouth saying ``audio_path``.

    ``still`` holds the mouth at the video's rest shape instead (the baseline).
    ``amplitude`` is :class:`~lipmotion_tf.motion.pipeline.MotionPipeline`'s; when it is None,
    a model that reads the speaker's amplitude gets the video's own (how widely this person
    opens their mouth in it).

    Raises:
        InputError, NoFaceError: bad inputs, each named in one line, before anything is
            written.
    """
    from tqdm import tqdm

    from lipmotion_tf.audio.loader import load_audio
    from lipmotion_tf.generate.mp4_writer import Mp4Writer
    from lipmotion_tf.generate.render import check_not_an_input, check_output
    from lipmotion_tf.motion.extract import track_mesh
    from lipmotion_tf.motion.face_rig import FaceRig
    from lipmotion_tf.motion.pipeline import MotionPipeline, renderer_inputs
    from lipmotion_tf.video.face_mesh import FaceMeshDetector
    from lipmotion_tf.video.reader import iter_video, video_frame, video_info

    output = Path(output)
    check_output(output)
    check_not_an_input(output, video_path, audio_path)
    info = video_info(video_path)
    pipeline = MotionPipeline.from_checkpoint(checkpoint, batch_size=batch_size,
                                              max_duration=max_duration, amplitude=amplitude,
                                              interior=interior)
    config = pipeline.config
    rate = config.audio.sample_rate
    waveform = pipeline.check_speech(load_audio(audio_path, rate, max_duration), rate,
                                     source=str(audio_path))
    fps, seconds, num_output, needs_store = output_plan(info, len(waveform), rate,
                                                        config.audio.fps)

    with tempfile.TemporaryDirectory(prefix="lipmotion-dub-") as folder:
        store = FrameStore(Path(folder)) if needs_store else None
        with FaceMeshDetector(static_image_mode=False) as detector, tqdm(
                total=info.num_frames, unit="frame", desc="tracking", disable=not progress) as bar:
            meshes, found, (height, width) = track_mesh(
                recorded(iter_video(video_path, fps), store, bar.update), detector, indices=None)
        frontal_rest = video_rest(meshes, found, config.data.rest_fraction)
        first = int(np.flatnonzero(found)[0])
        frame = store[first] if store is not None else video_frame(video_path, first, fps)
        reference = FaceRig.from_image(frame, meshes[first], frontal_rest=frontal_rest,
                                       source=str(video_path))
        side = reference.crop_size
        if still:
            motion = np.zeros((pipeline.num_frames(len(waveform)), rep.NUM_MOTION_POINTS, 2),
                              np.float32)
        else:
            if pipeline.generator.amplitude_input and amplitude is None:
                pipeline.amplitude = video_amplitude(meshes, found, config)
            motion = pipeline.motion(waveform, rate, reference.rest_motion_input)
        faceless = 0
        frames = output_frames(video_path, fps, num_output, len(found), store)
        with Mp4Writer(output, Fraction(fps).limit_denominator(1001), width, height, waveform,
                       rate, crf=DUB_CRF) as writer:
            for j, (index, image) in enumerate(tqdm(frames, total=num_output, unit="frame",
                                                    desc="dubbing", disable=not progress)):
                if not found[index]:
                    faceless += 1
                    writer.write(image)
                    continue
                # Each frame's own mouth box: the mouth moves within the crop as the head does.
                rig = FaceRig.from_image(image, meshes[index], frontal_rest=frontal_rest,
                                         side=side, colours=reference.colours,
                                         source=str(video_path))
                step = motion[generated_index(j, fps, config.audio.fps, len(motion))][None]
                writer.write(rig.paste(pipeline.render_batch(renderer_inputs(rig, step))[0]))
    return DubResult(frames_written=writer.frames_written, fps=fps, seconds=seconds,
                     source_frames=len(found), faceless_frames=faceless,
                     identity_index=first)
