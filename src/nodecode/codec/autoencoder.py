"""The paper's learned codec: Theis et al. (2017) autoencoder with soft-to-hard quantization."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nodecode.bitstream import count_symbols, decode_symbols, encode_symbols, quantized_cdfs
from nodecode.bitstream.context import ContextCoder, count_contexts, num_contexts, num_passes
from nodecode.bitstream.tables import (
    code_lengths,
    max_codable_positions,
    min_bits_per_channel,
    symbol_bits,
)
from nodecode.codec.config import CodecConfig
from nodecode.codec.entropy import hard_entropy_bits, mean_entropy_bits, symbol_probabilities
from nodecode.codec.layers import ResidualUnit, conv, deconv, subpel_conv
from nodecode.codec.quantizer import SoftToHardQuantizer
from nodecode.errors import CodecNotReadyError
from nodecode.utils.digest import state_digest

DOWNSAMPLING = 8
# Large images encode and decode in tiles of this many latent positions a side (1024²
# pixels), each with DECODE_HALO positions of context around it: g_s sees at most 4 latent
# positions away and g_a at most 5 (tests/codec/test_autoencoder.py), so a tile's core is
# what a whole pass gives, while memory stays at one tile's activations plus the output.
DECODE_TILE = 128
DECODE_HALO = 8
# Rate control in context: each round prices centers in the contexts of the previous choice.
CONTEXT_PRICING_ROUNDS = 2
# Buffers fitted to symbol statistics rather than learned: refitted whenever weights move.
TABLE_BUFFERS = ("symbol_counts", "cdfs", "context_cdfs")


def _tiles(h: int, w: int, tile: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Latent tiles as ((core start, end, with-halo start, end) per axis)."""

    def spans(n: int) -> list[tuple[int, ...]]:
        return [
            (a, min(a + tile, n), max(0, a - DECODE_HALO), min(n, a + tile + DECODE_HALO))
            for a in range(0, n, tile)
        ]

    return [(ys, xs) for ys in spans(h) for xs in spans(w)]


@dataclass
class CodecOutput:
    """Training-time output: reconstruction, symbols, and the differentiable rate H(q).

    Also readable as CompressAI's forward dict (`out["x_hat"]`, `out["likelihoods"]["y"]`),
    so CompressAI's losses and `inference_entropy_estimation` work on it."""

    x_hat: Tensor
    symbols: Tensor
    latent: Tensor
    entropy_bits: Tensor
    bpp_estimate: Tensor
    symbol_probs: Tensor | None = None  # p(symbol) under the batch's soft histogram

    @property
    def likelihoods(self) -> dict[str, Tensor]:
        if self.symbol_probs is None:
            raise KeyError("likelihoods")
        return {"y": self.symbol_probs}

    def __getitem__(self, key: str) -> object:
        if key not in ("x_hat", "likelihoods"):
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return ("x_hat", "likelihoods")


