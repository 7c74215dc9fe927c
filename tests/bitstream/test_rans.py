import pytest
import torch

from nodecode.bitstream import (
    count_symbols,
    decode_symbols,
    encode_symbols,
    quantized_cdfs,
    symbol_bits,
)
from nodecode.bitstream.tables import PRECISION, symbol_frequencies


def skewed_symbols(seed: int, shape=(4, 30, 40)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    probs = torch.tensor(
        [
            [0.7, 0.2, 0.05, 0.03, 0.01, 0.01],
            [0.05, 0.05, 0.4, 0.4, 0.05, 0.05],
            [1 / 6] * 6,
            [0.9, 0.1, 0, 0, 0, 0],
        ]
    )
    n = shape[1] * shape[2]
    rows = [torch.multinomial(p, n, replacement=True, generator=generator) for p in probs]
    return torch.stack(rows).reshape(shape)


def test_tables_are_integer_cdfs_with_every_symbol_codable():
    counts = torch.tensor([[100, 0, 0, 5, 0, 1], [1, 1, 1, 1, 1, 1]])
    cdfs = quantized_cdfs(counts)
    assert cdfs.dtype == torch.int32 and cdfs.shape == (2, 8)
    assert (cdfs[:, 0] == 0).all() and (cdfs[:, -1] == 1 << PRECISION).all()
    assert (symbol_frequencies(cdfs) > 0).all()


def test_round_trip_is_exact():
    symbols = skewed_symbols(0)
    cdfs = quantized_cdfs(count_symbols(skewed_symbols(1).unsqueeze(0), 6))
    data = encode_symbols(symbols, cdfs)
    assert torch.equal(decode_symbols(data, tuple(symbols.shape), cdfs), symbols)


def test_symbols_never_seen_in_training_still_round_trip():
    cdfs = quantized_cdfs(torch.tensor([[1000, 0, 0, 0, 0, 0]]))
    symbols = torch.arange(6).repeat(10).reshape(1, 6, 10)
    assert torch.equal(decode_symbols(encode_symbols(symbols, cdfs), (1, 6, 10), cdfs), symbols)


def test_coded_size_is_within_3_percent_of_the_table_estimate_on_held_out_symbols():
    cdfs = quantized_cdfs(count_symbols(skewed_symbols(1, (4, 100, 100)).unsqueeze(0), 6))
    held_out = skewed_symbols(2, (4, 100, 100))
    estimate_bytes = symbol_bits(held_out, cdfs) / 8
    assert len(encode_symbols(held_out, cdfs)) == pytest.approx(estimate_bytes, rel=0.03)


def test_shape_mismatch_is_rejected():
    cdfs = quantized_cdfs(torch.ones(3, 6, dtype=torch.int64))
    with pytest.raises(ValueError, match="do not match"):
        encode_symbols(torch.zeros(2, 4, 4, dtype=torch.long), cdfs)


def test_an_escape_in_a_crafted_stream_is_rejected_without_bypass_decoding():
    """CompressAI's coder escapes out-of-range values and then reads as many raw chunks as
    the stream asks for; our decoder turns escapes off, so such a stream is a clean error."""
    from nodecode.bitstream.rans import RansEncoder, _coder_args

    symbols = skewed_symbols(5, shape=(4, 3, 5))
    cdfs = quantized_cdfs(count_symbols(symbols.unsqueeze(0), 6))
    values = symbols.reshape(-1).to(torch.int32).tolist()
    values[7] = 6 + 4000  # escape: the encoder writes the value in 4-bit bypass chunks
    indexes, tables, lengths, offsets = _coder_args(tuple(symbols.shape), cdfs)
    crafted = RansEncoder().encode_with_indexes(values, indexes, tables, lengths, offsets)
    with pytest.raises(ValueError, match="outside the alphabet"):
        decode_symbols(crafted, tuple(symbols.shape), cdfs)
    # Every valid stream decodes as before.
    assert torch.equal(decode_symbols(encode_symbols(symbols, cdfs), symbols.shape, cdfs), symbols)
