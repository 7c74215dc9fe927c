"""Images ↔ `.ndc` files, and `.ndc` → latents without ever running the decoder."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from nodecode.bitstream.container import NdcHeader, ndc_bytes, parse_ndc, read_ndc, write_ndc
from nodecode.bitstream.tables import max_codable_positions
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.errors import BitstreamError, require_same_codec
from nodecode.utils.limits import max_pixels, over_budget_message

# Unit of a file's colour offset: a quarter of an 8-bit level.
COLOR_STEP = 1.0 / (4 * 255)


@dataclass
class CompressedFile:
    header: NdcHeader
    file_bytes: int

    @property
    def bpp(self) -> float:
        """Real rate: every byte of the file, header included, per pixel."""
        return 8.0 * self.file_bytes / self.header.num_pixels


def color_offset(codec: ConvAutoencoder, image: Tensor, symbols: Tensor) -> tuple[int, int, int]:
    """The decoded image's mean colour error per channel, in COLOR_STEPs (3 header bytes).

    At low rates the decoder misses an image's mean colour by several levels (a visible
    cast); JPEG keeps it through its DC coefficients. Costs one decoder pass at encode time.
    """
    image_size = (int(image.shape[-2]), int(image.shape[-1]))
    with torch.no_grad():
        decoded = codec.decode(symbols.unsqueeze(0), image_size)[0].float().cpu()
    error = (image.float().cpu() - decoded).mean(dim=(1, 2)) / COLOR_STEP
    return tuple(int(v) for v in error.round().clamp(-128, 127).tolist())


def encode_file(
    codec: ConvAutoencoder, image: Tensor, correct_color: bool = True
) -> tuple[NdcHeader, bytes]:
    """Encode one image (3, H, W) in [0, 1] to a `.ndc` header and payload; `correct_color`
    stores the decoder's mean colour error so decoding removes it (the latent is untouched)."""
    codec.require_ready()
    device = next(codec.parameters()).device
    symbols = codec.encode(image.unsqueeze(0).to(device))[0]
    offset = color_offset(codec, image, symbols) if correct_color else (0, 0, 0)
    symbols = symbols.cpu()
    payload = codec.compress_symbols(symbols.unsqueeze(0))[0]
    header = NdcHeader(
        codec_name=codec.name,
        codec_id=codec.identity(),
        image_size=(int(image.shape[-2]), int(image.shape[-1])),
        latent_shape=tuple(symbols.shape),
        num_centers=codec.num_centers,
        payload_length=len(payload),
        color_offset=offset,
    )
    return header, payload


def compress_image(
    codec: ConvAutoencoder, image: Tensor, path: str | os.PathLike, correct_color: bool = True
) -> CompressedFile:
    """Encode one image to a `.ndc` file (written atomically)."""
    header, payload = encode_file(codec, image, correct_color)
    return CompressedFile(header, write_ndc(path, header, payload))


def compressed_bytes(codec: ConvAutoencoder, image: Tensor, correct_color: bool = True) -> bytes:
    """The `.ndc` file of one image, in memory (e.g. to serve or to benchmark)."""
    return ndc_bytes(*encode_file(codec, image, correct_color))


def check_compatible(codec: ConvAutoencoder, header: NdcHeader, where: str) -> None:
    require_same_codec(
        codec.identity(),
        header.codec_id,
        f"{where}: written by codec {header.codec_name!r} ({header.codec_id.hex()}), "
        f"not by {codec.name!r} ({codec.identity().hex()}); pass the matching --codec",
    )


def check_decodable(
    codec: ConvAutoencoder, header: NdcHeader, payload_bytes: int, where: str
) -> None:
    """Everything a header promises, checked against the codec and the budget before the
    entropy decoder (native code) or any allocation sized by the header."""
    c, h, w = header.latent_shape
    if (c, header.num_centers) != (codec.config.latent_channels, codec.num_centers):
        raise BitstreamError(
            f"{where}: header says {c} channels and {header.num_centers} centers, but codec "
            f"{codec.name!r} has {codec.config.latent_channels} and {codec.num_centers}"
        )
    if header.num_pixels > (limit := max_pixels()):
        raise BitstreamError(f"{where}: {over_budget_message(*header.image_size, limit)}")
    if h * w > (limit := max_codable_positions(codec.cdfs.cpu(), payload_bytes)):
        raise BitstreamError(
            f"{where}: header claims {c}x{h}x{w} symbols, but a {payload_bytes}-byte payload "
            f"can hold at most {limit} positions (decompression bomb or corrupted header)"
        )


def read_symbols(codec: ConvAutoencoder, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """Entropy-decode a file to its symbols (C, h, w). Needs only the integer tables."""
    header, payload = read_ndc(path)
    return header, _decode_payload(codec, header, payload, str(path))


def symbols_from_bytes(
    codec: ConvAutoencoder, data: bytes, where: str = "<bytes>"
) -> tuple[NdcHeader, Tensor]:
    """`read_symbols` for a file already in memory, e.g. an upload."""
    header, payload = parse_ndc(data, where)
    return header, _decode_payload(codec, header, payload, where)


def _decode_payload(
    codec: ConvAutoencoder, header: NdcHeader, payload: bytes, where: str
) -> Tensor:
    check_compatible(codec, header, where)
    codec.require_ready()
    check_decodable(codec, header, len(payload), where)
    _, h, w = header.latent_shape
    try:
        return codec.decompress_symbols([payload], (h, w))[0]
    except ValueError as error:
        raise BitstreamError(f"{where}: payload is corrupted: {error}") from None


def read_latent(codec: ConvAutoencoder, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """The dequantized latent ẑ (C, h, w) that inference networks read; g_s never runs."""
    header, symbols = read_symbols(codec, path)
    return header, codec.dequantize(symbols.to(codec.cdfs.device))


def decode_image(codec: ConvAutoencoder, header: NdcHeader, symbols: Tensor) -> Tensor:
    """Symbols (C, h, w) of a file → the image (3, H, W) at the file's original size, its
    mean colour restored by the header's offset."""
    with torch.no_grad():
        image = codec.decode(symbols.unsqueeze(0).to(codec.cdfs.device), header.image_size)[0]
    image = image.cpu()
    if any(header.color_offset):
        offset = torch.tensor(header.color_offset, dtype=image.dtype) * COLOR_STEP
        image = (image + offset[:, None, None]).clamp(0.0, 1.0)
    return image


def decompress_file(codec: ConvAutoencoder, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """Decode a `.ndc` file to the image (3, H, W) at its original size."""
    header, symbols = read_symbols(codec, path)
    return header, decode_image(codec, header, symbols)
