import itertools

import numpy as np
import pytest
import torch

from nodecode.bitstream import count_symbols, encode_symbols, quantized_cdfs
from nodecode.bitstream.context import (
    ContextCoder,
    coding_passes,
    count_contexts,
    num_contexts,
    pass_contexts,
    with_outside,
)

L = 6


def smooth_symbols(seed: int, shape=(3, 20, 24)) -> torch.Tensor:
    """Piecewise-constant symbol fields with a little noise: like a photo's latent, where
    neighbours tell much about a symbol."""
    generator = torch.Generator().manual_seed(seed)
    c, h, w = shape
    blocks = torch.randint(0, L, (c, h // 4 + 1, w // 4 + 1), generator=generator)
    field = blocks.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, :h, :w]
    noise = torch.rand(shape, generator=generator) < 0.1
    return torch.where(noise, torch.randint(0, L, shape, generator=generator), field)


def fitted_coder(levels: int = 2, channels: int = 3, seeds=range(10, 14)) -> ContextCoder:
    training = torch.stack([smooth_symbols(s, (channels, 20, 24)) for s in seeds])
    cdfs = quantized_cdfs(count_symbols(training, L))
    context = quantized_cdfs(count_contexts(training, levels, L).reshape(-1, L))
    return ContextCoder(cdfs, context, levels)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (9, 13), (16, 16), (3, 33)])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_passes_cover_each_position_once_and_see_only_known_neighbours(shape, levels):
    h, w = shape
    passes = coding_passes(h, w, levels)
    assert len(passes) == 2 * levels + 1 and passes[0].neighbours is None
    order = np.concatenate([p.positions for p in passes])
    assert sorted(order.tolist()) == list(range(h * w))
    known = {h * w}  # "outside"
    for coding_pass in passes:
        if coding_pass.neighbours is not None:
            assert coding_pass.neighbours.shape == (4, len(coding_pass.positions))
            assert set(coding_pass.neighbours.reshape(-1).tolist()) <= known
        known |= set(coding_pass.positions.tolist())


def test_contexts_are_the_multisets_of_the_four_neighbours():
    assert num_contexts(L) == len(list(itertools.combinations_with_replacement(range(L + 1), 4)))
    symbols = smooth_symbols(0, (2, 9, 11))
    latent = with_outside(symbols.reshape(2, -1).numpy(), L)
    seen: dict[tuple, int] = {}
    for coding_pass in coding_passes(9, 11, 2)[1:]:
        ctx = pass_contexts(latent, coding_pass, L)
        assert ctx.min() >= 0 and ctx.max() < num_contexts(L)
        neighbours = latent[:, coding_pass.neighbours]  # (C, 4, n)
        for c, i in itertools.product(range(2), range(ctx.shape[1])):
            multiset = tuple(sorted(neighbours[c, :, i].tolist()))
            assert seen.setdefault(multiset, int(ctx[c, i])) == int(ctx[c, i])
    assert len(set(seen.values())) == len(seen)  # different multisets, different contexts


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 5, 3), (3, 20, 24), (3, 33, 17)])
def test_round_trip_is_exact(shape):
    coder = fitted_coder()
    symbols = smooth_symbols(0, shape)
    assert torch.equal(coder.decode(coder.encode(symbols), shape), symbols)


def test_context_coding_spends_fewer_bits_on_smooth_latents():
    coder = fitted_coder()
    symbols = smooth_symbols(0)
    static = encode_symbols(symbols, coder.cdfs)
    assert len(coder.encode(symbols)) < 0.8 * len(static)


def test_streams_that_are_not_an_encoding_are_rejected():
    coder = fitted_coder()
    symbols = smooth_symbols(1)
    data = coder.encode(symbols)
    for bad in (data + b"\0\0\0\0", data[:-4], bytes([data[0] ^ 0x55]) + data[1:]):
        with pytest.raises(ValueError):
            coder.decode(bad, tuple(symbols.shape))


def test_symbols_outside_the_alphabet_stop_decoding():
    coder = fitted_coder()
    # A stream of 0xFF words lands in the escape range of some table, which decoding maps
    # to the value L: it must be refused before L is used as anyone's neighbour.
    with pytest.raises(ValueError, match="outside the alphabet"):
        coder.decode(b"\xff" * 64, (3, 20, 24))


def test_larger_alphabets_round_trip_through_the_searched_context_ranks():
    """Up to L = 7 a direct table ranks the contexts; beyond, a sorted search must agree."""
    centers = 9
    generator = torch.Generator().manual_seed(3)
    training = torch.randint(0, centers, (2, 2, 12, 12), generator=generator)
    cdfs = quantized_cdfs(count_symbols(training, centers))
    context = quantized_cdfs(count_contexts(training, 1, centers).reshape(-1, centers))
    coder = ContextCoder(cdfs, context, 1)
    symbols = training[0]
    assert torch.equal(coder.decode(coder.encode(symbols), tuple(symbols.shape)), symbols)
    assert num_contexts(centers) == len(set(itertools.combinations_with_replacement(range(10), 4)))


def test_entry_code_lengths_price_each_center_in_its_context():
    coder = fitted_coder()
    symbols = smooth_symbols(2)
    lengths = coder.entry_code_lengths(symbols)  # (C, H, W, L)
    assert lengths.shape == (*symbols.shape, L)
    chosen = lengths.gather(-1, symbols.unsqueeze(-1)).sum()
    assert float(chosen) == pytest.approx(coder.ideal_bits(symbols), rel=1e-5)
    assert abs(coder.ideal_bits(symbols) - 8 * len(coder.encode(symbols))) < 64
