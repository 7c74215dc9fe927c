"""The fuzz target: any bytes through the whole `.ndc` read and decode path.

Shared by the atheris harness (fuzz_ndc.py) and the regression tests, so an input that once
failed keeps being checked without atheris installed.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache
from pathlib import Path

from nodecode.bitstream.container import COLOR, CRC, FIELDS, MAGIC, PREFIX
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import decode_image, symbols_from_bytes
from nodecode.errors import NodecodeError

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
# Decoding the image is skipped above this size: the pixel budget, not the fuzzer, bounds it.
DECODE_IMAGE_PIXELS = 1 << 18
# The payload length is the last of the fixed fields (docs/FORMAT.md).
_LENGTH = struct.Struct("<Q")


@cache
def codec() -> ConvAutoencoder:
    """The golden tiny codec: fast, so the fuzzer spends its time in the reader."""
    return load_codec_checkpoint(GOLDEN / "codec.safetensors")


def check_input(data: bytes) -> None:
    """A clean NodecodeError, or symbols inside the alphabet and an image; nothing else."""
    try:
        header, symbols = symbols_from_bytes(codec(), data, "<fuzz>")
    except NodecodeError:
        return
    if symbols.numel():
        assert int(symbols.min()) >= 0 and int(symbols.max()) < codec().num_centers
    if header.num_pixels <= DECODE_IMAGE_PIXELS:
        image = decode_image(codec(), header, symbols)
        assert tuple(image.shape) == (3, *header.image_size)


def fix_checksums(data: bytes) -> bytes:
    """What an attacker does after editing a file: payload length and both CRCs made right,
    so mutations reach past the checksums."""
    if len(data) < PREFIX.size or data[: len(MAGIC)] != MAGIC:
        return data
    _, version, name_length = PREFIX.unpack_from(data)
    fields_at = PREFIX.size + name_length
    header_end = fields_at + FIELDS.size + (COLOR.size if version >= 2 else 0)
    if len(data) < header_end + 8:
        return data
    head = bytearray(data[:header_end])
    payload = data[header_end + CRC.size : -CRC.size]
    _LENGTH.pack_into(head, fields_at + FIELDS.size - _LENGTH.size, len(payload))
    return bytes(head) + CRC.pack(zlib.crc32(head)) + payload + CRC.pack(zlib.crc32(payload))
