"""The computations a deployed model offers, as TensorFlow functions with fixed signatures.

Three functions, exported as SavedModel signatures (TF Serving) and, the fixed-window ones,
as TFLite signatures. Their input and output names are the serving contract documented in
``docs/deployment.md``:

==================  ====================================  ======================================
signature           inputs                                outputs
==================  ====================================  ======================================
serving_default     ``waveform`` float32 ``(N,)`` mono    ``frames`` uint8 ``(T, 64, 64, 3)``,
                    speech at the model rate (44.1 kHz),  T = round(N / 1764) >= 1 frames at
                    any length; ``image`` uint8           25 fps
                    ``(H, W, 3)`` RGB lip image, any size
generate_window     ``log_mel`` float32 ``(B, 64, 128)``  ``frames`` float32
                    dB; ``image`` float32                 ``(B, 16, 64, 64, 3)`` in [-1, 1]
                    ``(B, 64, 64, 3)`` in [-1, 1]; B = 1
                    in TFLite (static shapes)
log_mel             ``waveform`` float32 ``(N,)``         ``log_mel`` float32
                                                          ``(1 + N // 441, 128)`` dB
==================  ====================================  ======================================

``serving_default`` does in the graph what :class:`~lipmotion_tf.generate.pipeline.
LipMotionPipeline` does in numpy: the log-mel of the whole (zero-padded) speech, windows of
16 frames every 8, the generator on batches of windows and the ``sin^2`` cross-fade
(the TensorFlow forms in :mod:`~lipmotion_tf.generate.blending`), so both give the same
frames. It refuses
(InvalidArgumentError, INVALID_ARGUMENT from a model server) what the pipeline refuses:
empty speech, NaN or infinite samples, an image under 16x16 pixels. The identity
image is centre-cropped to a square and area-resized to 64x64 as the pipeline treats a lip
image. Windows run through the generator ``batch_size`` at a time in a ``while`` loop, so
memory grows with the number of output frames only (about 0.1 MB per frame), not with
batch after batch of activations.
"""

from __future__ import annotations

from lipmotion_tf.audio.validation import MAX_SAMPLE
from lipmotion_tf.video.image_io import MIN_IMAGE_SIZE


def checked_speech(waveform):
    """The speech checks of :func:`lipmotion_tf.audio.validation.check_waveform` as graph ops,
    for servers that run the graph as it is (TF Serving; ``lipmotion serve`` makes them
    before the graph): finite samples, none beyond ``MAX_SAMPLE`` (3.4e38 would overflow the
    spectrogram into black frames), clipped to [-1, 1]."""
    import tensorflow as tf

    waveform = tf.debugging.assert_all_finite(
        waveform, "the speech has non-finite samples (NaN or infinity)")
    peak = tf.reduce_max(tf.abs(waveform))  # an empty waveform is refused by the caller
    with tf.control_dependencies([tf.debugging.assert_less_equal(
            peak, tf.constant(MAX_SAMPLE, waveform.dtype),
            message="the speech has samples far outside float speech's [-1, 1]")]):
        return tf.clip_by_value(waveform, -1.0, 1.0)


