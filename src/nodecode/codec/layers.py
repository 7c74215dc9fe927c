"""Small layer helpers for the codec, named as in CompressAI (`conv`, `deconv`)."""

from __future__ import annotations

from torch import Tensor, nn


def conv(in_ch: int, out_ch: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """'Same'-padded convolution; stride 2 halves the resolution."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2)


def deconv(in_ch: int, out_ch: int, kernel_size: int = 2, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that exactly doubles the resolution (kernel 2 or 4)."""
    padding = (kernel_size - stride) // 2
    return nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding)


class ResidualUnit(nn.Module):
    """conv3×3 → ReLU → conv3×3, plus the identity (Theis et al. 2017)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels, 3, 1), nn.ReLU(inplace=True), conv(channels, channels, 3, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
