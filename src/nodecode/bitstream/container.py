"""The `.ndc` container, version 4; versions 1 to 3 still read (docs/FORMAT.md).

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
VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
MAX_NAME_BYTES = 64
# Pillow's decompression-bomb limit; the latent of such an image is already ~45 MB of symbols.
MAX_PIXELS = 178_956_970
MAX_LATENT_CHANNELS = 4096
# Version 3: a file holds up to this many strings (CompressAI's hyperprior models write two,
# ŷ then ẑ), and latent geometries up to these powers of two.
MAX_STRINGS = 8
MAX_STRIDE = 256
MAX_ALIGN = 1024
# Versions 1 and 2: one string, latent at 1/8 of the image (the paper's codec).
PAPER_GEOMETRY = (8, 8)

# The layout, public so the tools that forge files (tests/fuzz, scripts/fuzz_container.py)
# share it instead of restating it.
PREFIX = struct.Struct("<4sBB")  # magic, version, name length
FIELDS = struct.Struct("<16sIIHIIHQ")  # codec id, image h, w, latent c, h, w, centers, payload
COLOR = struct.Struct("<3b")  # versions 2-3: per-channel colour offset, in quarter 8-bit levels
WIDE_COLOR = struct.Struct("<3h")  # version 4: the same, wide enough for any mean colour error
GEOMETRY = struct.Struct("<HHB")  # version 3: latent stride, input alignment, string count
STRING_LENGTH = struct.Struct("<I")  # version 3: one per string; they sum to the payload
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
    # mean colour error, so decoding keeps the image's mean colour. Version 2 and later.
    color_offset: tuple[int, int, int] = (0, 0, 0)
    version: int = VERSION
    # Version 3: image pixels per latent position, and the multiple the encoder padded the
    # image to (CompressAI's models need 64), so the latent's size follows from the image's.
    stride: int = 8
    align: int = 8
    # Version 3: the byte length of each string in the payload (one per entropy-coded
    # latent); empty means a single string, the whole payload (versions 1 and 2).
    string_lengths: tuple[int, ...] = ()

    @property
    def num_pixels(self) -> int:
        return self.image_size[0] * self.image_size[1]

    @property
    def lengths(self) -> tuple[int, ...]:
        return self.string_lengths or (self.payload_length,)

    @property
    def overhead(self) -> int:
        """Bytes of the file beside its payload: this header and the payload's CRC."""
        return len(self.encode()) + CRC.size

    def split(self, payload: bytes) -> list[bytes]:
        """The payload cut into its strings, in the order the codec wrote them."""
        strings, at = [], 0
        for n in self.lengths:
            strings.append(payload[at : at + n])
            at += n
        return strings

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
            head += color_struct(self.version).pack(*self.color_offset)
        if self.version >= 3:
            head += GEOMETRY.pack(self.stride, self.align, len(self.lengths))
            head += b"".join(STRING_LENGTH.pack(n) for n in self.lengths)
        return head + CRC.pack(zlib.crc32(head))


def color_struct(version: int) -> struct.Struct:
    """How a version-2+ file stores its colour offset: one byte a channel (±32 levels) until
    version 3; two from version 4, since strongly coloured photos need up to ±50 levels."""
    return WIDE_COLOR if version >= 4 else COLOR


def color_range(version: int) -> tuple[int, int]:
    """The colour offsets a file of `version` holds, in quarter 8-bit levels: from version 4
    every mean error an 8-bit image can have (±255 levels)."""
    return (-4 * 255, 4 * 255) if version >= 4 else (-128, 127)


