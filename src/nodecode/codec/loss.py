"""Rate–distortion loss of Eq. 1: MSE(x, x̂) + β·max(H(q) − Ht, 0)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nodecode.codec.autoencoder import CodecOutput
from nodecode.codec.config import CodecConfig

PIXEL_SCALE = 255.0


def rate_distortion_loss(x: Tensor, out: CodecOutput, config: CodecConfig) -> tuple[Tensor, Tensor]:
    """Return (loss, mse). MSE is on the 0–255 scale so the paper's β values keep their weight."""
    mse = F.mse_loss(out.x_hat * PIXEL_SCALE, x * PIXEL_SCALE)
    rate_penalty = torch.clamp(out.entropy_bits - config.target_entropy, min=0.0)
    return mse + config.beta * rate_penalty, mse
