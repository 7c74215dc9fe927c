"""The fuzz targets: any bytes through the whole read path of each untrusted input.

`check_ndc` (the `.ndc` reader and decoder), `check_compressai` (files of the shipped
CompressAI hyperprior: two strings, CompressAI's entropy models), `check_checkpoint` (codec and
task-model checkpoints) and `check_image` (images handed to `compress`) each accept a clean
NodecodeError or a correct result and nothing else. Shared by the atheris harness
(fuzz.py) and the regression tests, so an input that once failed keeps being checked
without atheris installed.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from nodecode.bitstream.container import CRC, FIELDS, MAGIC, STRING_LENGTH, layout
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.compressai_models import CompressAICodec
from nodecode.codec.files import decode_image, decompress_file, read_latents, symbols_from_bytes
from nodecode.codec.zoo import load_codec
from nodecode.data.images import load_image
from nodecode.errors import NodecodeError
from nodecode.models.checkpoint import load_task_model

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
# Decoding the image is skipped above this size: the pixel budget, not the fuzzer, bounds it.
DECODE_IMAGE_PIXELS = 1 << 18
# The hyperprior's g_s is a full-width CompressAI decoder: images are decoded up to 128².
HYPERPRIOR_DECODE_PIXELS = 1 << 14
HYPERPRIOR = "hyperprior-photos-1"
# The payload length is the last of the fixed fields (docs/FORMAT.md).
_LENGTH = struct.Struct("<Q")
# safetensors: an 8-byte little-endian header length, the JSON header, the tensor bytes.
_ST_LENGTH = struct.Struct("<Q")


@cache
def codec() -> ConvAutoencoder:
    """The golden tiny codec: fast, so the fuzzer spends its time in the reader."""
    return load_codec_checkpoint(GOLDEN / "codec.safetensors")


@cache
def context_codec() -> ConvAutoencoder:
    """The golden codec coding in context (bitstream/context.py): its files drive the
    context decoder, pass by pass."""
    return load_codec_checkpoint(GOLDEN / "codec-context.safetensors")


@cache
def hyperprior() -> CompressAICodec:
    """The shipped hyperprior: its files hold ŷ and ẑ strings, decoded by CompressAI's
    entropy models through nodecode's bounded coder."""
    codec = load_codec(HYPERPRIOR)
    assert isinstance(codec, CompressAICodec)
    return codec


def check_ndc(data: bytes) -> None:
    """A clean NodecodeError, or symbols inside the alphabet and an image; nothing else.
    Tried with both golden codecs: a file decodes only with the one its header names."""
    for reader in (codec(), context_codec()):
        try:
            header, symbols = symbols_from_bytes(reader, data, "<fuzz>")
        except NodecodeError:
            continue
        if symbols.numel():
            assert int(symbols.min()) >= 0 and int(symbols.max()) < reader.num_centers
        if header.num_pixels <= DECODE_IMAGE_PIXELS:
            image = decode_image(reader, header, symbols)
            assert tuple(image.shape) == (3, *header.image_size)


def check_compressai(data: bytes) -> None:
    """A hyperprior file: a clean NodecodeError, or finite ŷ and σ̂ ≥ 0 of the header's
    shape and, for small images, the image; nothing else."""

    def check(path: Path) -> None:
        try:
            header, latents = read_latents(hyperprior(), path)
        except NodecodeError:
            return
        shape = (1, *header.latent_shape)
        assert latents["y_hat"].shape == latents["sigma"].shape == shape
        for latent in latents.values():
            assert bool(torch.isfinite(latent).all())
        assert bool((latents["sigma"] >= 0).all())  # h_s ends in a ReLU
        if header.num_pixels <= HYPERPRIOR_DECODE_PIXELS:
            _, image = decompress_file(hyperprior(), path)
            assert tuple(image.shape) == (3, *header.image_size)

    _as_file(data, ".ndc", check)


def _as_file(data: bytes, suffix: str, check: Callable[[Path], None]) -> None:
    """Checkpoints and images are read from paths: a file in RAM-backed /dev/shm when there."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=folder) as f:
        f.write(data)
        f.flush()
        check(Path(f.name))


def check_checkpoint(data: bytes) -> None:
    """The bytes as a codec checkpoint and as a task model: an error, or a usable model."""

    def check(path: Path) -> None:
        try:
            loaded = load_codec_checkpoint(path)
            assert loaded.config.latent_channels >= 1
        except NodecodeError:
            pass
        try:
            model, meta = load_task_model(path)
            assert meta.num_classes >= 1 and sum(p.numel() for p in model.parameters())
        except NodecodeError:
            pass

    _as_file(data, ".safetensors", check)


def check_image(data: bytes) -> None:
    """The bytes as an image handed to `compress`: an error, or (3, H, W) in [0, 1]."""

    def check(path: Path) -> None:
        try:
            x = load_image(path)
        except NodecodeError:
            return
        assert x.dim() == 3 and x.shape[0] == 3 and x.numel()
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0

    _as_file(data, ".img", check)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ndc": check_ndc,
    "compressai": check_compressai,
    "checkpoint": check_checkpoint,
    "image": check_image,
}


def fix_checksums(data: bytes) -> bytes:
    """What an attacker does after editing a file: payload and string lengths and both CRCs
    made right, so mutations reach past the checksums."""
    at = layout(data)
    if data[: len(MAGIC)] != MAGIC or at is None or len(data) < at.header_end + CRC.size:
        return data
    head = bytearray(data[: at.crc_at])
    payload = data[at.header_end : -CRC.size]
    _LENGTH.pack_into(head, at.fields_at + FIELDS.size - _LENGTH.size, len(payload))
    if at.geometry_at is not None and at.num_strings:  # the last string takes up the rest
        last = at.lengths_at + (at.num_strings - 1) * STRING_LENGTH.size
        others = sum(
            STRING_LENGTH.unpack_from(head, at.lengths_at + 4 * i)[0]
            for i in range(at.num_strings - 1)
        )
        STRING_LENGTH.pack_into(head, last, max(len(payload) - others, 0) % (1 << 32))
    return bytes(head) + CRC.pack(zlib.crc32(head)) + payload + CRC.pack(zlib.crc32(payload))


def split_safetensors(data: bytes) -> tuple[dict, bytes] | None:
    """A checkpoint's JSON header and tensor bytes, or None if the bytes are not one."""
    if len(data) < _ST_LENGTH.size:
        return None
    (length,) = _ST_LENGTH.unpack_from(data)
    try:
        header = json.loads(data[_ST_LENGTH.size : _ST_LENGTH.size + length])
    except (ValueError, RecursionError):
        return None
    return (header, data[_ST_LENGTH.size + length :]) if isinstance(header, dict) else None


def join_safetensors(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return _ST_LENGTH.pack(len(raw)) + raw + body


def fix_png_crcs(data: bytes) -> bytes:
    """Every chunk CRC of a PNG recomputed, so mutations reach Pillow's decoders."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, at = bytearray(data[:8]), 8
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        end = at + 12 + length
        if end > len(data):
            break
        body = data[at + 4 : end - 4]
        out += data[at : at + 4] + body + struct.pack(">I", zlib.crc32(body))
        at = end
    return bytes(out + data[at:])
