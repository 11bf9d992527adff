"""Speech -> mouth motion: log-mel and the person's rest shape -> landmark displacements.

The network sees the project's log-mel (4 frames per video frame), normalised per utterance
in-graph (band means removed, one deviation for all bands, floored) so that a new voice or a
new microphone does not look like a new mouth, plus two loudness channels (absolute, and
relative to the utterance's loudest frame) so that silence can be told from quiet speech.
Two strided convolutions bring it to 25 fps; dilated residual blocks (kernel 3, not causal)
give each frame ``sum(dilations) + 2`` frames of context on each side (0.8 s of look-ahead
at the defaults: a streaming caller buffers that much speech). The rest shape conditions
every block through a learned per-channel scale and shift, and so, when the generator is
built with ``amplitude_input``, does the speaker's amplitude: how widely this person opens
their mouth (natural log of their opening deviation over a typical speaker's; 0, typical, when
not given), plus a calibration offset fitted after training. How widely a person opens cannot
be heard, so without it the model can only predict the average person's. The head predicts the ``x, y`` displacement of each motion point
from the rest shape, in mouth widths.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from lipmotion_tf.motion.speech_features import speech_features


@keras.saving.register_keras_serializable(package="lipmotion_tf")
class MotionGenerator(keras.Model):
    """``{"log_mel": (B, 4T, M) dB, "rest": (B, P, 2)}`` -> ``(B, T, P, 2)`` displacements;
    with ``amplitude_input``, also ``"amplitude": (B, 1)`` (optional: 0 when left out).

    Args:
        points: motion points ``P``.
        n_mels: mel bands ``M``.
        mel_frames_per_frame: log-mel frames per video frame (4).
        channels: width of the temporal convolutions.
        dilations: dilation of each residual block.
        target_scale: the head's output is divided by this (training targets are scaled by
            it, so the head works in tenths of a mouth width).
        mel_std_floor: floor of the per-utterance log-mel deviation (dB).
        silence_db: a frame this far below the utterance's loudest is silent for the
            relative loudness channel.
        rest_units: width of the rest shape's embedding.
        rest_noise: std (mouth widths) of the noise added to the rest shape in training.
        dropout: spatial dropout of each residual block's output in training.
        quiet_db: frames whose loudest mel band stays below this (dB) hold no voice at all:
            their displacement is 0, so the mouth keeps its rest shape exactly; it fades in
            over the 20 dB above.
        amplitude_input: read the speaker's amplitude (see the module docstring).
        amplitude_noise: std of the noise added to the amplitude in training.
    """

    def __init__(self, points: int = 59, n_mels: int = 128, mel_frames_per_frame: int = 4,
                 channels: int = 160, dilations=(1, 2, 4, 8, 1, 2), target_scale: float = 10.0,
                 mel_std_floor: float = 6.0, silence_db: float = 50.0, rest_units: int = 8,
                 rest_noise: float = 0.03, dropout: float = 0.2, quiet_db: float = -60.0,
                 amplitude_input: bool = False, amplitude_noise: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if mel_frames_per_frame not in (1, 2, 4):
            raise ValueError("mel_frames_per_frame must be 1, 2 or 4")
        self.points = int(points)
        self.n_mels = int(n_mels)
        self.mel_frames_per_frame = int(mel_frames_per_frame)
        self.channels = int(channels)
        self.dilations = tuple(int(d) for d in dilations)
        self.target_scale = float(target_scale)
        self.mel_std_floor = float(mel_std_floor)
        self.silence_db = float(silence_db)
        self.rest_units = int(rest_units)
        self.rest_noise = float(rest_noise)
        self.dropout = float(dropout)
        self.quiet_db = float(quiet_db)
        self.amplitude_input = bool(amplitude_input)
        self.amplitude_noise = float(amplitude_noise)
        self.amplitude_noise_layer = keras.layers.GaussianNoise(self.amplitude_noise,
                                                                name="amplitude_noise")
        # Added to every amplitude read; 0 in training, then fitted on the validation clips
        # (:func:`~lipmotion_tf.motion.training.calibrate_amplitude`) and saved with the
        # weights, so the exports carry it.
        self.amplitude_offset = (self.add_weight(shape=(), initializer="zeros", trainable=False,
                                                 name="amplitude_offset")
                                 if self.amplitude_input else None)
        self.audio_in = keras.layers.Conv1D(channels, 3, padding="same", name="audio_in")
        strides = {1: 0, 2: 1, 4: 2}[self.mel_frames_per_frame]
        self.audio_down = [
            keras.layers.Conv1D(channels, 4, strides=2, padding="same", name=f"audio_down_{i}")
            for i in range(strides)
        ]
        # A narrow, noisy view of the rest shape: enough for the mouth's proportions, too
        # little to recognise (and so memorise) one training clip by its shape.
        self.rest_noise_layer = keras.layers.GaussianNoise(self.rest_noise, name="rest_noise")
        self.rest_embed = keras.layers.Dense(self.rest_units, activation="tanh", name="rest_embed")
        self.block_dropout = keras.layers.SpatialDropout1D(self.dropout, name="block_dropout")
        self.block_film = [
            keras.layers.Dense(2 * channels, kernel_initializer="zeros", name=f"block_{i}_film")
            for i in range(len(self.dilations))
        ]
        self.block_conv = [
            keras.layers.Conv1D(channels, 3, dilation_rate=d, padding="same",
                                name=f"block_{i}_conv")
            for i, d in enumerate(self.dilations)
        ]
        self.block_mix = [
            keras.layers.Conv1D(channels, 1, name=f"block_{i}_mix")
            for i in range(len(self.dilations))
        ]
        self.block_norm = [
            keras.layers.LayerNormalization(name=f"block_{i}_norm")
            for i in range(len(self.dilations))
        ]
        self.head = keras.layers.Dense(2 * self.points, kernel_initializer="zeros", name="head")

    def audio_features(self, log_mel):
        """Per-utterance normalised log-mel plus the two loudness channels: ``(B, N, M + 2)``."""
        return speech_features(log_mel, self.mel_std_floor, self.silence_db)

    def call(self, inputs, training=False):
        return self.decode(self.encode(inputs, training=training), inputs["log_mel"])

    def encode(self, inputs, training=False):
        """The last residual block's output ``(B, T, channels)``: what the head reads, and
        what the joint stage's correlation loss reads as the audio side
        (:class:`~lipmotion_tf.motion.joint_generator.JointGenerator`)."""
        features = self.audio_features(inputs["log_mel"])
        x = keras.activations.gelu(self.audio_in(features))
        for layer in self.audio_down:
            x = keras.activations.gelu(layer(x))
        rest = ops.reshape(ops.cast(inputs["rest"], "float32"), (-1, 2 * self.points))
        condition = self.rest_embed(self.rest_noise_layer(rest, training=training))
        if self.amplitude_input:
            amplitude = (ops.cast(inputs["amplitude"], "float32") if "amplitude" in inputs
                         else ops.zeros_like(condition[:, :1]))
            amplitude = self.amplitude_noise_layer(amplitude + self.amplitude_offset,
                                                   training=training)
            condition = ops.concatenate([condition, amplitude], axis=-1)
        condition = condition[:, None, :]
        for film, conv, mix, norm in zip(self.block_film, self.block_conv, self.block_mix,
                                         self.block_norm):
            scale, shift = ops.split(film(condition), 2, axis=-1)
            h = norm(x) * (1.0 + scale) + shift
            h = mix(keras.activations.gelu(conv(h)))
            x = x + self.block_dropout(h, training=training)
        return x

    def decode(self, encoded, log_mel):
        """:meth:`encode`'s output -> ``(B, T, P, 2)`` displacements, none where there is no
        voice."""
        out = self.head(encoded) / self.target_scale * self.voice_gate(log_mel)
        frames = ops.shape(out)[1]
        return ops.reshape(out, (-1, frames, self.points, 2))

    def voice_gate(self, log_mel):
        """``(B, T, 1)``: 0 for video frames with no voice at all (every mel band below
        ``quiet_db``), 1 from 20 dB above it."""
        loudest = ops.max(ops.cast(log_mel, "float32"), axis=2)
        m = self.mel_frames_per_frame
        per_frame = ops.max(ops.reshape(loudest, (ops.shape(loudest)[0], -1, m)), axis=2)
        return ops.clip((per_frame - self.quiet_db) / 20.0, 0.0, 1.0)[..., None]

    def get_config(self):
        config = super().get_config()
        config.update(
            points=self.points, n_mels=self.n_mels,
            mel_frames_per_frame=self.mel_frames_per_frame, channels=self.channels,
            dilations=list(self.dilations), target_scale=self.target_scale,
            mel_std_floor=self.mel_std_floor, silence_db=self.silence_db,
            rest_units=self.rest_units, rest_noise=self.rest_noise, dropout=self.dropout,
            quiet_db=self.quiet_db, amplitude_input=self.amplitude_input,
            amplitude_noise=self.amplitude_noise,
        )
        return config

    def motion_gain(self, amplitude: float | None) -> float:
        """What the predicted displacements are multiplied by for a speaker ``amplitude``
        (natural log against a typical speaker): 1 when it is None or this generator reads
        it as an input, else its exponential (an expression scale)."""
        return 1.0 if amplitude is None or self.amplitude_input else math.exp(amplitude)

    @classmethod
    def from_experiment(cls, config) -> "MotionGenerator":
        """The generator a :class:`~lipmotion_tf.motion.config.MotionExperimentConfig` describes."""
        return cls(points=config.model.points, n_mels=config.audio.n_mels,
                   mel_frames_per_frame=config.audio.mel_frames_per_frame,
                   channels=config.model.channels, dilations=config.model.dilations,
                   target_scale=config.model.target_scale,
                   mel_std_floor=config.model.mel_std_floor, silence_db=config.model.silence_db,
                   rest_units=config.model.rest_units, rest_noise=config.model.rest_noise,
                   dropout=config.model.dropout, quiet_db=config.model.quiet_db,
                   amplitude_input=config.model.amplitude_input,
                   amplitude_noise=config.model.amplitude_noise, name="motion_generator")
