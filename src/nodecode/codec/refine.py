"""Encoder-side latent refinement: a better latent for the same decoder and tables.

The analysis transform g_a is one amortised guess at the latent of any image; for one given
image, gradient descent on z can find a latent the fixed decoder turns into a closer picture
at the same rate (Campos et al. 2019, "Content adaptive optimization for neural image
compression"; Yang et al. 2020). The loss is the pixel MSE (in squared 8-bit levels) of the
decoded image plus a rate weight times the expected bits per pixel under the codec's own
tables; the quantizer's soft-to-hard gradient carries both back to z. The rate weight is
nudged towards a target rate as it goes (dual ascent): what `--bpp` asks, or what the plain
encoding spent; rate control then fits the file within that budget.
Files stay plain `.ndc`: only encoding gets slower (one decoder pass forward and back per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.errors import ConfigError

# Refinement runs the decoder forward and back on the whole image at once: by the layer sizes,
# roughly 320 bytes of saved activations per pixel at full width, so 16 MP needs about 5 GB.
MAX_PIXELS = 16_000_000


@dataclass(frozen=True)
class RefineConfig:
    """How hard to refine. The defaults were chosen on the validation photos (photos:val),
    never the test photos: docs/RESULTS.md §2b gives the commands and the grid."""

    steps: int = 80
    lr: float = 2e-2
    rate_weight: float = 30.0  # squared 8-bit levels of MSE that one bit per pixel is worth
    adapt: float = 0.5  # per step: rate weight ×= exp(adapt · (rate / target − 1))
    schedule: Literal["constant", "cosine"] = "cosine"  # cosine: lr decays to 0 at the end

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ConfigError(f"refinement steps must be 0 or more, not {self.steps}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"refinement schedule must be constant or cosine: {self.schedule!r}")
        if not all(math.isfinite(v) and v >= 0 for v in (self.lr, self.rate_weight, self.adapt)):
            raise ConfigError(f"refinement settings must be finite and non-negative: {self}")


def expected_bits(soft_assignment: Tensor, bits: Tensor) -> Tensor:
    """Bits the file would spend on average under the soft assignment (N, C, h, w, L)."""
    return (soft_assignment * bits[None, :, None, None, :]).sum()


def refine_latent(
    codec: ConvAutoencoder,
    image: Tensor,
    z: Tensor,
    target_bpp: float | None = None,
    config: RefineConfig = RefineConfig(),
) -> Tensor:
    """A refined latent for one image (1, 3, H, W), starting from its analysis z; the rate
    is steered to `target_bpp` (payload only), or by default to the table rate of z's own
    symbols."""
    bits = codec.code_lengths().to(z.device)
    pixels = image.shape[-2] * image.shape[-1]
    if pixels > MAX_PIXELS:
        raise ConfigError(
            f"refinement works on the whole image at once: {image.shape[-2]}x{image.shape[-1]} "
            f"is over {MAX_PIXELS:,} pixels; encode it without refinement"
        )
    if target_bpp is None:
        target_bpp = _table_bpp(codec, codec.quantize(z), pixels)
    weight = config.rate_weight
    z = z.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=config.lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.steps, 1))
        if config.schedule == "cosine"
        else None
    )
    for _ in range(config.steps):
        with torch.enable_grad():
            q = codec.quantizer(z)
            x_hat = codec.synthesis(q.values, (image.shape[-2], image.shape[-1]))
            distortion = F.mse_loss(x_hat.float(), image) * 255**2
            rate = expected_bits(q.soft_assignment, bits) / pixels
            (z.grad,) = torch.autograd.grad(distortion + weight * rate, [z])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        rate_now = _table_bpp(codec, q.symbols, pixels)
        weight *= math.exp(config.adapt * (rate_now / max(target_bpp, 1e-9) - 1.0))
    return z.detach()


def _table_bpp(codec: ConvAutoencoder, symbols: Tensor, pixels: int) -> float:
    """Bits per pixel of one image's symbols (1, C, h, w) as the codec codes them (in
    context, for codecs that code so): what steers the rate weight to its target."""
    return codec.ideal_bits(symbols[0]) / pixels
