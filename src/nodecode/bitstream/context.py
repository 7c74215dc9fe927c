"""Hierarchical context coding of center indexes: fewer bits for the very same symbols.

Per-channel static tables code each symbol as if its neighbours told nothing about it, yet
quantized latents are spatially smooth: on the held-out photos, conditioning on
neighbours saves 15–27 % of the file (docs/RESULTS.md §2c). Conditioning on the left and
top neighbours would force one symbol at a time through the decoder; here the latent is
coded coarse to fine in a few passes, each one native rANS call over all its symbols
(a 2×2 scheme, as in checkerboard and multi-pass context models):

* pass 0: positions on the grid of spacing 2^levels, with the codec's static tables;
* then, for each spacing d = 2^(levels−1), …, 2, 1: first the centres of the known
  squares of side 2d (neighbours at (±d, ±d)), then the remaining positions of the
  spacing-d grid (neighbours at (0, ±d) and (±d, 0)): both passes see four known
  neighbours.

A symbol's context is the multiset of its four neighbours' symbols, a neighbour outside the
latent counting as the extra value L; each (pass, channel, context) has its own integer
table, fitted on training latents. The latent, and so everything networks read from it,
is unchanged: only its coding is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from nodecode.bitstream._rans import Decoder, encode
from nodecode.bitstream.rans import coder_tables, decode_into, require_canonical
from nodecode.bitstream.tables import code_lengths

# Context coding is for small alphabets: the multisets of four neighbours from L + 1
# values number C(L + 4, 4), 210 for the paper's L = 6 and 4,845 at this limit.
MAX_CONTEXT_CENTERS = 16
MAX_CONTEXT_LEVELS = 4
DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))
DIRECT = ((0, -1), (-1, 0), (0, 1), (1, 0))
# The passes' small array operations run in NumPy: a fraction of torch's per-call cost.


@dataclass(frozen=True)
class CodingPass:
    """The latent positions one pass codes (flat indexes, raster order) and, for context
    passes, their four neighbours' flat indexes (4, n): H·W stands for "outside"."""

    positions: np.ndarray
    neighbours: np.ndarray | None


def num_passes(levels: int) -> int:
    """Passes that use context tables (pass 0 uses the static ones)."""
    return 2 * levels


def num_contexts(num_centers: int) -> int:
    """Multisets of four neighbours, each a center index or "outside" (C(L + 4, 4))."""
    n = num_centers + 1
    return n * (n + 1) * (n + 2) * (n + 3) // 24


@lru_cache(maxsize=8)
def _multiset_codes(num_centers: int) -> np.ndarray:
    """Every multiset's code Σ 5^v over its four values v (4 < 5, so codes are unique and
    need no sorting), ascending: a context's index is its code's rank here."""
    values = range(num_centers + 1)
    codes = {sum(5**v for v in m) for m in itertools.combinations_with_replacement(values, 4)}
    return np.array(sorted(codes), dtype=np.int64)


@lru_cache(maxsize=64)
def coding_passes(height: int, width: int, levels: int) -> tuple[CodingPass, ...]:
    """The passes of a latent of `height` × `width` positions, in coding order."""
    yy, xx = (
        a.reshape(-1) for a in np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    )

    def context_pass(mask: np.ndarray, offsets: list[tuple[int, int]]) -> CodingPass:
        positions = np.flatnonzero(mask)
        y, x = yy[positions], xx[positions]
        neighbours = []
        for dy, dx in offsets:
            ny, nx = y + dy, x + dx
            inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
            neighbours.append(np.where(inside, ny * width + nx, height * width))
        return CodingPass(positions, np.stack(neighbours))

    step = 1 << levels
    passes = [CodingPass(np.flatnonzero((yy % step == 0) & (xx % step == 0)), None)]
    for k in reversed(range(levels)):
        d, s = 1 << k, 2 << k
        centre = (yy % s == d) & (xx % s == d)
        edge = ((yy % s == 0) & (xx % s == d)) | ((yy % s == d) & (xx % s == 0))
        passes.append(context_pass(centre, [(d * a, d * b) for a, b in DIAGONAL]))
        passes.append(context_pass(edge, [(d * a, d * b) for a, b in DIRECT]))
    return tuple(passes)


def with_outside(latent: np.ndarray, num_centers: int) -> np.ndarray:
    """Symbols (C, H·W) with one more column holding L, the value of "outside"."""
    outside = np.full((latent.shape[0], 1), num_centers, dtype=np.int64)
    return np.concatenate([latent.astype(np.int64, copy=False), outside], axis=1)


def pass_contexts(latent: np.ndarray, coding_pass: CodingPass, num_centers: int) -> np.ndarray:
    """Context index of each of a pass's symbols, (C, n), from `latent` (C, H·W + 1) as
    `with_outside` makes it, which must already hold the pass's neighbours."""
    assert coding_pass.neighbours is not None
    powers, ranks = _context_lookup(num_centers)
    code = powers[latent[:, coding_pass.neighbours]].sum(axis=1)  # (C, 4, n) → (C, n)
    return ranks[code] if ranks is not None else np.searchsorted(_multiset_codes(num_centers), code)


@lru_cache(maxsize=8)
def _context_lookup(num_centers: int) -> tuple[np.ndarray, np.ndarray | None]:
    """5^v per value, and a direct code → rank table where it is small (L ≤ 7)."""
    powers = 5 ** np.arange(num_centers + 1, dtype=np.int64)
    if 4 * 5**num_centers >= 1 << 22:
        return powers, None
    codes = _multiset_codes(num_centers)
    ranks = np.full(int(codes[-1]) + 1, -1, dtype=np.int64)
    ranks[codes] = np.arange(len(codes))
    return powers, ranks


