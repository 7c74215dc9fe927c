"""Symbols ↔ bytes: integer frequency tables, rANS coding, and the `.ndc` container."""

from nodecode.bitstream.container import NdcHeader, read_ndc, write_ndc
from nodecode.bitstream.rans import decode_symbols, encode_symbols
from nodecode.bitstream.tables import count_symbols, quantized_cdfs, symbol_bits

__all__ = [
    "NdcHeader",
    "count_symbols",
    "decode_symbols",
    "encode_symbols",
    "quantized_cdfs",
    "read_ndc",
    "symbol_bits",
    "write_ndc",
]
