"""Small layer helpers for the codec, named as in CompressAI (`conv`, `deconv`, `subpel_conv`)."""

from __future__ import annotations

from torch import Tensor, nn


def conv(in_ch: int, out_ch: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """'Same'-padded convolution; stride 2 halves the resolution."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2)


def deconv(in_ch: int, out_ch: int, kernel_size: int = 2, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that exactly doubles the resolution (kernel 2 or 4).

    Only the legacy `upsampling="transposed"` codecs use it: a 2×2 stride-2 kernel never
    overlaps, so it draws an 8-pixel block grid into the image.
    """
    padding = (kernel_size - stride) // 2
    return nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding)


def subpel_conv(in_ch: int, out_ch: int, kernel_size: int = 3) -> nn.Sequential:
    """Sub-pixel convolution (conv → depth-to-space ×2), Theis et al.'s upsampling.

    3×3 is CompressAI's `subpel_conv3x3(in_ch, out_ch, 2)`, layer for layer (same state-dict
    keys), written out because importing `compressai.layers` runs CompressAI's package
    import (datasets, models: seconds) in every process that only decodes; 1×1 is the cheap
    variant the decoder's MAC budget (2.85e9 at 224²) leaves room for on the widest map.
    """
    return nn.Sequential(conv(in_ch, out_ch * 4, kernel_size, 1), nn.PixelShuffle(2))


class ResidualUnit(nn.Module):
    """conv3×3 → ReLU → conv3×3, plus the identity (Theis et al. 2017)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels, 3, 1), nn.ReLU(inplace=True), conv(channels, channels, 3, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
