"""The paper's learned codec: autoencoder, soft-to-hard quantizer, rate estimate, zoo."""

from nodecode.codec.autoencoder import CodecOutput, ConvAutoencoder
from nodecode.codec.checkpoint import load_codec_checkpoint, save_codec
from nodecode.codec.config import OPERATING_POINTS, CodecConfig, OperatingPoint, operating_point
from nodecode.codec.loss import rate_distortion_loss
from nodecode.codec.zoo import list_codecs, load_codec, paper_codec

__all__ = [
    "OPERATING_POINTS",
    "CodecConfig",
    "CodecOutput",
    "ConvAutoencoder",
    "OperatingPoint",
    "list_codecs",
    "load_codec",
    "load_codec_checkpoint",
    "operating_point",
    "paper_codec",
    "rate_distortion_loss",
    "save_codec",
]
