"""Building blocks shared by the networks, one block per file."""

from lipmotion_tf.models.layers.audio_encoder import AudioEncoder
from lipmotion_tf.models.layers.conv_block import ConvBlock
from lipmotion_tf.models.layers.conv_transpose_block import ConvTransposeBlock
from lipmotion_tf.models.layers.frame_conv_3d import FrameConv3D
from lipmotion_tf.models.layers.image_encoder import ImageEncoder
from lipmotion_tf.models.layers.initializers import he_normal
from lipmotion_tf.models.layers.reflection_padding_2d import ReflectionPadding2D
from lipmotion_tf.models.layers.residual_block import ResidualBlock
from lipmotion_tf.models.layers.temporal_stack_conv import (
    TemporalStackConv3D,
    TemporalStackConv3DTranspose,
)
from lipmotion_tf.models.layers.upsample_conv_block import UpsampleConvBlock
from lipmotion_tf.models.layers.vertical_warp import vertical_warp

__all__ = [
    "AudioEncoder",
    "ConvBlock",
    "ConvTransposeBlock",
    "FrameConv3D",
    "ImageEncoder",
    "ReflectionPadding2D",
    "ResidualBlock",
    "TemporalStackConv3D",
    "TemporalStackConv3DTranspose",
    "UpsampleConvBlock",
    "he_normal",
    "vertical_warp",
]
