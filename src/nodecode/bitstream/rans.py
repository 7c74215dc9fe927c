"""Entropy coding of center indexes with CompressAI's rANS coder and static integer tables."""

from __future__ import annotations

import torch
from torch import Tensor

from nodecode.bitstream.native import compressai_extension

_ans = compressai_extension("ans")
RansEncoder, RansDecoder = _ans.RansEncoder, _ans.RansDecoder


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


def _padded(data: bytes, num_symbols: int) -> bytes:
    """The stream followed by zeros: CompressAI's decoder reads 32-bit words without bounds
    checks (two to start, at most one per symbol outside escapes), so a crafted stream
    reads this padding instead of memory past the buffer. Whether decoding stayed inside
    the real stream is checked afterwards (`decode_symbols(canonical=True)`)."""
    words = -(-len(data) // 4) + 2 * num_symbols + 64
    return data + bytes(4 * words - len(data))


def decode_symbols(
    data: bytes, shape: tuple[int, int, int], cdfs: Tensor, canonical: bool = True
) -> Tensor:
    """Inverse of `encode_symbols`; returns int64 symbols shaped (C, H, W).

    With `canonical`, the symbols must re-encode to exactly `data`: a stream that was cut,
    padded or spliced decodes to something, but never to symbols whose stream it is.
    Symbols outside the alphabet (escape codes) raise ValueError.
    """
    indexes, tables, lengths, offsets = _coder_args(shape, cdfs)
    padded = _padded(data, len(indexes))
    values = RansDecoder().decode_with_indexes(padded, indexes, tables, lengths, offsets)
    symbols = torch.tensor(values, dtype=torch.int64).reshape(shape)
    if symbols.numel() and (int(symbols.min()) < 0 or int(symbols.max()) >= cdfs.shape[1] - 2):
        raise ValueError("the stream decodes to symbols outside the alphabet")
    if canonical and encode_symbols(symbols, cdfs) != data:
        raise ValueError("the stream is not the encoding of the symbols it decodes to")
    return symbols
