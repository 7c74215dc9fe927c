"""Compare entropy coders on what a context-coded 224² file asks of them (issue 14):
12,544 symbols over 6 centers, each under one of 26,912 tables, one CPU thread.

nodecode's coder (`bitstream/_rans.c`), CompressAI's (the same stream format, Python lists
in) and, where it is installed (`pip install constriction`; not a dependency), constriction's
ANS coder (another format; float tables, gathered per symbol as its decoder needs them).

.venv/bin/python scripts/compare_coders.py
"""

import numpy as np
import torch
from bench_entropy_decode import milliseconds  # this folder: python puts it on sys.path
from compressai.ans import RansDecoder

from nodecode.bitstream._rans import Decoder, encode
from nodecode.bitstream.rans import coder_tables, decode_into
from nodecode.bitstream.tables import quantized_cdfs

TABLES, CENTERS, SYMBOLS = 26_912, 6, 16 * 28 * 28


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(CENTERS, 0.5), size=TABLES)
    rows = rng.integers(0, TABLES, SYMBOLS).astype(np.int32)
    cumulative = probs[rows].cumsum(axis=1)
    symbols = (rng.random((SYMBOLS, 1)) > cumulative).sum(axis=1).clip(max=CENTERS - 1)
    symbols = symbols.astype(np.int32)
    cdfs = quantized_cdfs(torch.from_numpy(probs * 1e6))
    tables = coder_tables(cdfs)
    data = encode(symbols, rows, tables)

    def ours() -> np.ndarray:
        decoder = Decoder(data)
        out = decode_into(decoder, rows, tables)
        assert decoder.canonical()
        return out

    table_lists, lengths, offsets = cdfs.tolist(), [CENTERS + 2] * TABLES, [0] * TABLES

    def compressai() -> list[int]:
        return RansDecoder().decode_with_indexes(data, rows.tolist(), table_lists, lengths, offsets)

    assert np.array_equal(ours(), symbols) and compressai() == symbols.tolist()
    print(f"{SYMBOLS} symbols, {TABLES} tables of {CENTERS} centers, one thread")

    def row(label: str, ms: float, note: str = "") -> None:
        print(f"  {label:<38} {ms:7.2f} ms  {note}")

    row("nodecode decode, both checks", milliseconds(ours), f"{len(data)} B")
    row("nodecode encode", milliseconds(lambda: encode(symbols, rows, tables)))
    row("CompressAI decode (lists), unchecked", milliseconds(compressai, 5), "the same bytes")
    try:
        import constriction
    except ImportError:
        print("  constriction: not installed (pip install constriction)")
        return
    model = constriction.stream.model.Categorical(perfect=False)
    floats = probs.astype(np.float32)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols, model, floats[rows])
    theirs = coder.get_compressed()

    def constriction_decode() -> np.ndarray:
        return constriction.stream.stack.AnsCoder(theirs).decode(model, floats[rows])

    assert np.array_equal(constriction_decode(), symbols)
    ms = milliseconds(constriction_decode)
    row("constriction decode (rows gathered)", ms, f"{4 * len(theirs)} B")


if __name__ == "__main__":
    main()
