"""The `.ndc` container, version 2; version-1 files still read (docs/FORMAT.md).

Every field is validated before anything sized by it is allocated, so truncated, corrupted
or hostile files fail fast with a message that names the file.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from nodecode.errors import BitstreamError
from nodecode.utils.io import atomic_write_bytes

MAGIC = b"\x8bNDC"
VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_NAME_BYTES = 64
# Pillow's decompression-bomb limit; the latent of such an image is already ~45 MB of symbols.
MAX_PIXELS = 178_956_970
MAX_LATENT_CHANNELS = 4096

# The layout, public so the tools that forge files (tests/fuzz, scripts/fuzz_container.py)
# share it instead of restating it.
PREFIX = struct.Struct("<4sBB")  # magic, version, name length
FIELDS = struct.Struct("<16sIIHIIHQ")  # codec id, image h, w, latent c, h, w, centers, payload
COLOR = struct.Struct("<3b")  # version 2: per-channel colour offset, in quarter 8-bit levels
CRC = struct.Struct("<I")


@dataclass(frozen=True)
class NdcHeader:
    """What a `.ndc` file says about itself; `codec_id` ties it to exact weights and tables."""

    codec_name: str
    codec_id: bytes
    image_size: tuple[int, int]
    latent_shape: tuple[int, int, int]
    num_centers: int
    payload_length: int
    # Added to the decoded image (R, G, B), in quarter 8-bit levels: the encoder's measured
    # mean colour error, so decoding keeps the image's mean colour. Version 2 only.
    color_offset: tuple[int, int, int] = (0, 0, 0)
    version: int = VERSION

    @property
    def num_pixels(self) -> int:
        return self.image_size[0] * self.image_size[1]

    def encode(self) -> bytes:
        name = self.codec_name.encode("utf-8")
        head = PREFIX.pack(MAGIC, self.version, len(name)) + name
        head += FIELDS.pack(
            self.codec_id,
            *self.image_size,
            *self.latent_shape,
            self.num_centers,
            self.payload_length,
        )
        if self.version >= 2:
            head += COLOR.pack(*self.color_offset)
        return head + CRC.pack(zlib.crc32(head))


def _validate(header: NdcHeader, where: str) -> None:
    h, w = header.image_size
    c, lh, lw = header.latent_shape
    if not (h > 0 and w > 0):
        raise BitstreamError(f"{where}: image size {h}x{w} is empty")
    if h * w > MAX_PIXELS:
        raise BitstreamError(f"{where}: image size {h}x{w} exceeds the {MAX_PIXELS}-pixel limit")
    if not 0 < c <= MAX_LATENT_CHANNELS:
        raise BitstreamError(f"{where}: latent has {c} channels (limit {MAX_LATENT_CHANNELS})")
    if (lh, lw) != (-(-h // 8), -(-w // 8)):
        raise BitstreamError(
            f"{where}: latent {lh}x{lw} does not match image {h}x{w} (expected ceil(size/8))"
        )
    if not 2 <= header.num_centers <= 255:
        raise BitstreamError(f"{where}: {header.num_centers} quantization centers is invalid")
    if header.version not in READABLE_VERSIONS:
        raise BitstreamError(f"{where}: .ndc version {header.version} is not supported")
    if not all(-128 <= v <= 127 for v in header.color_offset):
        raise BitstreamError(f"{where}: colour offset {header.color_offset} is out of range")
    if header.version == 1 and any(header.color_offset):
        raise BitstreamError(f"{where}: a version-1 file has no colour offset")


def ndc_bytes(header: NdcHeader, payload: bytes, where: str = "<bytes>") -> bytes:
    """A whole `.ndc` file in memory."""
    if header.payload_length != len(payload):
        raise ValueError("header.payload_length does not match the payload")
    if len(header.codec_name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"codec name longer than {MAX_NAME_BYTES} bytes: {header.codec_name!r}")
    _validate(header, where)
    return header.encode() + payload + CRC.pack(zlib.crc32(payload))


def write_ndc(path: str | os.PathLike, header: NdcHeader, payload: bytes) -> int:
    """Atomically write a `.ndc` file; returns its size in bytes."""
    data = ndc_bytes(header, payload, str(path))
    atomic_write_bytes(path, data)
    return len(data)


def parse_ndc(data: bytes, where: str = "<bytes>") -> tuple[NdcHeader, bytes]:
    """Validate and split a whole `.ndc` file into its header and payload."""
    if len(data) < PREFIX.size:
        raise BitstreamError(f"{where}: truncated ({len(data)} bytes): not a .ndc file")
    magic, version, name_len = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"{where}: not a .ndc file (bad magic {magic!r})")
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise BitstreamError(
            f"{where}: .ndc version {version} is not supported (this nodecode reads {readable})"
        )
    if not 0 < name_len <= MAX_NAME_BYTES:
        raise BitstreamError(f"{where}: codec name length {name_len} is invalid")
    fields_at = PREFIX.size + name_len
    crc_at = fields_at + FIELDS.size + (COLOR.size if version >= 2 else 0)
    header_end = crc_at + CRC.size
    if len(data) < header_end + CRC.size:
        raise BitstreamError(f"{where}: truncated inside the header ({len(data)} bytes)")
    (header_crc,) = CRC.unpack_from(data, crc_at)
    if zlib.crc32(data[:crc_at]) != header_crc:
        raise BitstreamError(f"{where}: header checksum mismatch (file is corrupted)")
    try:
        name = data[PREFIX.size : fields_at].decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError(f"{where}: codec name is not valid UTF-8") from None
    codec_id, h, w, c, lh, lw, centers, payload_len = FIELDS.unpack_from(data, fields_at)
    color = COLOR.unpack_from(data, fields_at + FIELDS.size) if version >= 2 else (0, 0, 0)
    header = NdcHeader(
        name, codec_id, (h, w), (c, lh, lw), centers, payload_len, tuple(color), version
    )
    _validate(header, where)
    expected = header_end + payload_len + CRC.size
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "has trailing bytes"
        raise BitstreamError(
            f"{where}: file {state}: {len(data)} bytes, header promises {expected}"
        )
    payload = data[header_end : header_end + payload_len]
    (payload_crc,) = CRC.unpack_from(data, header_end + payload_len)
    if zlib.crc32(payload) != payload_crc:
        raise BitstreamError(f"{where}: payload checksum mismatch (file is corrupted)")
    return header, payload


def read_ndc(path: str | os.PathLike) -> tuple[NdcHeader, bytes]:
    """Read and validate a `.ndc` file (the read is bounded by the file's real size)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BitstreamError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BitstreamError(f"{path}: is a directory, not a .ndc file") from None
    except PermissionError:
        raise BitstreamError(f"{path}: permission denied") from None
    return parse_ndc(data, str(path))