class ServingFunctions:
    """Builds the exported ``tf.function`` s around a generator.

    Args:
        generator: a built :class:`~lipmotion_tf.models.generator.LipGenerator`.
        config: the experiment it was trained with (audio front end, window, hop).
        batch_size: windows per generator call inside ``serving_default``.
        window_batch: a fixed number of windows for ``generate_window`` (``None``: any).
            With a fixed number every tensor shape is static, which TFLite needs for XNNPACK
            to run the transposed convolutions (their output shape is otherwise computed at
            run time, and the graph splits around them).
        checks: refuse bad inputs in the graph (INVALID_ARGUMENT from TF Serving): speech
            beyond float speech's range, a generate_window batch with more or fewer images
            than windows. TFLite, which has no assert operator, builds without them; its
            runner checks the speech before the graph.
    """

    def __init__(self, generator, config, batch_size: int = 8, window_batch: int | None = None,
                 checks: bool = True):
        from lipmotion_tf.audio.log_mel import LogMelSpectrogram

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.generator = generator
        self.config = config
        self.batch_size = int(batch_size)
        if window_batch is not None and window_batch < 1:
            raise ValueError(f"window_batch must be >= 1 or None, got {window_batch}")
        self.window_batch = window_batch
        self.checks = checks
        self.log_mel_layer = LogMelSpectrogram.from_audio_config(config.audio, name="log_mel")

    # -- shapes -----------------------------------------------------------------------------

    @property
    def window_mel_frames(self) -> int:
        """Log-mel frames of one window (64)."""
        return self.config.data.window * self.config.audio.mel_frames_per_frame

    @property
    def window_samples(self) -> int:
        """Samples of one window (28224 = 0.64 s at 44.1 kHz)."""
        return self.config.data.window * self.config.audio.samples_per_frame

    def input_signatures(self) -> dict:
        """``{signature name: {input name: tf.TensorSpec}}`` in export order."""
        import tensorflow as tf

        size = self.config.data.image_size
        n_mels = self.config.audio.n_mels
        return {
            "serving_default": {
                "waveform": tf.TensorSpec([None], tf.float32, name="waveform"),
                "image": tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
            },
            "generate_window": {
                "log_mel": tf.TensorSpec(
                    [self.window_batch, self.window_mel_frames, n_mels], tf.float32,
                    name="log_mel",
                ),
                "image": tf.TensorSpec([self.window_batch, size, size, 3], tf.float32,
                                       name="image"),
            },
            "log_mel": {
                "waveform": tf.TensorSpec([None], tf.float32, name="waveform"),
            },
        }

    # -- computations -------------------------------------------------------------------------

    def generate(self, waveform, image):
        """Speech of any length + a uint8 lip image -> ``{"frames": uint8 (T, 64, 64, 3)}``."""
        import tensorflow as tf

        from lipmotion_tf.generate.blending import (
            blend_windows_tf,
            num_output_frames_tf,
            covering_window_starts_tf,
            extend_speech_tf,
        )

        audio = self.config.audio
        window, hop = self.config.data.window, self.config.data.hop
        mel_per_frame = audio.mel_frames_per_frame
        num_samples = tf.shape(waveform)[0]
        # The checks of lipmotion_tf.audio.validation.check_waveform, for servers that run
        # this graph as it is (TF Serving); `lipmotion serve` makes them before the graph.
        tf.debugging.assert_positive(num_samples, message="the speech is empty")
        waveform = checked_speech(waveform)
        num_frames = num_output_frames_tf(num_samples, audio.samples_per_frame)
        starts = covering_window_starts_tf(num_frames, window, hop)

        # As the pipeline: the speech cut or extended by reflection to where the last window
        # ends (the rounding of the last frame, or a speech shorter than one window), one log-mel.
        needed = (starts[-1] + window) * audio.samples_per_frame
        mel = self.log_mel_layer(extend_speech_tf(waveform, needed))
        mel_index = mel_per_frame * starts[:, None] + tf.range(self.window_mel_frames)[None, :]
        log_mels = tf.gather(mel, mel_index)  # (count, 64, n_mels)

        identity = self.identity_from_uint8(image)
        windows = self._run_windows(log_mels, identity)
        frames = blend_windows_tf(windows, starts, num_frames, hop, identity,
                                  self.config.data.ease_in)
        return {"frames": to_uint8_tf(frames)}

    def generate_window(self, log_mel, image):
        """A batch of 0.64 s log-mel windows + lip images -> ``{"frames": (B, 16, 64, 64, 3)}``."""
        import tensorflow as tf

        if self.checks:
            tf.debugging.assert_equal(tf.shape(log_mel)[0], tf.shape(image)[0], message=(
                "generate_window needs one image per log-mel window"))
        outputs = self.generator({"audio": log_mel, "identity": image}, training=False)
        return {"frames": outputs["video"]}

    def log_mel(self, waveform):
        """Mono speech -> ``{"log_mel": (1 + N // hop, n_mels)}`` (the training front end)."""
        if self.checks:
            waveform = checked_speech(waveform)
        return {"log_mel": self.log_mel_layer(waveform)}

    def identity_from_uint8(self, image):
        """uint8 ``(H, W, 3)`` -> float32 ``(S, S, 3)`` in [-1, 1]: centre square, area resize.

        The square and its offset are those of the pipeline's lip-image path
        (``crop_box`` with the image centre and ``min(H, W)``); the area-resized pixels are
        rounded to integers as cv2's ``INTER_AREA`` result is, so a 64x64 image passes
        through unchanged.
        """
        import tensorflow as tf

        size = self.config.data.image_size
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        tf.debugging.assert_greater_equal(  # as lipmotion_tf.video.image_io.check_image
            tf.minimum(height, width), MIN_IMAGE_SIZE,
            message=f"the image must be at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels",
        )
        side = tf.minimum(height, width)
        top = (height - side + 1) // 2
        left = (width - side + 1) // 2
        square = image[top:top + side, left:left + side]
        resized = tf.image.resize(tf.cast(square, tf.float32), [size, size], method="area")
        pixels = tf.clip_by_value(tf.math.round(resized), 0.0, 255.0)
        return pixels / 127.5 - 1.0

    def _run_windows(self, log_mels, identity):
        """Generator outputs for every window, ``batch_size`` windows per call."""
        import tensorflow as tf

        count = tf.shape(log_mels)[0]
        batches = (count + self.batch_size - 1) // self.batch_size
        size = self.config.data.image_size
        window = self.config.data.window
        outputs = tf.TensorArray(
            tf.float32, size=batches, infer_shape=False,
            element_shape=tf.TensorShape([None, window, size, size, 3]),
        )

        def body(index, outputs):
            first = index * self.batch_size
            batch = log_mels[first:first + self.batch_size]
            identities = tf.repeat(identity[None], tf.shape(batch)[0], axis=0)
            video = self.generate_window(batch, identities)["frames"]
            return index + 1, outputs.write(index, video)

        _, outputs = tf.while_loop(
            lambda index, _: index < batches, body, (tf.constant(0), outputs),
            parallel_iterations=1,
        )
        return outputs.concat()

    # -- tf.functions ---------------------------------------------------------------------------

    def tf_functions(self, names=None) -> dict:
        """``{signature name: tf.function}`` with their input signatures, in export order.

        Args:
            names: the signatures to build (default: all three).
        """
        import tensorflow as tf

        signatures = self.input_signatures()
        methods = {
            "serving_default": self.generate,
            "generate_window": self.generate_window,
            "log_mel": self.log_mel,
        }
        names = list(signatures) if names is None else list(names)
        unknown = [n for n in names if n not in methods]
        if unknown:
            raise ValueError(f"unknown signature(s) {unknown}; known: {list(methods)}")
        return {
            name: tf.function(methods[name], input_signature=list(signatures[name].values()))
            for name in names
        }


def to_uint8_tf(frames):
    """float in [-1, 1] -> uint8, as :func:`lipmotion_tf.video.pixels.to_uint8`."""
    import tensorflow as tf

    return tf.cast(tf.clip_by_value((frames + 1.0) * 127.5 + 0.5, 0.0, 255.0), tf.uint8)