def expected_latent_size(size: int, stride: int, align: int) -> int:
    """Latent positions along an image axis of `size` pixels, padded to a multiple of `align`."""
    return -(-size // align) * align // stride


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _validate(header: NdcHeader, where: str) -> None:
    h, w = header.image_size
    c, lh, lw = header.latent_shape
    if not (h > 0 and w > 0):
        raise BitstreamError(f"{where}: image size {h}x{w} is empty")
    if h * w > MAX_PIXELS:
        raise BitstreamError(f"{where}: image size {h}x{w} exceeds the {MAX_PIXELS}-pixel limit")
    if not 0 < c <= MAX_LATENT_CHANNELS:
        raise BitstreamError(f"{where}: latent has {c} channels (limit {MAX_LATENT_CHANNELS})")
    if header.version < 3 and (header.stride, header.align, header.lengths) != (
        *PAPER_GEOMETRY,
        (header.payload_length,),
    ):
        raise BitstreamError(f"{where}: a version-{header.version} file has one string at 1/8")
    s, a = header.stride, header.align
    if not (_is_power_of_two(s) and _is_power_of_two(a) and s <= MAX_STRIDE and a <= MAX_ALIGN):
        raise BitstreamError(f"{where}: latent stride {s} / alignment {a} is invalid")
    if a % s:
        raise BitstreamError(f"{where}: alignment {a} is not a multiple of the stride {s}")
    expected = (expected_latent_size(h, s, a), expected_latent_size(w, s, a))
    if (lh, lw) != expected:
        raise BitstreamError(
            f"{where}: latent {lh}x{lw} does not match image {h}x{w} (expected "
            f"{expected[0]}x{expected[1]} at stride {s}, padded to {a})"
        )
    # Version 3 allows 0: the model brings its own alphabets (CompressAI's entropy models).
    if not (2 <= header.num_centers <= 255 or (header.num_centers == 0 and header.version >= 3)):
        raise BitstreamError(f"{where}: {header.num_centers} quantization centers is invalid")
    if not 1 <= len(header.lengths) <= MAX_STRINGS:
        raise BitstreamError(f"{where}: {len(header.lengths)} strings (limit {MAX_STRINGS})")
    if sum(header.lengths) != header.payload_length:
        raise BitstreamError(
            f"{where}: string lengths {list(header.lengths)} do not add up to the "
            f"{header.payload_length}-byte payload"
        )
    if header.version not in READABLE_VERSIONS:
        raise BitstreamError(f"{where}: .ndc version {header.version} is not supported")
    low, high = color_range(header.version)
    if not all(low <= v <= high for v in header.color_offset):
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


@dataclass(frozen=True)
class Layout:
    """Where the parts of a file's header start; shared with the tools that forge files."""

    version: int
    fields_at: int
    color_at: int | None  # version 2+ (one byte a channel; two from version 4)
    geometry_at: int | None  # version 3+
    num_strings: int
    crc_at: int

    @property
    def lengths_at(self) -> int:
        return (self.geometry_at or 0) + GEOMETRY.size

    @property
    def header_end(self) -> int:
        return self.crc_at + CRC.size


def layout(data: bytes) -> Layout | None:
    """The header layout of `data` (nothing validated), or None when too short to tell."""
    if len(data) < PREFIX.size:
        return None
    _, version, name_len = PREFIX.unpack_from(data)
    fields_at = PREFIX.size + name_len
    color_at = fields_at + FIELDS.size if version >= 2 else None
    at = fields_at + FIELDS.size + (color_struct(version).size if version >= 2 else 0)
    geometry_at, count = None, 1
    if version >= 3:
        if len(data) < at + GEOMETRY.size:
            return None
        geometry_at, count = at, GEOMETRY.unpack_from(data, at)[2]
        at += GEOMETRY.size + count * STRING_LENGTH.size
    return Layout(version, fields_at, color_at, geometry_at, count, at)


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
    at = layout(data)
    if at is not None and not 1 <= at.num_strings <= MAX_STRINGS:
        raise BitstreamError(f"{where}: {at.num_strings} strings (limit {MAX_STRINGS})")
    if at is None or len(data) < at.header_end + CRC.size:
        raise BitstreamError(f"{where}: truncated inside the header ({len(data)} bytes)")
    fields_at, crc_at = at.fields_at, at.crc_at
    geometry, lengths = PAPER_GEOMETRY, ()
    if at.geometry_at is not None:
        geometry = GEOMETRY.unpack_from(data, at.geometry_at)[:2]
        lengths = tuple(
            STRING_LENGTH.unpack_from(data, at.lengths_at + i * STRING_LENGTH.size)[0]
            for i in range(at.num_strings)
        )
    header_end = at.header_end
    (header_crc,) = CRC.unpack_from(data, crc_at)
    if zlib.crc32(data[:crc_at]) != header_crc:
        raise BitstreamError(f"{where}: header checksum mismatch (file is corrupted)")
    try:
        name = data[PREFIX.size : fields_at].decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError(f"{where}: codec name is not valid UTF-8") from None
    codec_id, h, w, c, lh, lw, centers, payload_len = FIELDS.unpack_from(data, fields_at)
    color = (
        color_struct(version).unpack_from(data, fields_at + FIELDS.size)
        if version >= 2
        else (0, 0, 0)
    )
    header = NdcHeader(
        name,
        codec_id,
        (h, w),
        (c, lh, lw),
        centers,
        payload_len,
        tuple(color),
        version,
        *geometry,
        lengths,
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
