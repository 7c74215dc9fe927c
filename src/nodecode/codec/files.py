"""Images ↔ `.ndc` files, and `.ndc` → latents without ever running the decoder."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from nodecode.bitstream.container import (
    VERSION,
    NdcHeader,
    color_range,
    ndc_bytes,
    parse_ndc,
    read_ndc,
    write_ndc,
)
from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.rate_control import strings_within, target_bpp
from nodecode.codec.refine import RefineConfig, refine_latent
from nodecode.codec.zoo import Codec, paper_codec_only
from nodecode.errors import BitstreamError, ConfigError, require_same_codec
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


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Replicate-pad (N, 3, H, W) to a multiple of `multiple`, as every codec's encoder needs."""
    ph, pw = -x.shape[-2] % multiple, -x.shape[-1] % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def _decode_strings(codec: Codec, strings: list[bytes], latent_size: tuple[int, int]) -> Tensor:
    """The image (3, H', W') at the padded size: `decompress` of one file's strings."""
    with torch.no_grad():
        out = codec.decompress([[s] for s in strings], codec.strings_shape(latent_size))
    return out["x_hat"][0].float().clamp(0.0, 1.0).cpu()


def color_offset(
    codec: Codec, image: Tensor, strings: list[bytes], latent_size: tuple[int, int]
) -> tuple[int, int, int]:
    """The per-channel offset, in COLOR_STEPs (the header's colour field), that gives the
    decoded image the original's mean colour.

    At low rates the decoder misses an image's mean colour by several levels, and by up to
    50 on strongly coloured photos (a visible cast); JPEG keeps it through its DC
    coefficients. Costs one decoder pass at encode time.
    """
    h, w = image.shape[-2:]
    decoded = _decode_strings(codec, strings, latent_size)[:, :h, :w]
    r, g, b = mean_preserving_offset(image.float().cpu(), decoded)
    return (r, g, b)


def mean_preserving_offset(image: Tensor, decoded: Tensor) -> list[int]:
    """Per channel, the offset k (in COLOR_STEPs, within the header's range) whose
    clamp(decoded + k · COLOR_STEP) has the mean closest to the image's.

    The plain mean difference falls short where the decoded image is clamped at black or
    white (a dark photo's shadows lose 2 levels of mean so); the clamped mean grows
    monotonically with k, so a bisection over the integers finds the best k.
    """
    low, high = color_range(VERSION)
    target = image.mean(dim=(1, 2))

    def mean_at(k: Tensor) -> Tensor:
        return (decoded + k[:, None, None] * COLOR_STEP).clamp(0.0, 1.0).mean(dim=(1, 2))

    lo = torch.full((3,), float(low))  # mean_at(lo) <= target unless nothing reaches it
    hi = torch.full((3,), float(high))
    while bool((hi - lo > 1).any()):
        mid = torch.floor((lo + hi) / 2)
        below = mean_at(mid) <= target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    closer_hi = (mean_at(hi) - target).abs() < (mean_at(lo) - target).abs()
    return [int(v) for v in torch.where(closer_hi, hi, lo).tolist()]


def encode_file(
    codec: Codec,
    image: Tensor,
    correct_color: bool = True,
    bpp: float | str | None = None,
    refine: RefineConfig | None = None,
) -> tuple[NdcHeader, bytes]:
    """Encode one image (3, H, W) in [0, 1] to a `.ndc` header and payload; `correct_color`
    stores the decoder's mean colour error so decoding removes it (the latent is untouched).
    `bpp` (a rate, or "nominal" for the codec's own) caps the whole file's size by rate
    control at encode time (codec/rate_control.py); None spends what the image needs.
    `refine` optimises the latent for this image first (codec/refine.py)."""
    codec.require_ready()
    x, latent_size = _encoder_input(codec, image)
    if bpp is None and refine is None:
        with torch.no_grad():
            strings = [per_image[0] for per_image in codec.compress(x)["strings"]]
    else:
        strings = _adapted_strings(codec, image, x, latent_size, bpp, refine)
    offset = color_offset(codec, image, strings, latent_size) if correct_color else (0, 0, 0)
    header = _header(codec, image, latent_size, strings, offset)
    return header, b"".join(strings)