class ConvAutoencoder(nn.Module):
    """Compressive autoencoder of Torfason et al. 2018 (§3.1, App. A.1).

    ::

        x ─► g_a ─► z ─► Q ─► symbols ─► rANS ─► bytes        (compress)
                         │
                         ▼  ẑ = centers[symbols]   ◄── what cResNets read
        x̂ ◄──────── g_s ◄┘                                     (decompress)

    g_a: conv5×5/2 (64) → conv5×5/2 (128) → 3 residual units → conv5×5/2 (C); latent h/8 × w/8 × C.
    g_s mirrors it with sub-pixel convolutions (conv → depth-to-space, as in Theis et al.):
    3×3 from the latent, 1×1 at 56², 3×3 to RGB. At full width and 224² the encoder costs
    3.56e9 MACs and the decoder 2.90–2.99e9 (C = 8…32), within 5 % of the paper's 3.56e9 /
    2.85e9. `width` scales the 64/128 channels for small CPU models.
    """

    # Buffers, declared for type checkers (nn.Module's attribute lookup is untyped).
    symbol_counts: Tensor
    cdfs: Tensor
    context_cdfs: Tensor  # only with config.context_levels > 0

    def __init__(self, config: CodecConfig | None = None, name: str = "custom") -> None:
        super().__init__()
        self.config = config = config or CodecConfig()
        self.name = name
        n1, n2 = config.channels
        c = config.latent_channels
        self.g_a = nn.Sequential(
            conv(3, n1),
            nn.ReLU(inplace=True),
            conv(n1, n2),
            nn.ReLU(inplace=True),
            ResidualUnit(n2),
            ResidualUnit(n2),
            ResidualUnit(n2),
            conv(n2, c),
        )
        self.g_s = self._synthesis_transform(c, n1, n2, config.upsampling)
        self.quantizer = SoftToHardQuantizer(
            config.num_centers, config.center_init_range, config.softmax_sigma
        )
        self.register_buffer("symbol_counts", torch.zeros(c, config.num_centers, dtype=torch.int64))
        self.register_buffer("cdfs", torch.zeros(c, config.num_centers + 2, dtype=torch.int32))
        if config.context_levels:  # absent otherwise: older codecs keep their identity
            rows = num_passes(config.context_levels) * c * num_contexts(config.num_centers)
            table = torch.zeros(rows, config.num_centers + 2, dtype=torch.int32)
            self.register_buffer("context_cdfs", table)

    @staticmethod
    def _synthesis_transform(c: int, n1: int, n2: int, upsampling: str) -> nn.Sequential:
        up1: nn.Module
        up2: nn.Module
        up3: nn.Module
        if upsampling == "transposed":  # codecs saved before sub-pixel upsampling
            up1, up2, up3 = deconv(c, n2, 2), deconv(n2, n1, 2), deconv(n1, 3, 4)
        else:
            # The widest map (112² at 224²) gets half the channels and a 1×1 kernel so the
            # decoder stays within 5 % of the paper's 2.85e9 MACs; the 3×3 sub-pixel
            # convolutions on both sides overlap across the latent's 8-pixel grid.
            n_half = max(1, n1 // 2)
            up1, up2 = subpel_conv(c, n2, 3), subpel_conv(n2, n_half, 1)
            up3 = subpel_conv(n_half, 3, 3)
        return nn.Sequential(
            up1,
            nn.ReLU(inplace=True),
            ResidualUnit(n2),
            ResidualUnit(n2),
            ResidualUnit(n2),
            up2,
            nn.ReLU(inplace=True),
            up3,
        )

    # -- analysis / synthesis -------------------------------------------------------------
    @staticmethod
    def pad(x: Tensor) -> Tensor:
        """Replicate-pad to a multiple of 8 so any image size maps to a whole latent."""
        h, w = x.shape[-2:]
        ph, pw = -h % DOWNSAMPLING, -w % DOWNSAMPLING
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def analysis(self, x: Tensor) -> Tensor:
        """Image in [0, 1] → continuous latent z (before quantization)."""
        return self.g_a(self.pad(x) * 2.0 - 1.0)

    def synthesis(self, latent: Tensor, image_size: tuple[int, int] | None = None) -> Tensor:
        """Dequantized latent ẑ → image, cropped to `image_size` when given."""
        x_hat = self.g_s(latent) * 0.5 + 0.5
        if image_size is not None:
            x_hat = x_hat[..., : image_size[0], : image_size[1]]
        return x_hat

    def forward(self, x: Tensor) -> CodecOutput:
        # Quantization and rate in fp32 even under autocast: symbols must not depend on it.
        q = self.quantizer(self.analysis(x).float())
        if self.config.rate_estimate == "hard":
            entropy = hard_entropy_bits(q.soft_assignment, q.symbols)
        else:
            entropy = mean_entropy_bits(q.soft_assignment)
        x_hat = self.synthesis(q.values, (x.shape[-2], x.shape[-1])).float()
        probs = symbol_probabilities(q.soft_assignment, q.symbols)
        bpp = self.config.bpp(entropy)
        return CodecOutput(x_hat, q.symbols, q.values, entropy, bpp, probs)

    @torch.no_grad()
    def shift_output(self, delta: Tensor) -> None:
        """Add `delta` (3,), in [0, 1] units, to every decoded pixel: removes a colour cast."""
        last = self.g_s[-1]
        conv = last[0] if isinstance(last, nn.Sequential) else last
        assert isinstance(conv.bias, Tensor)
        per_colour = conv.bias.view(3, -1)  # sub-pixel: channel 4c + k is colour c
        per_colour += 2.0 * delta.to(per_colour).view(3, 1)  # x̂ = g_s(ẑ) · 0.5 + 0.5

    @torch.no_grad()
    def encode(self, x: Tensor, tile: int = DECODE_TILE) -> Tensor:
        """Images (N, 3, H, W) in [0, 1] → symbols (N, C, ⌈H/8⌉, ⌈W/8⌉), int64 center indexes."""
        return self.quantize(self.latent_values(x, tile))

    @torch.no_grad()
    def latent_values(self, x: Tensor, tile: int = DECODE_TILE) -> Tensor:
        """Images (N, 3, H, W) in [0, 1] → z before quantization, in tiles for big images."""
        x = self.pad(x)
        s = DOWNSAMPLING
        h, w = x.shape[-2] // s, x.shape[-1] // s
        if max(h, w) <= tile + 2 * DECODE_HALO:
            return self.analysis(x)
        out = x.new_empty((x.shape[0], self.config.latent_channels, h, w))
        for (y0, y1, ya, yb), (x0, x1, xa, xb) in _tiles(h, w, tile):
            part = self.analysis(x[..., ya * s : yb * s, xa * s : xb * s])
            out[..., y0:y1, x0:x1] = part[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        return out

    @torch.no_grad()
    def quantize(self, z: Tensor, rate_weight: float = 0.0) -> Tensor:
        """Symbols of z: the nearest centers, or with `rate_weight` λ > 0 the centers that
        minimise (z − c)² + λ·bits(c) under the codec's own tables. The decoder reads either
        alike, so λ is an encoder-side knob for rate (codec/rate_control.py sets it). Codecs
        that code in context price each entry's centers in the contexts its neighbours'
        symbols give, taken from the choice before (two rounds, from the nearest centers)."""
        if rate_weight == 0.0:
            return self.quantizer.symbols(z)
        if not self.config.context_levels:
            return self.quantizer.symbols(z, rate_weight * self.code_lengths())
        symbols = self.quantizer.symbols(z)
        coder = self._context_coder()
        for _ in range(CONTEXT_PRICING_ROUNDS):
            bits = torch.stack([coder.entry_code_lengths(s) for s in symbols])
            symbols = self.quantizer.symbols(z, rate_weight * bits.to(z.device))
        return symbols

    def code_lengths(self) -> Tensor:
        """Bits of each center under each channel's table, (C, L) float32 (no escape: the
        encoder never sends it)."""
        self.require_ready()
        return code_lengths(self.cdfs.cpu())[:, : self.num_centers].float()

    def dequantize(self, symbols: Tensor) -> Tensor:
        """Symbols → latent values ẑ: the input of the cResNets."""
        return self.quantizer.dequantize(symbols)

    @torch.no_grad()
    def decode(
        self, symbols: Tensor, image_size: tuple[int, int] | None = None, tile: int = DECODE_TILE
    ) -> Tensor:
        return self.decode_latent(self.dequantize(symbols), image_size, tile)

    @torch.no_grad()
    def decode_latent(
        self, latent: Tensor, image_size: tuple[int, int] | None = None, tile: int = DECODE_TILE
    ) -> Tensor:
        """ẑ → the decoded images in [0, 1], large latents in overlapping tiles (bounded
        memory, the same pixels): what `decode` gives for the symbols of ẑ."""
        h, w = latent.shape[-2:]
        if max(h, w) <= tile + 2 * DECODE_HALO:
            return self.synthesis(latent, image_size).clamp(0.0, 1.0)
        s = DOWNSAMPLING
        out = latent.new_empty((latent.shape[0], 3, h * s, w * s))
        for (y0, y1, ya, yb), (x0, x1, xa, xb) in _tiles(h, w, tile):
            part = self.synthesis(latent[..., ya:yb, xa:xb])
            core = part[..., (y0 - ya) * s : (y1 - ya) * s, (x0 - xa) * s : (x1 - xa) * s]
            out[..., y0 * s : y1 * s, x0 * s : x1 * s] = core
        if image_size is not None:
            out = out[..., : image_size[0], : image_size[1]]
        return out.clamp(0.0, 1.0)

    # -- entropy coding -------------------------------------------------------------------
    @property
    def num_centers(self) -> int:
        return self.config.num_centers

    @property
    def ready(self) -> bool:
        return all(bool(t[:, -1].gt(0).all()) for t in self.entropy_tables())

    def entropy_tables(self) -> list[Tensor]:
        """The integer tables the entropy coder reads: static, then those in context."""
        return [self.cdfs, self.context_cdfs] if self.config.context_levels else [self.cdfs]

    def learned_state(self) -> dict[str, Tensor]:
        """Weights and centers without the fitted tables (`TABLE_BUFFERS`)."""
        return {k: v for k, v in self.state_dict().items() if k not in TABLE_BUFFERS}

    def update(self, symbol_counts: Tensor, context_counts: Tensor | None = None) -> None:
        """Freeze the integer probability tables from per-channel counts (C, L) and, for
        context coding, per-context counts (`count_contexts`)."""
        expected = (self.config.latent_channels, self.num_centers)
        if tuple(symbol_counts.shape) != expected:
            raise ValueError(f"symbol counts {tuple(symbol_counts.shape)}, expected {expected}")
        if self.config.context_levels:
            if context_counts is None:
                raise ValueError(f"codec {self.name!r} codes in context: pass context_counts")
            rows = context_counts.reshape(-1, self.num_centers)
            if rows.shape[0] != self.context_cdfs.shape[0]:
                raise ValueError(f"context counts {tuple(context_counts.shape)} do not fit")
            self.context_cdfs.copy_(quantized_cdfs(rows.cpu()))
        self.symbol_counts.copy_(symbol_counts)
        self.cdfs.copy_(quantized_cdfs(symbol_counts.cpu()))

    @torch.no_grad()
    def fit_tables(self, symbol_batches: Iterable[Tensor]) -> None:
        """Count symbols (N, C, H, W) batch by batch, e.g. of training crops, and freeze
        every table the entropy coder uses from them."""
        counts = torch.zeros_like(self.symbol_counts, device="cpu")
        levels = self.config.context_levels
        context_counts = None
        for symbols in symbol_batches:
            symbols = symbols.cpu()
            counts += count_symbols(symbols, self.num_centers)
            if levels:
                found = count_contexts(symbols, levels, self.num_centers)
                context_counts = found if context_counts is None else context_counts + found
        self.update(counts, context_counts)

    def ideal_bits(self, symbols: Tensor) -> float:
        """Ideal code length in bits of one latent's symbols (C, h, w) under the tables the
        coder uses (in context, for codecs that code so): the payload, within a few bytes."""
        self.require_ready()
        if self.config.context_levels:
            return self._context_coder().ideal_bits(symbols.cpu())
        return symbol_bits(symbols.cpu(), self.cdfs.cpu())

    def _context_coder(self) -> ContextCoder:
        """One coder per table state (building its table lists costs milliseconds)."""
        key = tuple((t.data_ptr(), t._version) for t in self.entropy_tables())
        cached = self.__dict__.get("_context_coder_cache")
        if cached is None or cached[0] != key:
            coder = ContextCoder(self.cdfs, self.context_cdfs, self.config.context_levels)
            self.__dict__["_context_coder_cache"] = cached = (key, coder)
        return cached[1]

    def require_ready(self) -> None:
        if not self.ready:
            raise CodecNotReadyError(
                f"codec {self.name!r} has no frequency tables; run `update()` with symbol "
                "counts from training data (train-codec does this at the end)"
            )

    def compress_symbols(self, symbols: Tensor) -> list[bytes]:
        self.require_ready()
        if self.config.context_levels:
            return [self._context_coder().encode(s.cpu()) for s in symbols]
        cdfs = self.cdfs.cpu()
        return [encode_symbols(s.cpu(), cdfs) for s in symbols]

    def decompress_symbols(self, strings: list[bytes], shape: tuple[int, int]) -> Tensor:
        self.require_ready()
        full = (self.config.latent_channels, *shape)
        if self.config.context_levels:
            coder = self._context_coder()
            return torch.stack([coder.decode(s, full) for s in strings])
        cdfs = self.cdfs.cpu()
        return torch.stack([decode_symbols(s, full, cdfs) for s in strings])

    # -- CompressAI's contract ------------------------------------------------------------
    @property
    def stride(self) -> int:
        """Image pixels per latent position along each axis."""
        return DOWNSAMPLING

    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    # -- what a `.ndc` file needs from any codec (codec/files.py) --------------------------
    @property
    def alignment(self) -> int:
        """Encoders pad images to a multiple of this (the stride: no hyper-latent)."""
        return DOWNSAMPLING

    @property
    def num_strings(self) -> int:
        return 1

    def strings_shape(self, latent_size: tuple[int, int]) -> tuple[int, int]:
        """The `shape` that `decompress` takes for a latent of `latent_size` positions."""
        return (latent_size[0], latent_size[1])

    def max_positions(self, string_lengths: tuple[int, ...]) -> int:
        """Latent positions the strings can honestly hold under the tables (bomb bound)."""
        if self.config.context_levels:  # a symbol in context may cost less than any static one
            floor = self._context_coder().min_bits_per_channel
        else:
            floor = min_bits_per_channel(self.cdfs.cpu())
        return max_codable_positions(floor, sum(string_lengths))

    def compress(self, x: Tensor) -> dict:
        """Images (N, 3, H, W) → {"strings": [[bytes per image]], "shape": (h, w)}: one list
        of strings per latent, as `compressai.models.CompressionModel.compress` returns."""
        symbols = self.encode(x)
        return {"strings": [self.compress_symbols(symbols)], "shape": tuple(symbols.shape[-2:])}

    def decompress(self, strings: list[list[bytes]], shape: tuple[int, int]) -> dict:
        """{"x_hat": images}, padded to a multiple of the stride like CompressAI's models."""
        return {"x_hat": self.decode(self._symbols(strings, shape))}

    def latent(self, strings: list[list[bytes]], shape: tuple[int, int]) -> dict:
        """{"y_hat": ẑ (N, C, h, w)}: what networks read; the synthesis transform never runs."""
        return {"y_hat": self.dequantize(self._symbols(strings, shape))}

    def _symbols(self, strings: list[list[bytes]], shape: tuple[int, int]) -> Tensor:
        if len(strings) != 1:
            raise ValueError(f"{self.name} codes one latent, got {len(strings)} lists of strings")
        size = (int(shape[0]), int(shape[1]))
        return self.decompress_symbols(list(strings[0]), size).to(self.cdfs.device)

    def identity(self) -> bytes:
        """16-byte digest of config, weights and tables; a file names the codec that wrote it.

        Hashing every weight costs milliseconds, so the digest is cached and recomputed only
        when a tensor changes: in-place updates (optimizer steps, `load_state_dict`) bump
        its version counter, `.to()` and reassignment give it new storage.
        """
        config = self.config.to_json()
        key = (config, *self._state_versions())
        cached = self.__dict__.get("_identity_cache")
        if cached is None or cached[0] != key:
            digest = state_digest(self, config.encode()).digest()[:16]
            self.__dict__["_identity_cache"] = cached = (key, digest)
        return cached[1]

    def _state_versions(self) -> list[tuple]:
        # parameters() and buffers() walk the same tensors as state_dict() in a fixed
        # order, at a fifth of its cost (this runs once per file read).
        return [
            (t.data_ptr(), t._version, t.dtype, tuple(t.shape))
            for t in itertools.chain(self.parameters(), self.buffers())
        ]
