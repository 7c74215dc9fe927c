"""Image quality metrics (App. A.2): PSNR, and SSIM / MS-SSIM from pytorch-msssim."""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim, ssim
from torch import Tensor

# pytorch-msssim's 5-scale MS-SSIM with an 11-px window needs a side of more than 160 px.
MS_SSIM_MIN_SIDE = 161


def psnr(x: Tensor, y: Tensor) -> float:
    """PSNR in dB on the 0–255 scale of 8-bit images (App. A.2, footnote 4)."""
    x8 = x.clamp(0, 1).mul(255).round()
    y8 = y.clamp(0, 1).mul(255).round()
    mse = torch.mean((x8 - y8) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def color_error(x: Tensor, y: Tensor) -> float:
    """Largest per-channel mean error of `y` against `x`, in 8-bit levels: a colour cast."""
    return (y.clamp(0, 1) - x).mul(255).mean(dim=(-2, -1)).abs().max().item()


def quality(x: Tensor, y: Tensor) -> dict[str, float]:
    """PSNR, SSIM, MS-SSIM and colour cast of one image pair (3, H, W) in [0, 1].

    MS-SSIM is NaN for images too small for its five scales, rather than a silently
    different metric.
    """
    a, b = x.unsqueeze(0).float(), y.unsqueeze(0).float().clamp(0, 1)
    small = min(x.shape[-2:]) < MS_SSIM_MIN_SIDE
    return {
        "psnr": psnr(x, y),
        "ssim": ssim(a, b, data_range=1.0).item(),
        "ms_ssim": math.nan if small else ms_ssim(a, b, data_range=1.0).item(),
        "color_error": color_error(x, y),
    }
