"""Entropy coding of center indexes with CompressAI's rANS coder and static integer tables."""

from __future__ import annotations

import torch
from compressai.ans import RansDecoder, RansEncoder
from torch import Tensor


def _coder_args(shape: tuple[int, int, int], cdfs: Tensor) -> tuple[list, list, list, list]:
    c, h, w = shape
    indexes = torch.arange(c, dtype=torch.int32).repeat_interleave(h * w).tolist()
    lengths = [cdfs.shape[1]] * c
    offsets = [0] * c
    return indexes, cdfs.tolist(), lengths, offsets


def encode_symbols(symbols: Tensor, cdfs: Tensor) -> bytes:
    """rANS-code symbols shaped (C, H, W); channel c uses table `cdfs[c]`."""
    if symbols.dim() != 3 or symbols.shape[0] != cdfs.shape[0]:
        raise ValueError(f"symbols {tuple(symbols.shape)} do not match tables {tuple(cdfs.shape)}")
    indexes, tables, lengths, offsets = _coder_args(tuple(symbols.shape), cdfs)
    values = symbols.reshape(-1).to(torch.int32).tolist()
    return RansEncoder().encode_with_indexes(values, indexes, tables, lengths, offsets)


def decode_symbols(data: bytes, shape: tuple[int, int, int], cdfs: Tensor) -> Tensor:
    """Inverse of `encode_symbols`; returns int64 symbols shaped (C, H, W)."""
    indexes, tables, lengths, offsets = _coder_args(shape, cdfs)
    values = RansDecoder().decode_with_indexes(data, indexes, tables, lengths, offsets)
    return torch.tensor(values, dtype=torch.int64).reshape(shape)
