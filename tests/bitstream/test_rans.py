import numpy as np
import pytest
import torch

from nodecode.bitstream import (
    count_symbols,
    decode_symbols,
    encode_symbols,
    quantized_cdfs,
    symbol_bits,
)
from nodecode.bitstream._rans import Decoder, encode
from nodecode.bitstream.rans import BoundedRansCoder, coder_tables, decode_into
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
    the stream asks for; our decoder treats the escape as an error, so such a stream is a
    clean one."""
    from compressai.ans import RansEncoder

    symbols = skewed_symbols(5, shape=(4, 3, 5))
    cdfs = quantized_cdfs(count_symbols(symbols.unsqueeze(0), 6))
    values = symbols.reshape(-1).to(torch.int32).tolist()
    values[7] = 6 + 4000  # escape: the encoder writes the value in 4-bit bypass chunks
    indexes = [c for c in range(4) for _ in range(15)]
    crafted = RansEncoder().encode_with_indexes(values, indexes, cdfs.tolist(), [8] * 4, [0] * 4)
    with pytest.raises(ValueError, match="outside the alphabet"):
        decode_symbols(crafted, tuple(symbols.shape), cdfs)
    # Every valid stream decodes as before.
    assert torch.equal(decode_symbols(encode_symbols(symbols, cdfs), symbols.shape, cdfs), symbols)


def random_tables(rng: np.random.Generator, rows: int, centers: int) -> torch.Tensor:
    counts = torch.from_numpy(rng.integers(0, 1000, size=(rows, centers)) ** 3)
    return quantized_cdfs(counts)


def test_streams_are_compressais_byte_for_byte():
    """Our coder writes CompressAI's format: either coder reads the other's files."""
    from compressai.ans import RansDecoder, RansEncoder

    rng = np.random.default_rng(0)
    for _ in range(20):
        tables, centers = int(rng.integers(1, 12)), int(rng.integers(2, 9))
        cdfs = random_tables(rng, tables, centers)
        rows = rng.integers(0, tables, int(rng.integers(1, 3000))).astype(np.int32)
        symbols = rng.integers(0, centers, len(rows)).astype(np.int32)
        ours = encode(symbols, rows, coder_tables(cdfs))
        args = rows.tolist(), cdfs.tolist(), [centers + 2] * tables, [0] * tables
        assert ours == RansEncoder().encode_with_indexes(symbols.tolist(), *args)
        assert RansDecoder().decode_with_indexes(ours, *args) == symbols.tolist()


def test_a_stream_decodes_in_any_number_of_calls():
    rng = np.random.default_rng(1)
    cdfs = random_tables(rng, 5, 6)
    tables = coder_tables(cdfs)
    rows = rng.integers(0, 5, 1000).astype(np.int32)
    symbols = rng.integers(0, 6, 1000).astype(np.int32)
    decoder = Decoder(encode(symbols, rows, tables))
    parts = [decode_into(decoder, rows[a:b], tables) for a, b in [(0, 1), (1, 400), (400, 1000)]]
    assert np.array_equal(np.concatenate(parts), symbols) and decoder.canonical()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data + bytes(4),  # a word too many
        lambda data: data[:4] + bytes([data[4] ^ 1]) + data[5:],  # the flushed state changed
        lambda data: data[:-4],  # a word too few
        lambda data: bytes([data[0] ^ 0x80]) + data[1:],  # another start state
    ],
)
def test_a_stream_that_is_not_exactly_its_symbols_encoding_is_rejected(tamper):
    """The decoder's end state and position prove a stream canonical, with no re-encoding."""
    symbols = skewed_symbols(3)
    cdfs = quantized_cdfs(count_symbols(skewed_symbols(4).unsqueeze(0), 6))
    with pytest.raises(ValueError, match="not the encoding|ends before|outside the alphabet"):
        decode_symbols(tamper(encode_symbols(symbols, cdfs)), tuple(symbols.shape), cdfs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: encode(np.array([6], np.int32), np.array([0], np.int32), t), "alphabet"),
        (lambda t: encode(np.array([0], np.int32), np.array([2], np.int32), t), "row"),
        (lambda t: encode(np.array([0], np.int64), np.array([0], np.int32), t), "int32"),
        (lambda t: encode(np.zeros(2, np.int32), np.zeros(1, np.int32), t), "length"),
        (lambda t: Decoder(b"abc"), "whole number of words"),
    ],
)
def test_the_coder_rejects_bad_arguments_with_a_message(call, message):
    tables = coder_tables(quantized_cdfs(torch.ones(2, 6, dtype=torch.int64)))
    with pytest.raises((ValueError, TypeError), match=message):
        call(tables)


