"""Format stability: a committed `.ndc` file must keep decoding to the same symbols."""

import hashlib
import json
from pathlib import Path

import torch

from nodecode.bitstream.container import read_ndc
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.files import read_symbols

GOLDEN = Path(__file__).parents[1] / "data" / "golden"


def test_golden_file_decodes_bit_exactly():
    expected = json.loads((GOLDEN / "expected.json").read_text())
    codec = load_codec_checkpoint(GOLDEN / "codec.safetensors")
    assert codec.identity().hex() == expected["codec_id"]
    _, symbols = read_symbols(codec, GOLDEN / "coffee.ndc")
    assert list(symbols.shape) == expected["latent_shape"]
    assert hashlib.sha256(symbols.numpy().tobytes()).hexdigest() == expected["symbols_sha256"]


def test_golden_symbols_re_encode_to_the_same_bytes():
    codec = load_codec_checkpoint(GOLDEN / "codec.safetensors")
    header, payload = read_ndc(GOLDEN / "coffee.ndc")
    _, symbols = read_symbols(codec, GOLDEN / "coffee.ndc")
    assert codec.compress_symbols(symbols.unsqueeze(0)) == [payload]
    assert header.encode() == (GOLDEN / "coffee.ndc").read_bytes()[: len(header.encode())]
    assert codec.cdfs.dtype == torch.int32
