"""Entropy coding of center indexes with CompressAI's rANS coder and static integer tables."""

from __future__ import annotations

import array
from functools import lru_cache

import torch
from torch import Tensor

from nodecode.bitstream.native import compressai_extension

_ans = compressai_extension("ans")
RansEncoder, RansDecoder = _ans.RansEncoder, _ans.RansDecoder


def _coder_args(shape: tuple[int, int, int], cdfs: Tensor) -> tuple[list, list, list, list]:
    """The coder's per-symbol table indexes and tables, as the Python lists it takes.

    Cached: files of one codec and size share them, and building the index list costs as
    much as a fifth of decoding it. The lists are only ever read."""
    cdfs = cdfs.detach().to("cpu", torch.int32).contiguous()
    return _cached_coder_args(tuple(shape), tuple(cdfs.shape), cdfs.numpy().tobytes())


@lru_cache(maxsize=32)
def _cached_coder_args(
    shape: tuple[int, ...], table_shape: tuple[int, ...], table_bytes: bytes
) -> tuple[list, list, list, list]:
    c, h, w = shape
    cdfs = torch.frombuffer(bytearray(table_bytes), dtype=torch.int32).reshape(table_shape)
    indexes = torch.arange(c, dtype=torch.int32).repeat_interleave(h * w).tolist()
    lengths = [cdfs.shape[1]] * c
    offsets = [0] * c
    return indexes, cdfs.tolist(), lengths, offsets


def without_escape(cdfs: Tensor) -> Tensor:
    """Decoding tables in which the escape symbol cannot start bypass decoding.

    CompressAI's decoder treats symbol `length − 2` as an escape and then reads a number of
    raw 4-bit chunks that the stream itself chooses, an amount no padding can bound. Our
    encoder never escapes (every center is in the alphabet), so decoding appends a
    zero-width symbol: the escape range now decodes as the plain value L, which the
    alphabet check rejects, and every other symbol decodes exactly as before.
    """
    return torch.cat([cdfs, cdfs[:, -1:]], dim=1)


def encode_symbols(symbols: Tensor, cdfs: Tensor) -> bytes:
    """rANS-code symbols shaped (C, H, W); channel c uses table `cdfs[c]`."""
    if symbols.dim() != 3 or symbols.shape[0] != cdfs.shape[0]:
        raise ValueError(f"symbols {tuple(symbols.shape)} do not match tables {tuple(cdfs.shape)}")
    c, h, w = symbols.shape
    indexes, tables, lengths, offsets = _coder_args((c, h, w), cdfs)
    values = symbols.reshape(-1).to(torch.int32).tolist()
    return RansEncoder().encode_with_indexes(values, indexes, tables, lengths, offsets)


def padded_stream(data: bytes, num_symbols: int) -> bytes:
    """The stream followed by zeros: CompressAI's decoder reads 32-bit words without bounds
    checks (two to start, at most one per symbol once escapes are off: `without_escape`),
    so a crafted stream reads this padding instead of memory past the buffer. Whether
    decoding stayed inside the real stream is checked afterwards (`canonical=True`)."""
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
    indexes, tables, lengths, offsets = _coder_args(shape, without_escape(cdfs))
    padded = padded_stream(data, len(indexes))
    values = RansDecoder().decode_with_indexes(padded, indexes, tables, lengths, offsets)
    # array.array reads the coder's list of ints 3× faster than torch.tensor(list).
    flat = torch.frombuffer(array.array("i", values), dtype=torch.int32) if values else None
    symbols = (torch.zeros(0) if flat is None else flat).to(torch.int64).reshape(shape)
    if symbols.numel() and (int(symbols.min()) < 0 or int(symbols.max()) >= cdfs.shape[1] - 2):
        raise ValueError("the stream decodes to symbols outside the alphabet")
    # Re-encode the decoder's own list: no tensor → list round trip.
    if canonical and RansEncoder().encode_with_indexes(values, *_coder_args(shape, cdfs)) != data:
        raise ValueError("the stream is not the encoding of the symbols it decodes to")
    return symbols
