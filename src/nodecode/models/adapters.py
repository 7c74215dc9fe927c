"""Input adapters for latents of other codecs (Gupta et al., the follow-up in papers/)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, conv1x1


class TwoBranchStem(nn.Module):
    """One bottleneck block per latent kind, concatenated, before conv3_x.

    A hyperprior codec gives both ŷ and σ̂; each has its own statistics, so each gets its
    own 1×1 32 → 3×3 32 → 1×1 128 block (the follow-up's Table 2) before they are joined.
    Input: the kinds stacked along channels, `branches × in_channels` channels.
    """

    def __init__(self, in_channels: int, branches: int = 2, width: float = 1.0) -> None:
        super().__init__()
        planes = max(1, round(32 * width))
        out = planes * Bottleneck.expansion
        self.in_channels = in_channels
        self.branches = nn.ModuleList(
            Bottleneck(
                in_channels,
                planes,
                downsample=nn.Sequential(conv1x1(in_channels, out), nn.BatchNorm2d(out)),
            )
            for _ in range(branches)
        )
        self.out_channels = out * branches

    def forward(self, x: Tensor) -> Tensor:
        parts = torch.split(x, self.in_channels, dim=1)
        if len(parts) != len(self.branches):
            raise ValueError(
                f"expected {len(self.branches)}×{self.in_channels} channels, got {x.shape[1]}"
            )
        return torch.cat([branch(p) for branch, p in zip(self.branches, parts, strict=True)], 1)