def _encoder_input(codec: Codec, image: Tensor) -> tuple[Tensor, tuple[int, int]]:
    """One image (3, H, W) as its encoder takes it (1, 3, H', W'), padded and on the codec's
    device, and the latent's size."""
    x = pad_to_multiple(image.unsqueeze(0), codec.alignment).to(next(codec.parameters()).device)
    return x, (x.shape[-2] // codec.stride, x.shape[-1] // codec.stride)


def _header(
    codec: Codec,
    image: Tensor,
    latent_size: tuple[int, int],
    strings: list[bytes],
    color: tuple[int, int, int],
) -> NdcHeader:
    return NdcHeader(
        codec_name=codec.name,
        codec_id=codec.identity(),
        image_size=(int(image.shape[-2]), int(image.shape[-1])),
        latent_shape=(codec.latent_channels, *latent_size),
        num_centers=codec.num_centers,
        payload_length=sum(map(len, strings)),
        color_offset=color,
        stride=codec.stride,
        align=codec.alignment,
        string_lengths=tuple(map(len, strings)),
    )


def _adapted_strings(
    codec: Codec,
    image: Tensor,
    x: Tensor,
    latent_size: tuple[int, int],
    bpp: float | str | None,
    refine: RefineConfig | None,
) -> list[bytes]:
    """The strings of one image encoded for it alone: its latent refined, and the whole
    file no larger than `bpp` · pixels / 8 bytes, header included (without `bpp`, no larger
    than the plain encoding: refinement then buys quality, never rate)."""
    codec = paper_codec_only(codec, "rate control (--bpp) and refinement (--refine)")
    z = codec.latent_values(x)
    budget, where = _payload_budget(codec, image, latent_size, z, bpp)
    if refine is not None and refine.steps > 0:
        payload_bpp = 8 * budget / (image.shape[-2] * image.shape[-1])
        z = refine_latent(codec, image.unsqueeze(0).to(x.device), z, payload_bpp, refine)
    return strings_within(codec, z, budget, where).strings


def _payload_budget(
    codec: ConvAutoencoder,
    image: Tensor,
    latent_size: tuple[int, int],
    z: Tensor,
    bpp: float | str | None,
) -> tuple[int, str]:
    """The payload bytes one image's file may spend (the header's bytes off `bpp`'s whole
    file; without `bpp`, what the plain encoding spends), and how to name the image."""
    empty = _header(codec, image, latent_size, [b""] * codec.num_strings, (0, 0, 0))
    if bpp is None:
        budget = sum(map(len, codec.compress_symbols(codec.quantize(z))))
        return budget, f"{empty.image_size[0]}x{empty.image_size[1]} image at its plain rate"
    rate = target_bpp(codec, bpp)
    budget = math.floor(rate * empty.num_pixels / 8) - empty.overhead
    return budget, f"{empty.image_size[0]}x{empty.image_size[1]} image at {rate:g} bpp"


@torch.no_grad()
def capped_symbols(codec: Codec, image: Tensor, bpp: float | str) -> Tensor:
    """The symbols (1, C, h, w) that `encode_file(codec, image, bpp=bpp)` stores: what a
    network reads from that file, for encoding a dataset at a chosen (e.g. matched) rate."""
    codec = paper_codec_only(codec, "rate control (--bpp)")
    x, latent_size = _encoder_input(codec, image)
    z = codec.latent_values(x)
    budget, where = _payload_budget(codec, image, latent_size, z, bpp)
    return codec.quantize(z, strings_within(codec, z, budget, where).rate_weight)


def compress_image(
    codec: Codec,
    image: Tensor,
    path: str | os.PathLike,
    correct_color: bool = True,
    bpp: float | str | None = None,
    refine: RefineConfig | None = None,
) -> CompressedFile:
    """Encode one image to a `.ndc` file (written atomically); `bpp` and `refine` as in
    `encode_file`."""
    header, payload = encode_file(codec, image, correct_color, bpp, refine)
    return CompressedFile(header, write_ndc(path, header, payload))


def compressed_bytes(
    codec: Codec,
    image: Tensor,
    correct_color: bool = True,
    bpp: float | str | None = None,
    refine: RefineConfig | None = None,
) -> bytes:
    """The `.ndc` file of one image, in memory (e.g. to serve or to benchmark)."""
    return ndc_bytes(*encode_file(codec, image, correct_color, bpp, refine))


def check_compatible(codec: Codec, header: NdcHeader, where: str) -> None:
    identity = codec.identity()
    require_same_codec(
        identity,
        header.codec_id,
        f"{where}: written by codec {header.codec_name!r} ({header.codec_id.hex()}), "
        f"not by {codec.name!r} ({identity.hex()}); pass the matching --codec",
    )


def check_decodable(codec: Codec, header: NdcHeader, where: str) -> None:
    """Everything a header promises, checked against the codec and the budget before the
    entropy decoder (native code) or any allocation sized by the header."""
    c, h, w = header.latent_shape
    promised = (c, header.num_centers, header.stride, header.align, len(header.lengths))
    own = (
        codec.latent_channels,
        codec.num_centers,
        codec.stride,
        codec.alignment,
        codec.num_strings,
    )
    if promised != own:
        names = "channels, centers, stride, alignment, strings"
        raise BitstreamError(
            f"{where}: header says ({names}) = {promised}, but codec {codec.name!r} has {own}"
        )
    if header.num_pixels > (limit := max_pixels()):
        raise BitstreamError(f"{where}: {over_budget_message(*header.image_size, limit)}")
    if h * w > (limit := codec.max_positions(header.lengths)):
        raise BitstreamError(
            f"{where}: header claims {c}x{h}x{w} symbols, but a {header.payload_length}-byte "
            f"payload can hold at most {limit} positions (decompression bomb or corrupted header)"
        )


def read_strings(
    codec: Codec, path: str | os.PathLike | None = None, data: bytes | None = None
) -> tuple[NdcHeader, list[bytes]]:
    """A file's header and strings (from `path`, or `data` already in memory), checked
    against `codec` and the decoding budget: nothing past here trusts the file."""
    where = str(path) if path is not None else "<bytes>"
    if data is None:
        if path is None:
            raise ValueError("read_strings needs a path or the file's bytes")
        header, payload = read_ndc(path)
    else:
        header, payload = parse_ndc(data, where)
    check_compatible(codec, header, where)
    codec.require_ready()
    check_decodable(codec, header, where)
    return header, header.split(payload)


def read_latents(codec: Codec, path: str | os.PathLike) -> tuple[NdcHeader, dict[str, Tensor]]:
    """What inference networks read, each (1, C, h, w): ŷ, and σ̂ for hyperprior models.
    Entropy decoding (and h_s) only: the synthesis transform g_s never runs."""
    header, strings = read_strings(codec, path)
    latent_size = header.latent_shape[1:]
    try:
        latents = codec.latent([[s] for s in strings], codec.strings_shape(latent_size))
    except ValueError as error:
        raise BitstreamError(f"{path}: payload is corrupted: {error}") from None
    return header, latents


def read_symbols(codec: ConvAutoencoder, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """Entropy-decode a file of the paper's codec to its symbols (C, h, w), center indexes.
    Needs only the integer tables."""
    header, strings = read_strings(codec, path)
    return header, _decode_symbols(codec, header, strings, str(path))


def symbols_from_bytes(
    codec: ConvAutoencoder, data: bytes, where: str = "<bytes>"
) -> tuple[NdcHeader, Tensor]:
    """`read_symbols` for a file already in memory, e.g. an upload."""
    header, strings = read_strings(codec, data=data)
    return header, _decode_symbols(codec, header, strings, where)


def _decode_symbols(
    codec: ConvAutoencoder, header: NdcHeader, strings: list[bytes], where: str
) -> Tensor:
    if not isinstance(codec, ConvAutoencoder):
        raise ConfigError(f"{where}: codec {codec.name!r} has no center indexes (symbols)")
    try:
        return codec.decompress_symbols(strings, header.latent_shape[1:])[0]
    except ValueError as error:
        raise BitstreamError(f"{where}: payload is corrupted: {error}") from None


def read_latent(codec: Codec, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """The latent ŷ (C, h, w) that inference networks read; g_s never runs."""
    header, latents = read_latents(codec, path)
    return header, latents["y_hat"][0]


def restore_color(header: NdcHeader, image: Tensor) -> Tensor:
    """The header's mean-colour offset added to a decoded image (3, H, W)."""
    if not any(header.color_offset):
        return image
    offset = torch.tensor(header.color_offset, dtype=image.dtype) * COLOR_STEP
    return (image + offset[:, None, None]).clamp(0.0, 1.0)


def decode_image(codec: ConvAutoencoder, header: NdcHeader, symbols: Tensor) -> Tensor:
    """Symbols (C, h, w) of a file → the image (3, H, W) at the file's original size, its
    mean colour restored by the header's offset."""
    with torch.no_grad():
        image = codec.decode(symbols.unsqueeze(0).to(codec.cdfs.device), header.image_size)[0]
    return restore_color(header, image.cpu())


def decompress_file(codec: Codec, path: str | os.PathLike) -> tuple[NdcHeader, Tensor]:
    """Decode a `.ndc` file to the image (3, H, W) at its original size."""
    header, strings = read_strings(codec, path)
    if isinstance(codec, ConvAutoencoder):  # tiled decoding keeps big images in memory
        symbols = _decode_symbols(codec, header, strings, str(path))
        return header, decode_image(codec, header, symbols)
    try:
        image = _decode_strings(codec, strings, header.latent_shape[1:])
    except ValueError as error:
        raise BitstreamError(f"{path}: payload is corrupted: {error}") from None
    h, w = header.image_size
    return header, restore_color(header, image[:, :h, :w])
