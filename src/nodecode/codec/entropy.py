"""Differentiable rate estimate H(q) from the soft histogram of symbol assignments."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def soft_histogram(soft_assignment: Tensor) -> Tensor:
    """Per-channel symbol probabilities, shape (C, L), from an (N, C, H, W, L) soft assignment.

    Per-channel histograms match how the symbols are actually coded (one table per channel),
    so H·C/64 is the rate the entropy coder can reach, not just an upper bound.
    """
    n, c, h, w, num_centers = soft_assignment.shape
    return soft_assignment.permute(1, 0, 2, 3, 4).reshape(c, -1, num_centers).mean(1)


def entropy_bits(probs: Tensor, eps: float = 1e-12) -> Tensor:
    """Entropy in bits of each row of `probs` (last dimension sums to 1)."""
    return -(probs * torch.log2(probs.clamp_min(eps))).sum(-1)


def mean_entropy_bits(soft_assignment: Tensor) -> Tensor:
    """H(q) in bits per symbol: the mean over channels of each channel's histogram entropy."""
    return entropy_bits(soft_histogram(soft_assignment)).mean()


def hard_entropy_bits(soft_assignment: Tensor, symbols: Tensor) -> Tensor:
    """H(q) with the value of the hard symbols' histogram and the soft histogram's gradient.

    The hinge of Eq. 1 then acts on the rate the entropy coder will really spend, while the
    encoder and the centers still get the soft-to-hard gradient.
    """
    soft = mean_entropy_bits(soft_assignment)
    one_hot = F.one_hot(symbols, soft_assignment.shape[-1]).to(soft_assignment.dtype)
    hard = entropy_bits(soft_histogram(one_hot)).mean()
    return soft + (hard - soft).detach()


def symbol_probabilities(soft_assignment: Tensor, symbols: Tensor) -> Tensor:
    """Each symbol's probability under its channel's histogram, shaped like `symbols`:
    CompressAI's "likelihoods", whose −log2 sum is the rate. The value is the hard symbols'
    histogram (the rate the coder reaches), the gradient the soft one's, as in
    `hard_entropy_bits`."""
    soft = soft_histogram(soft_assignment)  # (C, L)
    one_hot = F.one_hot(symbols, soft_assignment.shape[-1]).to(soft_assignment.dtype)
    histogram = soft + (soft_histogram(one_hot) - soft).detach()
    channels = histogram.shape[0]
    per_channel = symbols.transpose(0, 1).reshape(channels, -1)  # (C, N·h·w)
    probs = histogram.gather(1, per_channel)
    return probs.reshape(channels, symbols.shape[0], *symbols.shape[2:]).transpose(0, 1)


def empirical_entropy_bits(symbols: Tensor, num_centers: int) -> Tensor:
    """Per-channel entropy (bits/symbol) of hard symbols shaped (N, C, H, W) or (C, H, W)."""
    if symbols.dim() == 3:
        symbols = symbols.unsqueeze(0)
    c = symbols.shape[1]
    flat = symbols.transpose(0, 1).reshape(c, -1).long()
    counts = torch.zeros(c, num_centers, dtype=torch.float64)
    counts.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    return entropy_bits(counts / counts.sum(1, keepdim=True))
