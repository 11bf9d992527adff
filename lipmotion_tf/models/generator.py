"""The lip movement generator: speech + one lip image -> a lip video."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from lipmotion_tf.models.layers import (
    AudioEncoder,
    ConvBlock,
    ConvTransposeBlock,
    ImageEncoder,
    ResidualBlock,
    UpsampleConvBlock,
    vertical_warp,
)
from lipmotion_tf.models.layers.fused_map_conv import fused_map_conv3d


@keras.saving.register_keras_serializable(package="lipmotion")
class LipGenerator(keras.Model):
    """Generates ``T`` lip frames from a log-mel window and one identity lip image.

    Inputs (a dict):
        ``audio``: ``(B, 4T, 128)`` log-mel window (4 mel frames per video frame), T >= 2.
        ``identity``: ``(B, 64, 64, 3)`` lip image in [-1, 1].

    Outputs (a dict):
        ``video``: ``(B, T, 64, 64, 3)`` in [-1, 1].
        ``audio_features``: ``(B, T, 16, 4c)``, the audio encoder output that the
            audio-derivative encoder of the correlation loss reads.
        ``attention``: ``(B, T, 64, 64, 1)`` in [0, 1], only with ``output_mode="attention"``:
            how much of each pixel is generated rather than copied from the identity.
        ``shift``: ``(B, T, 64, 64, 1)`` in [-1, 1], only with a warp head: each pixel's
            vertical shift as a fraction of ``warp_range``.

    Structure (``c = channels``; the authors' ``model_corr.Generator``, 16.70 M parameters
    at ``c = 64``: audio 0.98 M, identity 0.38 M, compress 3.54 M, decoder 11.80 M)::

        audio encoder      (B, 4T, 128) -> (B, T, 16, 4c)           see AudioEncoder
        identity encoder   (B, 64, 64, 3) -> (B, 16, 16, 4c)         see ImageEncoder
        fusion             identity map repeated over T; audio row f (frequency) copied
                           along the width -> (B, T, 16, 16, 4c); concat -> 8c channels
        compress           Conv3D 3x3x3 8c -> 4c + BN + ReLU
        residual blocks    res_blocks x [Conv3D 1x3x3 (3x3x3), BN, ReLU, Conv3D, BN] + skip
        upsampling         2 x [Conv3DTranspose 3x3x3 stride (1, 2, 2) + BN + ReLU]: 2c, c
        output             Conv3D 7x7x7 c -> 3 (bias) + tanh -> (B, T, 64, 64, 3)

    Two switches depart from the paper's decoder (the defaults keep the paper's):

        upsampling="resize"     nearest 2x copy + per-frame 3x3 conv (UpsampleConvBlock)
                                instead of each transposed convolution: no checkerboard.
        output_mode="attention" the output conv gives 4 channels: a colour map ``C`` (tanh)
                                and a mask ``a`` (sigmoid); ``video = a * C + (1 - a) * I``
                                with ``I`` the identity image (as ATVGnet and GANimation), so
                                what the speech does not change is the given image itself.
        attention_region="mouth" the mask is multiplied by a fixed profile that is 0 above
                                the upper lip (the top 18% of the crop, which the crop rule
                                puts between nose and lip) and rises smoothly to 1 at 30%:
                                a model trained on one speaker otherwise paints that speaker's
                                shadows under the nose of other faces.
        warp_range=R (R > 0)    (attention output only) a second head, a 3x3x3 conv + tanh on
                                the last upsampling's features, gives every pixel a vertical
                                shift of at most R pixels, and the identity image is moved by
                                it before the blend (:func:`vertical_warp`):
                                ``video = a * C + (1 - a) * warp(I)``. The crop is centred on
                                the lips, so as the mouth opens the upper lip and the nose move
                                up in it and the lower lip down: a warp moves the given face's
                                own pixels there, where a colour map would have to repaint them.
                                With the mouth region the shift is held at 0 above the upper
                                lip as the mask is: a pasted crop must not move the nose.
        dead_zone=z (z > 0)     (attention output only) mask values and shifts (as a fraction
                                of ``R``) below ``z`` count as 0 and the rest are moved down
                                by ``z`` and rescaled to the full range (a soft threshold,
                                continuous in the head's output): where the speech changes
                                almost nothing, the given image comes back exactly, not with
                                the faint mask and sub-pixel shifts of a sigmoid and a tanh,
                                which never reach 0. No weights.

    Differences from the authors' code: every conv kernel is He-normal initialised (the
    authors leave the transposed convolutions and the output conv at PyTorch's default);
    the audio encoder's last layer is the stride-(1, 2) conv of ``model_corr``, where the
    paper's Table 4 has a max pooling (see :class:`AudioEncoder`).

    Args:
        channels: width ``c`` (``ngf``); a multiple of 4.
        res_blocks: residual blocks (9).
        res_kernel_3d: 3x3x3 residual kernels (the authors' ``model_flownet_diff``
            variant) instead of 1x3x3.
        frame_conv_2d: compute the 1x3x3 residual convolutions as per-frame 2-D
            convolutions (a Conv3D kernel ``(1, 3, 3, C, C)`` is used as the Conv2D kernel
            ``(3, 3, C, C)``: the weights are identical, only the graph changes; faster in
            TFLite). Not allowed with ``res_kernel_3d``.
        factored_fusion: compute the compress convolution from the identity and audio
            features without building the fused map (:func:`fused_map_conv3d`): the same
            sums with 16x fewer multiply-adds; False builds the map as the authors do.
        time_shift_output: compute the 7x7x7 output convolution as per-frame 2-D
            convolutions summed over time shifts (:class:`TimeShiftConv3D`, 2.4x faster on
            CPU); False uses Conv3D.
        output_mode: ``"direct"`` (the paper: tanh pixels) or ``"attention"`` (colour map
            blended with the identity image through a generated mask).
        upsampling: ``"transpose"`` (the paper's transposed convolutions) or ``"resize"``.
        attention_region: ``"full"`` or ``"mouth"`` (attention output only; no weights).
        warp_range: largest vertical shift of the identity image in pixels; 0: no warp.
        dead_zone: soft threshold on the mask and the normalised shift, in [0, 0.5); 0: none.
        stack_frames: compute the remaining 3-D convolutions and transposed convolutions
            (compress, 3x3x3 residual kernels, transposed upsampling) as 2-D ones over
            frames stacked along the channels (:class:`TemporalStackConv3D`); same weights.
        folded_norm: every batch norm folded into the convolution before it (inference
            only; :meth:`deployment_copy` computes the weights).
    """

    OUTPUT_MODES = ("direct", "attention")
    UPSAMPLING = ("transpose", "resize")
    ATTENTION_REGIONS = ("full", "mouth")
    MOUTH_REGION_TOP = (0.18, 0.30)  # crop heights where the mouth profile leaves 0, reaches 1
    # The warp head starts with its kernel scaled down so that the first shifts are a small
    # fraction of a pixel: the model first computes what it did without a warp, and the
    # triangle weights of the warp have a gradient (at a shift of exactly 0 they have none).
    WARP_INIT_SCALE = 1e-3

    def __init__(
        self,
        channels=64,
        res_blocks=9,
        res_kernel_3d=False,
        frame_conv_2d=False,
        factored_fusion=True,
        time_shift_output=True,
        output_mode="direct",
        upsampling="transpose",
        stack_frames=False,
        folded_norm=False,
        attention_region="full",
        warp_range=0,
        dead_zone=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if channels < 4 or channels % 4:
            raise ValueError(f"channels must be a positive multiple of 4, got {channels}")
        if res_blocks < 0:
            raise ValueError(f"res_blocks must be >= 0, got {res_blocks}")
        if frame_conv_2d and res_kernel_3d:
            raise ValueError("frame_conv_2d needs 1x3x3 residual kernels (res_kernel_3d=False)")
        if output_mode not in self.OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {self.OUTPUT_MODES}, got {output_mode!r}")
        if upsampling not in self.UPSAMPLING:
            raise ValueError(f"upsampling must be one of {self.UPSAMPLING}, got {upsampling!r}")
        if attention_region not in self.ATTENTION_REGIONS:
            raise ValueError(f"attention_region must be one of {self.ATTENTION_REGIONS}, "
                             f"got {attention_region!r}")
        if warp_range < 0 or (warp_range and output_mode != "attention"):
            raise ValueError(f"warp_range must be 0, or positive with attention output, got "
                             f"{warp_range} with {output_mode!r} output")
        if not 0.0 <= dead_zone < 0.5 or (dead_zone and output_mode != "attention"):
            raise ValueError(f"dead_zone must be 0, or in (0, 0.5) with attention output, got "
                             f"{dead_zone} with {output_mode!r} output")
        self.dead_zone = float(dead_zone)
        self.attention_region = attention_region
        self.warp_range = int(warp_range)
        self.output_mode = output_mode
        self.upsampling = upsampling
        self.channels = int(channels)
        self.res_blocks = int(res_blocks)
        self.res_kernel_3d = bool(res_kernel_3d)
        self.frame_conv_2d = bool(frame_conv_2d)
        self.factored_fusion = bool(factored_fusion)
        self.time_shift_output = bool(time_shift_output)
        self.stack_frames = bool(stack_frames)
        self.folded_norm = bool(folded_norm)
        c = self.channels
        folded = dict(folded_norm=self.folded_norm)

        self.audio_encoder = AudioEncoder(c, name="audio_encoder", **folded)
        self.identity_encoder = ImageEncoder(c, name="identity_encoder", **folded)
        self.fusion_concat = keras.layers.Concatenate(axis=-1, name="fusion_concat")
        self.compress = ConvBlock(4 * c, 3, rank=3, stack_frames=self.stack_frames,
                                  name="compress", **folded)
        res_kernel = (3, 3, 3) if self.res_kernel_3d else (1, 3, 3)
        self.decoder_blocks = [
            ResidualBlock(
                4 * c,
                res_kernel,
                rank=3,
                frame_conv_2d=self.frame_conv_2d,
                stack_frames=self.stack_frames and not self.frame_conv_2d,
                name=f"decoder_res_block_{i + 1}",
                **folded,
            )
            for i in range(self.res_blocks)
        ]
        self.decoder_upsample = [
            UpsampleConvBlock(filters, 3, name=f"decoder_upsample_{i + 1}", **folded)
            if self.upsampling == "resize"
            else ConvTransposeBlock(
                filters,
                3,
                strides=(1, 2, 2),
                rank=3,
                padding=1,
                output_padding=(0, 1, 1),
                stack_frames=self.stack_frames,
                name=f"decoder_upsample_{i + 1}",
                **folded,
            )
            for i, filters in enumerate((2 * c, c))
        ]
        attention = self.output_mode == "attention"
        self.decoder_output = ConvBlock(
            4 if attention else 3,
            7,
            rank=3,
            norm=False,
            activation=None if attention else "tanh",
            use_bias=True,
            time_shift=self.time_shift_output,
            stack_frames=self.stack_frames and not self.time_shift_output,
            name="decoder_output",
        )
        self.decoder_motion = ConvBlock(
            1,
            3,
            rank=3,
            norm=False,
            activation="tanh",
            use_bias=True,
            time_shift=self.time_shift_output,
            stack_frames=self.stack_frames and not self.time_shift_output,
            name="decoder_motion",
        ) if self.warp_range else None

    def build(self, input_shape):
        # Sub-layers create their weights when first called: one call on zeros of the given
        # shapes (batch 1; the weights depend on neither batch nor length) creates them all,
        # which is also what loading a saved generator needs before its weights are read.
        audio = tuple(input_shape["audio"])
        identity = tuple(input_shape["identity"])
        frames = audio[1] if audio[1] is not None else 8
        self.call({"audio": ops.zeros((1, frames, audio[2])),
                   "identity": ops.zeros((1, *identity[1:]))})
        if self.decoder_motion is not None:
            kernel = self.decoder_motion.conv.kernel
            kernel.assign(kernel * self.WARP_INIT_SCALE)
        self.built = True

    def call(self, inputs, training=None):
        audio = inputs["audio"]
        identity = inputs["identity"]
        if audio.shape[1] is not None and (audio.shape[1] % 4 or audio.shape[1] < 8):
            raise ValueError(
                f"audio must hold 4 mel frames per video frame and >= 2 frames, got {audio.shape}"
            )
        audio_features = self.audio_encoder(audio, training=training)  # (B, T, 16, 4c)
        identity_features = self.identity_encoder(identity, training=training)  # (B, 16, 16, 4c)

        x = self._fuse_and_compress(identity_features, audio_features, training)
        for block in self.decoder_blocks:
            x = block(x, training=training)
        for block in self.decoder_upsample:
            x = block(x, training=training)
        video = self.decoder_output(x, training=training)
        if self.output_mode == "direct":
            return {"video": video, "audio_features": audio_features}
        colour = ops.tanh(video[..., :3])
        attention = self._dead_zone(ops.sigmoid(video[..., 3:]))
        region = None
        if self.attention_region == "mouth":
            region = ops.cast(mouth_region_profile(identity.shape[1]), attention.dtype)
            attention = attention * region
        still = ops.expand_dims(ops.cast(identity, colour.dtype), 1)
        outputs = {"audio_features": audio_features, "attention": attention}
        if self.decoder_motion is not None:
            shift = self._dead_zone(self.decoder_motion(x, training=training))
            if region is not None:
                shift = shift * region
            still = vertical_warp(still, self.warp_range * shift, self.warp_range)
            outputs["shift"] = shift
        outputs["video"] = attention * colour + (1.0 - attention) * still
        return outputs

    def _dead_zone(self, values):
        """``sign(v) * max(|v| - z, 0) / (1 - z)``: values within ``z`` of 0 become exactly 0,
        1 stays 1, and nothing jumps in between."""
        if not self.dead_zone:
            return values
        kept = ops.relu(ops.abs(values) - self.dead_zone) / (1.0 - self.dead_zone)
        return ops.sign(values) * kept

    def rebuilt(self, **changes):
        """A built copy with the constructor arguments ``changes`` and this model's weights
        (for example ``factored_fusion=False``: the same model computed the authors' way)."""
        if changes.get("folded_norm", self.folded_norm) != self.folded_norm:
            raise ValueError("folded_norm changes the weights: use deployment_copy()")
        copy = self._built_copy(**changes)
        copy.set_weights(self.get_weights())
        return copy

    def deployment_copy(self):
        """An inference-only copy with the same arithmetic and 2-D convolutions only.

        * Every batch norm is folded into the convolution before it (kernel scaled per
          output channel, a bias added): two fewer elementwise operations per convolution,
          which an int8 model would otherwise quantize (and round) separately.
        * The 1x3x3 residual convolutions are per-frame 2-D ones (``frame_conv_2d``), and
          the remaining 3-D convolutions and transposed convolutions (compress, 3x3x3
          residual kernels, transposed upsampling) run over stacked frames
          (``stack_frames``); the output convolution already is a time-shift sum.

        TFLite runs CONV_2D and TRANSPOSE_CONV through XNNPACK but CONV_3D through slow
        kernels with huge im2col buffers, so its exports use this copy. Outputs agree with
        this model's in inference mode to float rounding (tests check 1e-5).
        """
        copy = self._built_copy(frame_conv_2d=not self.res_kernel_3d, stack_frames=True,
                                folded_norm=True, trainable=False)
        blocks = list(zip(self.conv_blocks(), copy.conv_blocks(), strict=True))
        for source, target in blocks:
            kernel, bias = source.folded_weights()
            target.conv.kernel.assign(kernel.astype(target.conv.kernel.dtype))
            target.conv.bias.assign(bias.astype(target.conv.bias.dtype))
        if len(copy.weights) != 2 * len(blocks):  # a weight outside the blocks was missed
            raise RuntimeError("deployment_copy: the generator holds weights outside its blocks")
        return copy

    def conv_blocks(self) -> list:
        """Every convolution block of the generator, in order (each holds all its weights)."""
        blocks = [*self.audio_encoder.conv_blocks(), *self.identity_encoder.conv_blocks(),
                  self.compress]
        for block in self.decoder_blocks:
            blocks += block.conv_blocks()
        for block in self.decoder_upsample:
            blocks += block.conv_blocks() if isinstance(block, UpsampleConvBlock) else [block]
        motion = [self.decoder_motion] if self.decoder_motion is not None else []
        return [*blocks, self.decoder_output, *motion]

    def _built_copy(self, **changes):
        copy = type(self).from_config({**self.get_config(), **changes})
        copy({"audio": np.zeros((1, 8, 128), "float32"),  # weights do not depend on T
              "identity": np.zeros((1, 64, 64, 3), "float32")})
        return copy

    def _fuse_and_compress(self, identity_features, audio_features, training):
        if self.factored_fusion and audio_features.shape[1] is not None:
            compress = self.compress
            if not compress.built:
                compress.build((None, audio_features.shape[1], *identity_features.shape[1:3],
                                identity_features.shape[-1] + audio_features.shape[-1]))
            # Read outside the layer's own call, the kernel is not autocast under mixed precision.
            kernel = ops.cast(compress.conv.kernel, identity_features.dtype)
            x = fused_map_conv3d(identity_features, audio_features, kernel)
            if compress.conv.use_bias:  # a deployment copy with its batch norm folded in
                x = x + compress.conv.bias
            return compress.normalize_and_activate(x, training=training)
        frames = ops.shape(audio_features)[1]
        width = identity_features.shape[2]
        # Each frequency position becomes a row of the map, copied across the width.
        audio_map = ops.repeat(ops.expand_dims(audio_features, 3), width, axis=3)
        identity_map = ops.repeat(ops.expand_dims(identity_features, 1), frames, axis=1)
        return self.compress(self.fusion_concat([identity_map, audio_map]), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "res_blocks": self.res_blocks,
                "res_kernel_3d": self.res_kernel_3d,
                "frame_conv_2d": self.frame_conv_2d,
                "factored_fusion": self.factored_fusion,
                "time_shift_output": self.time_shift_output,
                "output_mode": self.output_mode,
                "upsampling": self.upsampling,
                "stack_frames": self.stack_frames,
                "folded_norm": self.folded_norm,
                "attention_region": self.attention_region,
                "warp_range": self.warp_range,
                "dead_zone": self.dead_zone,
            }
        )
        return config


def mouth_region_profile(height: int):
    """``(1, 1, height, 1, 1)`` float32 column profile of the ``mouth`` attention region:
    0 above ``MOUTH_REGION_TOP[0]`` of the height, smoothstep to 1 at ``MOUTH_REGION_TOP[1]``."""
    low, high = LipGenerator.MOUTH_REGION_TOP
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height
    ramp = np.clip((rows - low) / (high - low), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).reshape(1, 1, height, 1, 1)
