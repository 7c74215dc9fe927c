"""Static integer probability tables: the only state the entropy decoder needs.

Tables are integer CDFs at 16-bit precision in CompressAI's layout (L symbols plus an
escape symbol, L + 2 entries). Because decoding reads only these integers, a file decodes
bit-exactly on any machine, CPU or GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nodecode.bitstream.native import compressai_extension

pmf_to_quantized_cdf = compressai_extension("_CXX").pmf_to_quantized_cdf

PRECISION = 16


def count_symbols(symbols: Tensor, num_centers: int) -> Tensor:
    """Per-channel symbol counts, shape (C, L), from symbols shaped (N, C, H, W)."""
    c = symbols.shape[1]
    flat = symbols.transpose(0, 1).reshape(c, -1).long()
    counts = torch.zeros(c, num_centers, dtype=torch.int64)
    counts.scatter_add_(1, flat, torch.ones_like(flat))
    return counts


def quantized_cdfs(counts: Tensor) -> Tensor:
    """Integer CDF tables (C, L + 2) from counts; +1 smoothing keeps every center codable."""
    counts = counts.to(torch.float64) + 1.0
    pmfs = counts / counts.sum(1, keepdim=True)
    rows = [pmf_to_quantized_cdf(pmf.tolist() + [0.0], PRECISION) for pmf in pmfs]
    return torch.tensor(rows, dtype=torch.int32)


def symbol_frequencies(cdfs: Tensor) -> Tensor:
    """Integer frequency of each symbol (C, L + 1), the escape symbol last."""
    return (cdfs[:, 1:] - cdfs[:, :-1]).to(torch.int64)


def code_lengths(cdfs: Tensor) -> Tensor:
    """Ideal code length in bits of each symbol under its channel's table, (C, L + 1)."""
    return PRECISION - torch.log2(symbol_frequencies(cdfs).to(torch.float64))


def symbol_bits(symbols: Tensor, cdfs: Tensor) -> float:
    """Ideal code length in bits of symbols (C, H, W) under the stored tables."""
    c = symbols.shape[0]
    return float(code_lengths(cdfs).gather(1, symbols.reshape(c, -1).long()).sum())


def min_bits_per_channel(cdfs: Tensor) -> Tensor:
    """The cheapest symbol's cost in each channel (C,): what rANS can honestly reach."""
    return code_lengths(cdfs).min(dim=1).values


def max_codable_positions(
    bits_per_channel: Tensor, payload_bytes: int, slack_bits: int = 64
) -> int:
    """How many latent positions (one symbol in every channel) a payload can honestly hold:
    each position costs at least the sum over channels of their cheapest symbols
    (`min_bits_per_channel`, or less where context tables make a symbol cheaper)."""
    per_position = float(bits_per_channel.sum())
    return int((8 * payload_bytes + slack_bits) / max(per_position, 1e-12))


def table_problem(cdfs: Tensor) -> str | None:
    """Why integer tables cannot be coded with (None if they can, or are all zero = not yet
    fitted): each row must run from 0 to 2^16 with every symbol's frequency at least 1."""
    if not cdfs[:, -1].any():
        return None
    if cdfs.dim() != 2 or cdfs.shape[1] < 3:
        return f"tables of shape {tuple(cdfs.shape)}"
    if bool((cdfs[:, 0] != 0).any()) or bool((cdfs[:, -1] != 1 << PRECISION).any()):
        return f"a table does not run from 0 to {1 << PRECISION}"
    if bool((symbol_frequencies(cdfs) < 1).any()):
        return "a symbol has zero (or negative) frequency"
    return None