def test_tables_that_are_not_cdfs_are_rejected():
    cdfs = quantized_cdfs(torch.ones(2, 6, dtype=torch.int64))
    broken = cdfs.clone()
    broken[1, 3] = broken[1, 2]
    with pytest.raises(ValueError, match="no probability"):
        coder_tables(broken)
    with pytest.raises(ValueError, match="0 to 65536"):
        coder_tables(cdfs - 1)


def test_a_start_state_the_encoder_cannot_write_is_not_canonical():
    """From a flushed state x0 ≥ 2^63 a decode step can land, without reading a word, on a
    valid stream's state x1, where the encoder would have written a word: the rest decodes
    and ends cleanly, yet re-encoding gives other bytes. Only the start-state range says so."""
    cdf = [0, 1 << 15, 49152, 65535, 1 << 16]  # symbol 0 has frequency 2^15
    tables = coder_tables(torch.tensor([cdf], dtype=torch.int32))
    symbols = np.random.default_rng(0).integers(0, 3, 200).astype(np.int32)
    for n in range(1, 200):  # a stream whose flushed state x1 is in [2^62, 2^63)
        valid = encode(symbols[:n], np.zeros(n, np.int32), tables)
        x1 = int.from_bytes(valid[:8], "little")
        if x1 >= 1 << 62:
            break
    symbols = symbols[:n]
    x0 = ((x1 // (1 << 15)) << 16) + x1 % (1 << 15)  # the encoder's step for symbol 0, unscaled
    assert 1 << 63 <= x0 < 1 << 64
    crafted = x0.to_bytes(8, "little") + valid[8:]
    decoder = Decoder(crafted)
    decoded = decode_into(decoder, np.zeros(n + 1, np.int32), tables)
    assert np.array_equal(decoded, np.concatenate([[0], symbols]))  # it decodes cleanly...
    assert encode(decoded, np.zeros(n + 1, np.int32), tables) != crafted  # ...to another stream
    assert not decoder.canonical()


def escaped_case(rng: np.random.Generator):
    """CompressAI-style tables of several lengths padded to one width, negative offsets, and
    values on both sides of every table's range (escapes): what its models code."""
    tables, width = 5, 12
    lengths = rng.integers(3, width + 1, tables)
    cdfs = np.zeros((tables, width), dtype=np.int64)
    for row, length in enumerate(lengths):
        counts = torch.from_numpy(rng.integers(1, 1000, int(length) - 2))
        cdfs[row, :length] = quantized_cdfs(counts[None])[0, :length].numpy()
    offsets = -rng.integers(0, 5, tables)
    indexes = rng.integers(0, tables, 2000)
    values = rng.integers(-40, 40, 2000) + np.where(rng.random(2000) < 0.01, 10**6, 0)
    return [a.tolist() for a in (values, indexes)] + [
        cdfs.tolist(),
        lengths.tolist(),
        offsets.tolist(),
    ]


def test_escaped_streams_decode_as_compressais_decoder_does():
    from compressai.ans import RansDecoder, RansEncoder

    rng = np.random.default_rng(2)
    for _ in range(10):
        values, indexes, cdfs, lengths, offsets = escaped_case(rng)
        data = RansEncoder().encode_with_indexes(values, indexes, cdfs, lengths, offsets)
        ours = BoundedRansCoder().decode_with_indexes(data, indexes, cdfs, lengths, offsets)
        assert ours == values
        assert ours == RansDecoder().decode_with_indexes(data, indexes, cdfs, lengths, offsets)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data + bytes(4),
        lambda data: data[:-4],
        lambda data: data[:8] + b"\xff" * (len(data) - 8),  # escapes that ask for ever more
        lambda data: b"\xff" * 64,
    ],
)
def test_an_escaped_stream_is_read_within_its_bounds_or_refused(tamper):
    """CompressAI's decoder reads as many 4-bit chunks as an escape asks for, past the end of
    the stream; the bounded decoder refuses such a stream, and any that is not canonical."""
    from compressai.ans import RansEncoder

    values, indexes, cdfs, lengths, offsets = escaped_case(np.random.default_rng(3))
    data = RansEncoder().encode_with_indexes(values, indexes, cdfs, lengths, offsets)
    with pytest.raises(ValueError, match="not the encoding|ends before|longer than any encoder"):
        BoundedRansCoder().decode_with_indexes(tamper(data), indexes, cdfs, lengths, offsets)