def count_contexts(symbols: Tensor, levels: int, num_centers: int) -> Tensor:
    """Symbol counts per (pass, channel, context), shape (2·levels, C, contexts, L), from
    latents (N, C, H, W): what the context tables are fitted to."""
    n, channels, height, width = symbols.shape
    contexts = num_contexts(num_centers)
    size = channels * contexts * num_centers
    counts = np.zeros((num_passes(levels), size), dtype=np.int64)
    rows = np.arange(channels)[:, None]
    for flat in symbols.reshape(n, channels, -1).cpu().numpy():
        latent = with_outside(flat, num_centers)
        for p, coding_pass in enumerate(coding_passes(height, width, levels)[1:]):
            ctx = pass_contexts(latent, coding_pass, num_centers)
            at = (rows * contexts + ctx) * num_centers + latent[:, coding_pass.positions]
            counts[p] += np.bincount(at.reshape(-1), minlength=size)
    shape = (num_passes(levels), channels, contexts, num_centers)
    return torch.from_numpy(counts.reshape(shape))


class ContextCoder:
    """Codes latents under one codec's static and context tables; build it once per table
    set (checking and copying the tables costs about a millisecond)."""

    def __init__(self, cdfs: Tensor, context_cdfs: Tensor, levels: int) -> None:
        self.cdfs, self.context_cdfs, self.levels = cdfs.cpu(), context_cdfs.cpu(), levels
        self.num_centers = cdfs.shape[1] - 2
        self.contexts = num_contexts(self.num_centers)
        stacked = torch.cat([self.cdfs, self.context_cdfs]).to(torch.int32)
        self._tables = coder_tables(stacked)
        self._code_lengths = code_lengths(stacked).numpy()
        channels = self.cdfs.shape[0]
        cheapest = self._code_lengths[:, : self.num_centers].min(axis=1)
        in_context = cheapest[channels:].reshape(-1, channels, self.contexts).min(axis=(0, 2))
        # Per channel, the cheapest symbol under any of its tables: what a file's length
        # bounds the number of latent positions by (a decompression-bomb check).
        self.min_bits_per_channel = torch.from_numpy(np.minimum(cheapest[:channels], in_context))

    def _pass_rows(self, latent: np.ndarray, p: int, coding_pass: CodingPass) -> np.ndarray:
        """Each of pass `p`'s symbols' row in the stacked tables (static rows first), (C, n),
        from `latent` (C, H·W + 1): its contexts need only the passes before it."""
        channels = latent.shape[0]
        channel_rows = np.arange(channels)[:, None]
        if coding_pass.neighbours is None:
            return np.broadcast_to(channel_rows, (channels, len(coding_pass.positions)))
        ctx = pass_contexts(latent, coding_pass, self.num_centers)
        return channels + ((p - 1) * channels + channel_rows) * self.contexts + ctx

    def _priced_passes(
        self, symbols: Tensor
    ) -> tuple[np.ndarray, list[tuple[CodingPass, np.ndarray]]]:
        """Known symbols (C, H, W) as `with_outside` lays them out, and each pass with its
        symbols' rows in the stacked tables: what encoding and pricing share."""
        channels, height, width = symbols.shape
        latent = with_outside(symbols.reshape(channels, -1).cpu().numpy(), self.num_centers)
        passes = coding_passes(height, width, self.levels)
        return latent, [(cp, self._pass_rows(latent, p, cp)) for p, cp in enumerate(passes)]

    def entry_code_lengths(self, symbols: Tensor) -> Tensor:
        """Bits each center would cost at each entry, (C, H, W, L) float32, in the contexts
        that `symbols` (C, H, W) give: what rate control weighs choices by."""
        channels, height, width = symbols.shape
        _, passes = self._priced_passes(symbols)
        out = np.empty((channels, height * width, self.num_centers), dtype=np.float32)
        lengths = self._code_lengths[:, : self.num_centers]
        for coding_pass, rows in passes:
            out[:, coding_pass.positions] = lengths[rows]
        return torch.from_numpy(out.reshape(channels, height, width, self.num_centers))

    def ideal_bits(self, symbols: Tensor) -> float:
        """Ideal code length in bits of symbols (C, H, W) under their contexts' tables: what
        `encode` spends, to within the coder's few bytes of overhead."""
        latent, passes = self._priced_passes(symbols)
        return sum(
            float(self._code_lengths[rows, latent[:, cp.positions]].sum()) for cp, rows in passes
        )

    def encode(self, symbols: Tensor) -> bytes:
        """rANS-code symbols (C, H, W) pass by pass, each under its context's table."""
        latent, passes = self._priced_passes(symbols)
        values = np.concatenate([latent[:, cp.positions].reshape(-1) for cp, _ in passes])
        rows = np.concatenate([rows.reshape(-1) for _, rows in passes])
        return encode(values.astype(np.int32), rows.astype(np.int32), self._tables)

    def decode(self, data: bytes, shape: tuple[int, int, int]) -> Tensor:
        """Inverse of `encode`; int64 symbols (C, H, W). As `decode_symbols`: symbols outside
        the alphabet raise ValueError as soon as a pass yields one (before they could index
        a table), and so does a stream that is not exactly the encoding of its symbols."""
        channels, height, width = shape
        latent = np.full((channels, height * width + 1), self.num_centers, dtype=np.int64)
        decoder = Decoder(data)
        for p, coding_pass in enumerate(coding_passes(height, width, self.levels)):
            if not len(coding_pass.positions):
                continue
            rows = self._pass_rows(latent, p, coding_pass)
            got = decode_into(decoder, rows.reshape(-1), self._tables)
            latent[:, coding_pass.positions] = got.reshape(channels, -1)
        require_canonical(decoder)
        return torch.from_numpy(latent[:, :-1].reshape(shape).copy())
