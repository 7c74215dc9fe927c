"""Entropy coding of center indexes with static integer tables.

The coder (`_rans.c`) writes CompressAI's rANS stream format, so files read with
`compressai.ans` too, but takes NumPy arrays instead of Python lists and checks, for free,
that a stream is exactly the encoding of the symbols it decodes to: CompressAI's interface
would need the symbols re-encoded to tell, which cost as much as decoding them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nodecode.bitstream._rans import Decoder, Tables, decode_escaped, encode


def coder_tables(cdfs: Tensor) -> Tables:
    """Integer CDF rows (R, L + 2) as the coder holds them: checked and copied once."""
    array = np.ascontiguousarray(cdfs.detach().cpu().numpy(), dtype=np.int32)
    return Tables(array, array.shape[1])


def _channel_rows(shape: tuple[int, int, int]) -> np.ndarray:
    c, h, w = shape
    return np.repeat(np.arange(c, dtype=np.int32), h * w)


def encode_symbols(symbols: Tensor, cdfs: Tensor) -> bytes:
    """rANS-code symbols shaped (C, H, W); channel c uses table `cdfs[c]`."""
    if symbols.dim() != 3 or symbols.shape[0] != cdfs.shape[0]:
        raise ValueError(f"symbols {tuple(symbols.shape)} do not match tables {tuple(cdfs.shape)}")
    c, h, w = symbols.shape
    values = np.ascontiguousarray(symbols.reshape(-1).cpu().numpy(), dtype=np.int32)
    return encode(values, _channel_rows((c, h, w)), coder_tables(cdfs))


def decode_into(decoder: Decoder, rows: np.ndarray, tables: Tables) -> np.ndarray:
    """The decoder's next `len(rows)` symbols, symbol i under table `rows[i]`, as int32."""
    out = np.empty(len(rows), dtype=np.int32)
    decoder.decode(np.ascontiguousarray(rows, dtype=np.int32), tables, out)
    return out


def require_canonical(decoder: Decoder) -> None:
    """A stream that was cut, padded or spliced decodes to something, but never to symbols
    whose stream it is: the decoder must end where the encoder began, every word read."""
    if not decoder.canonical():
        raise ValueError("the stream is not the encoding of the symbols it decodes to")


def decode_symbols(data: bytes, shape: tuple[int, int, int], cdfs: Tensor) -> Tensor:
    """Inverse of `encode_symbols`; int64 symbols shaped (C, H, W). A stream that is not
    exactly the encoding of its symbols, or that decodes to the escape symbol, raises
    ValueError."""
    decoder = Decoder(data)
    flat = decode_into(decoder, _channel_rows(shape), coder_tables(cdfs))
    require_canonical(decoder)
    return torch.from_numpy(flat).to(torch.int64).reshape(shape)


class BoundedRansCoder:
    """CompressAI's entropy-coder interface (`compressai.entropy_models`' `entropy_coder`)
    for its models, whose streams use escapes: CompressAI's own encoder (the same format),
    and a decoder that never reads past a stream and refuses one that is not exactly the
    encoding of what it decodes to. CompressAI's decoder reads as many raw chunks as an
    escape asks for, past the end of the buffer if need be."""

    name = "ans"

    def encode_with_indexes(
        self,
        symbols: list[int],
        indexes: list[int],
        cdfs: list[list[int]],
        cdf_lengths: list[int],
        offsets: list[int],
    ) -> bytes:
        from nodecode.bitstream.native import compressai_extension

        encoder = compressai_extension("ans").RansEncoder()
        return encoder.encode_with_indexes(symbols, indexes, cdfs, cdf_lengths, offsets)

    def decode_with_indexes(
        self,
        string: bytes,
        indexes: list[int],
        cdfs: list[list[int]],
        cdf_lengths: list[int],
        offsets: list[int],
    ) -> list[int]:
        tables = np.asarray(cdfs, dtype=np.int32)  # CompressAI pads its rows to one width
        values = decode_escaped(
            bytes(string),
            np.asarray(indexes, dtype=np.int32),
            np.ascontiguousarray(tables.reshape(-1)),
            tables.shape[1],
            np.asarray(cdf_lengths, dtype=np.int32),
            np.asarray(offsets, dtype=np.int32),
        )
        return np.frombuffer(values, dtype=np.int32).tolist()
