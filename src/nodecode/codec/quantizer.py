"""Scalar soft-to-hard quantization (Agustsson et al. 2017; Torfason et al. 2018, App. A.1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Quantized:
    """Hard values with the soft gradient, the symbols (center indexes) and the soft assignment."""

    values: Tensor
    symbols: Tensor
    soft_assignment: Tensor


class SoftToHardQuantizer(nn.Module):
    """Quantize each latent entry to one of L learned centers.

    Forward uses the hard nearest center Q(z); backward uses the gradient of the soft
    assignment Q̃(z) = Σ_j softmax(-σ (z - c_j)²)_j c_j, so the encoder and the centers learn.
    """

    def __init__(self, num_centers: int = 6, init_range: float = 2.0, sigma: float = 1.0) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.linspace(-init_range, init_range, num_centers))
        self.sigma = sigma

    @property
    def num_centers(self) -> int:
        return self.centers.numel()

    def forward(self, z: Tensor) -> Quantized:
        sq_dist = (z.unsqueeze(-1) - self.centers) ** 2
        soft_assignment = torch.softmax(-self.sigma * sq_dist, dim=-1)
        soft = (soft_assignment * self.centers).sum(-1)
        symbols = sq_dist.argmin(-1)
        hard = self.centers[symbols]
        values = soft + (hard - soft).detach()
        return Quantized(values, symbols, soft_assignment)

    @torch.no_grad()
    def symbols(self, z: Tensor, penalty: Tensor | None = None) -> Tensor:
        """Nearest centers of z (N, C, H, W); with `penalty` (C, L) per channel or (N, C, H, W, L)
        per entry, the centers minimising (z − c)² + penalty instead: a rate-weighted choice
        at encode time."""
        if penalty is None:
            return (z.unsqueeze(-1) - self.centers).abs().argmin(-1)
        if penalty.dim() == 2:
            penalty = penalty[:, None, None, :]
        cost = (z.unsqueeze(-1) - self.centers) ** 2 + penalty.to(z)
        return cost.argmin(-1)

    def dequantize(self, symbols: Tensor) -> Tensor:
        return self.centers[symbols.long()]
