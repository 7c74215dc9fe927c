import numpy as np
from numpy.typing import NDArray

Int32Array = NDArray[np.int32]

class Tables:
    def __init__(self, cdfs: Int32Array, width: int) -> None: ...

class Decoder:
    def __init__(self, stream: bytes) -> None: ...
    def decode(self, rows: Int32Array, tables: Tables, out: Int32Array) -> None: ...
    def canonical(self) -> bool: ...

def encode(symbols: Int32Array, rows: Int32Array, tables: Tables) -> bytes: ...
def decode_escaped(
    stream: bytes,
    indexes: Int32Array,
    cdfs: Int32Array,
    width: int,
    lengths: Int32Array,
    offsets: Int32Array,
) -> bytes: ...
